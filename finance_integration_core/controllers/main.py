# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from werkzeug.exceptions import RequestEntityTooLarge

from odoo import http
from odoo.http import request

from .dispatcher import ROUTING_TYPE


class FiWebhookController(http.Controller):
    """Hands the raw body and headers to the endpoint; decides nothing itself."""

    @http.route(
        "/fi/webhook/<string:key>",
        type=ROUTING_TYPE,
        auth="none",
        methods=["POST"],
        csrf=False,
        save_session=False,
        readonly=False,
    )
    def fi_webhook(self, key, **_params):
        httprequest = request.httprequest

        def read_body(limit):
            # Werkzeug stops reading a chunked body (or one whose length lies)
            # at the maximum: a longer body is refused, never read whole. The
            # body is kept: Odoo replays the request after a serialization
            # failure (two deliveries of one event), and the replay reads it.
            httprequest.max_content_length = limit
            try:
                return httprequest.get_data()
            except RequestEntityTooLarge:
                return None

        status, answer = (
            request.env["fi.endpoint"]
            .sudo()
            ._fi_receive_webhook(
                key,
                httprequest.headers,
                read_body,
                httprequest.content_length,
                httprequest.remote_addr,
            )
        )
        return request.make_json_response(answer, status=status)
