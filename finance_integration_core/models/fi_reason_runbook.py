# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, fields, models


class FiReasonRunbook(models.Model):
    """What to do about an exception of one reason code: shown on the item."""

    _name = "fi.reason.runbook"
    _description = "Finance Integration Runbook per Reason Code"
    _order = "reason_code, company_id"
    _rec_name = "reason_code"

    reason_code = fields.Selection(
        selection="_selection_reason_code", required=True, index=True
    )
    company_id = fields.Many2one(
        "res.company",
        index=True,
        help="Empty: for every company without a runbook of its own.",
    )
    instructions = fields.Text(
        required=True, help="What to check, in which order, and whom to ask."
    )
    approver_id = fields.Many2one(
        "res.users",
        "Approves the Manual Path",
        help="Who decides when the item is worked by hand (posted manually, "
        "ignored) instead of by a replay.",
    )

    _sql_constraints = [
        (
            "reason_company_unique",
            "unique NULLS NOT DISTINCT (reason_code, company_id)",
            "A reason code has one runbook per company.",
        ),
    ]

    @api.model
    def _selection_reason_code(self):
        return self.env["fi.exception"]._fields["reason_code"].selection

    @api.model
    def _fi_for(self, reason_codes):
        """``{(reason_code, company_id or False): runbook}`` of these codes."""
        runbooks = self.search([("reason_code", "in", list(reason_codes))])
        return {(rb.reason_code, rb.company_id.id or False): rb for rb in runbooks}
