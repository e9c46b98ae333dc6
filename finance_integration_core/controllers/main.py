# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import http
from odoo.http import request


class FiWebhookController(http.Controller):
    """Hands the raw body and headers to the endpoint; decides nothing itself."""

    @http.route(
        "/fi/webhook/<string:key>",
        type="http",
        auth="none",
        methods=["POST"],
        csrf=False,
        save_session=False,
        readonly=False,
    )
    def fi_webhook(self, key, **_params):
        httprequest = request.httprequest
        status, answer = (
            request.env["fi.endpoint"]
            .sudo()
            ._fi_receive_webhook(
                key,
                httprequest.headers,
                lambda _limit: httprequest.get_data(),
                httprequest.content_length,
                httprequest.remote_addr,
            )
        )
        return request.make_json_response(answer, status=status)
