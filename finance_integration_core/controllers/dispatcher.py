# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""A routing type for webhooks: Odoo's ``http`` dispatcher reads form bodies
(``application/x-www-form-urlencoded``, multipart) whole before the route runs,
which would hand a form-encoded webhook to the endpoint already consumed and
without a size limit. This one passes only the URL arguments: the raw body is
read by the endpoint, at most up to its limit."""

from odoo import http

ROUTING_TYPE = "fi_webhook"


class FiWebhookDispatcher(http.HttpDispatcher):
    routing_type = ROUTING_TYPE

    @classmethod
    def is_compatible_with(cls, request):
        return True

    def dispatch(self, endpoint, args):
        self.request.params = dict(args)
        if self.request.db:
            return self.request.registry["ir.http"]._dispatch(endpoint)
        return endpoint(**self.request.params)
