# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models, tools


class FiIdempotencyKey(models.Model):
    """Idempotency keys: per endpoint and scope, the first message and outcome.

    The key lives on the message row itself, under a unique index on
    (endpoint, direction, key): two concurrent deliveries of one event cannot
    both be stored, whatever worker receives them, and intake costs a single
    INSERT. This model is the read-only register of those keys.
    """

    _name = "fi.idempotency.key"
    _description = "Finance Integration Idempotency Key"
    _auto = False
    _order = "id desc"
    _rec_name = "key"

    endpoint_id = fields.Many2one("fi.endpoint", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    scope = fields.Selection(
        [("webhook", "Inbound webhook"), ("outbound", "Outbound request")],
        readonly=True,
    )
    key = fields.Char(readonly=True)
    message_id = fields.Many2one("fi.message", "First Message", readonly=True)
    outcome = fields.Selection(related="message_id.state", string="Outcome")
    duplicate_count = fields.Integer(
        readonly=True, help="Deliveries of this key refused as duplicates."
    )
    last_duplicate_at = fields.Datetime(readonly=True)
    create_date = fields.Datetime("First Seen", readonly=True)

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            """
            CREATE VIEW fi_idempotency_key AS
            SELECT m.id, m.endpoint_id, m.company_id,
                   CASE WHEN m.direction = 'in' THEN 'webhook' ELSE 'outbound' END
                       AS scope,
                   m.idempotency_key AS key, m.id AS message_id,
                   COALESCE(m.duplicate_count, 0) AS duplicate_count,
                   m.last_duplicate_at, m.create_date,
                   m.create_uid, m.write_uid, m.write_date
              FROM fi_message m
             WHERE m.idempotency_key IS NOT NULL
            """
        )
