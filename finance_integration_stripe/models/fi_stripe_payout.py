# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The payout register: one row per Stripe payout the connector saw, with
what Odoo did of it (settled, variance, failed). The period close and the
finance KPIs read it."""

from odoo import api, fields, models

from odoo.addons.finance_integration_core.models.fi_message_amount import BigInteger

from ..lib.money import minor_to_decimal

PAYOUT_STATES = [
    ("received", "Received, not settled"),
    ("variance", "Settlement Variance"),
    ("settled", "Settled"),
    ("failed", "Failed / Reversed"),
]


class FiStripePayout(models.Model):
    _name = "fi.stripe.payout"
    _description = "Stripe Payout"
    _order = "arrival_date desc, id desc"

    name = fields.Char("Payout", required=True, readonly=True, index=True)
    endpoint_id = fields.Many2one(
        "fi.endpoint", required=True, readonly=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one("res.company", required=True, readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    amount_minor = BigInteger(
        "Amount (minor units)", readonly=True, help="What Stripe paid out."
    )
    net_minor = BigInteger(
        "Net of Transactions (minor units)",
        readonly=True,
        help="Sum of the nets of the payout's balance transactions.",
    )
    variance_minor = BigInteger(
        "Variance (minor units)",
        readonly=True,
        help="Paid out minus the net of its balance transactions; not zero: "
        "the payout is not settled (a settlement variance exception is open).",
    )
    fx_difference_minor = BigInteger(
        "FX Difference (company minor units)",
        readonly=True,
        help="Booked minus settled amount of the converted transactions, in the "
        "company currency, as booked on the FX difference account.",
    )
    company_currency_id = fields.Many2one(related="company_id.currency_id")
    # what finance reads: the minor units above in their currency (stored, so
    # that lists sum and group them)
    amount = fields.Monetary(
        compute="_compute_amounts", store=True, help="What Stripe paid out."
    )
    net_amount = fields.Monetary(
        "Net of Transactions",
        compute="_compute_amounts",
        store=True,
        help="Sum of the nets of the payout's balance transactions.",
    )
    variance = fields.Monetary(
        compute="_compute_amounts",
        store=True,
        help="Paid out minus the net of its balance transactions; not zero: "
        "the payout is not settled (a settlement variance exception is open).",
    )
    fx_difference = fields.Monetary(
        "FX Difference",
        compute="_compute_amounts",
        store=True,
        currency_field="company_currency_id",
        help="Booked minus settled amount of the converted transactions, in the "
        "company currency.",
    )
    stripe_status = fields.Char("Stripe Status", readonly=True)
    arrival_date = fields.Date(readonly=True, index=True)
    state = fields.Selection(
        PAYOUT_STATES, required=True, default="received", readonly=True, index=True
    )
    move_id = fields.Many2one("account.move", "Settlement Entry", readonly=True)
    fi_message_id = fields.Many2one("fi.message", "Last Message", readonly=True)

    _sql_constraints = [
        (
            "payout_unique",
            "UNIQUE(endpoint_id, name)",
            "A Stripe payout is registered once per endpoint.",
        ),
    ]

    @api.depends(
        "amount_minor",
        "net_minor",
        "variance_minor",
        "fx_difference_minor",
        "currency_id",
        "company_id",
    )
    def _compute_amounts(self):
        for payout in self:
            code = payout.currency_id.name
            company_code = payout.company_id.currency_id.name
            for name, minor, currency in (
                ("amount", payout.amount_minor, code),
                ("net_amount", payout.net_minor, code),
                ("variance", payout.variance_minor, code),
                ("fx_difference", payout.fx_difference_minor, company_code),
            ):
                # Odoo's monetary fields are floats: assigned, never summed here
                payout[name] = (
                    float(minor_to_decimal(int(minor or 0), currency))
                    if currency
                    else 0.0
                )

    @api.model
    def _fi_note(self, endpoint, payout_id, vals):
        """Create or update the row of ``payout_id`` (superuser)."""
        Payout = self.sudo()
        row = Payout.search(
            [("endpoint_id", "=", endpoint.id), ("name", "=", payout_id)], limit=1
        )
        if row:
            row.write(vals)
            return row
        return Payout.create(
            dict(
                vals,
                name=payout_id,
                endpoint_id=endpoint.id,
                company_id=endpoint.company_id.id,
            )
        )


class FiMessage(models.Model):
    _inherit = "fi.message"

    def _fi_process(self):
        """What the Stripe payout handler noted survives the savepoint of a
        handler that failed or ignored the message (a variance, a payout not
        reconciled yet): noted again after the handler."""
        return self._fi_stripe_noting("_fi_process")

    def _fi_process_group(self):
        return self._fi_stripe_noting("_fi_process_group")

    def _fi_stripe_noting(self, method):
        """Run core's processing ``method`` collecting the payout notes, then
        write them (outside the handler's savepoint)."""
        notes = []
        result = getattr(
            super(FiMessage, self.with_context(fi_stripe_notes=notes)), method
        )()
        for endpoint, payout_id, vals in notes:
            self.env["fi.stripe.payout"]._fi_note(endpoint, payout_id, vals)
        return result
