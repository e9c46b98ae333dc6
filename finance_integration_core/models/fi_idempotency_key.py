# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, fields, models


class FiIdempotencyKey(models.Model):
    """First message and outcome of one idempotency key.

    Unique in the database per endpoint and scope: two concurrent deliveries of
    one event cannot both pass, whatever worker receives them.
    """

    _name = "fi.idempotency.key"
    _description = "Finance Integration Idempotency Key"
    _order = "id desc"
    _rec_name = "key"

    endpoint_id = fields.Many2one(
        "fi.endpoint", required=True, ondelete="cascade", readonly=True
    )
    company_id = fields.Many2one(
        "res.company", required=True, readonly=True, index=True
    )
    scope = fields.Selection(
        [("webhook", "Inbound webhook"), ("outbound", "Outbound request")],
        required=True,
        readonly=True,
    )
    key = fields.Char(required=True, readonly=True)
    message_id = fields.Many2one("fi.message", readonly=True, ondelete="set null")
    outcome = fields.Char(readonly=True, help="State of the first message, once known.")
    duplicate_count = fields.Integer(
        readonly=True, help="Deliveries of this key refused as duplicates."
    )
    last_duplicate_at = fields.Datetime(readonly=True)
    expires_at = fields.Datetime(readonly=True, index=True)

    _sql_constraints = [
        (
            "key_unique",
            "unique(endpoint_id, scope, key)",
            "An idempotency key is used once per endpoint and scope.",
        ),
    ]

    @api.autovacuum
    def _gc_expired_keys(self):
        """Forget expired keys whose message no longer needs them."""
        self.env.cr.execute(
            "DELETE FROM fi_idempotency_key WHERE expires_at < now() at time zone 'UTC'"
        )
