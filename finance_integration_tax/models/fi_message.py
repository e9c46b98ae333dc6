# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import models

from .fi_endpoint import TAX_FLOWS


class FiMessage(models.Model):
    _inherit = "fi.message"

    def _fi_send_now(self, document):
        """Outbound messages of the tax connector run its own calls (AvaTax
        paths per document code, the clearance contract) instead of a plain
        POST to the flow path."""
        if self.endpoint_id.provider not in TAX_FLOWS:
            return super()._fi_send_now(document)
        return self.endpoint_id._fi_tax_process(self, document)

    def _fi_handle_failure(self, err):
        """A handler may ask for an escalation along with its transient error
        (``err.fi_escalate = (reason, detail, category)``): the exception is
        opened here, outside the handler's rolled-back savepoint, while the
        message keeps being retried."""
        result = super()._fi_handle_failure(err)
        escalate = getattr(err, "fi_escalate", None)
        if escalate:
            self._fi_open_exception(*escalate)
        return result
