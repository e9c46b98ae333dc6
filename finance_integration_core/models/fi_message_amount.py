# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The amount a message carries, as a connector declares it: what the finance
KPIs count completeness in amounts per currency with."""

from odoo import fields, models

from .fi_message import LogReference


class BigInteger(fields.Integer):
    """An Integer stored as a bigint: minor units of a large payout exceed the
    32 bits of an Odoo Integer column (Python reads both as an ``int``)."""

    _column_type = ("int8", "int8")


class FiMessage(models.Model):
    _inherit = "fi.message"

    amount_minor = BigInteger(
        "Amount (minor units)",
        readonly=True,
        help="The amount of the exchanged object in the currency's minor units "
        "(cents), as the connector declared it; empty when it has none.",
    )
    currency_id = LogReference("res.currency", readonly=True, ondelete="restrict")

    def init(self):
        super().init()
        # only rows with an amount are indexed: intake inserts stay as cheap
        # (the currency is a LogReference: no foreign key checked per insert)
        self.env.cr.execute(
            "CREATE INDEX IF NOT EXISTS fi_message_amount_date_idx ON fi_message "
            "(create_date) WHERE amount_minor IS NOT NULL"
        )

    def _fi_set_amount(self, amount_minor, currency):
        """Connector helper: declare the amount of this message (an ``int`` of
        minor units, never a float) in ``currency`` (a ``res.currency``)."""
        self.ensure_one()
        if not isinstance(amount_minor, int) or isinstance(amount_minor, bool):
            raise TypeError(
                f"message {self.id}: amount_minor must be an int of minor units, "
                f"not {type(amount_minor).__name__}"
            )
        self.sudo().write({"amount_minor": amount_minor, "currency_id": currency.id})
