# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import http
from odoo.http import request


class FiBenchFloor(http.Controller):
    """The floor of any webhook inside Odoo: Odoo's HTTP stack, one INSERT, 200.

    auth="none" routes default to a read-only cursor in Odoo 18 (a write is
    then retried on a read-write one): readonly=False, like the intake route.
    """

    @http.route(
        "/fi/bench/floor",
        type="http",
        auth="none",
        methods=["POST"],
        csrf=False,
        save_session=False,
        readonly=False,
    )
    def fi_bench_floor(self, **_params):
        request.env.cr.execute(
            "INSERT INTO fi_bench_row (name) VALUES (%s)",
            (request.httprequest.get_data()[:64].decode("utf-8", "replace"),),
        )
        return request.make_json_response({"ok": True})
