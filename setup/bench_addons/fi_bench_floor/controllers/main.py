from odoo import http
from odoo.http import request


class FiBenchFloor(http.Controller):
    @http.route(
        "/fi/bench/floor",
        type="http",
        auth="none",
        methods=["POST"],
        csrf=False,
        save_session=False,
        readonly=False,
    )
    def floor(self, **_params):
        request.env.cr.execute(
            "INSERT INTO fi_bench_row (name) VALUES (%s)",
            (request.httprequest.get_data()[:64].decode("utf-8", "replace"),),
        )
        return request.make_json_response({"ok": True})
