# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, fields, models


class FiSecurityEvent(models.Model):
    """A refused webhook: who tried, when, on which endpoint, and why."""

    _name = "fi.security.event"
    _description = "Finance Integration Security Event"
    _order = "id desc"
    _rec_name = "reason"

    endpoint_id = fields.Many2one(
        "fi.endpoint", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(
        related="endpoint_id.company_id", store=True, index=True, precompute=True
    )
    reason = fields.Selection(
        [
            ("no_secret", "No secret configured"),
            ("missing_signature", "Signature missing"),
            ("bad_signature", "Signature does not match"),
            ("missing_timestamp", "Timestamp missing"),
            ("bad_timestamp", "Timestamp unreadable"),
            ("stale_timestamp", "Timestamp too old or in the future"),
            ("no_verifier", "Provider cannot verify"),
            ("source_refused", "Source network not allowed"),
        ],
        required=True,
        readonly=True,
    )
    detail = fields.Char(readonly=True)
    remote_addr = fields.Char("Remote Address", readonly=True)
    create_date = fields.Datetime("Time", readonly=True)

    @api.model
    def _fi_reasons(self):
        """The reason codes this database knows (core's and the providers')."""
        return {code for code, _label in self._fields["reason"].selection}
