# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, models

from .account_audit import note_touched


class FiAudit(models.AbstractModel):
    """Core's auditable-event call, turned into an entry of the chain."""

    _inherit = "fi.audit"

    @api.model
    def _fi_event(self, event_type, summary, **kwargs):
        return self.env["fi.audit.event"]._fi_append(event_type, summary, **kwargs)

    @api.model
    def _fi_touched(self, records, change="changed"):
        note_touched(records, change)
