# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class FiStripeCurrency(models.Model):
    """Per-currency settings of a Stripe endpoint: the journal payments and
    refunds in that currency are posted on, and the clearing account that
    holds them until their payout (compared with Stripe's balance in that
    currency). A currency without a row uses the endpoint's own."""

    _name = "fi.stripe.currency"
    _description = "Stripe Currency Settings"
    _order = "endpoint_id, currency_id"

    endpoint_id = fields.Many2one(
        "fi.endpoint", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="endpoint_id.company_id", store=True)
    currency_id = fields.Many2one("res.currency", required=True)
    journal_id = fields.Many2one(
        "account.journal",
        "Journal",
        domain="[('type', 'in', ('bank', 'cash')), ('company_id', '=', company_id)]",
    )
    clearing_account_id = fields.Many2one("account.account", "Clearing Account")

    _sql_constraints = [
        (
            "currency_unique",
            "unique(endpoint_id, currency_id)",
            "One settings row per currency and endpoint.",
        )
    ]

    @api.constrains("journal_id", "currency_id")
    def _check_journal_currency(self):
        for row in self:
            journal_currency = row.journal_id.currency_id
            if journal_currency and journal_currency != row.currency_id:
                raise ValidationError(
                    _(
                        "Stripe %(cur)s settings of %(ep)s: journal %(journal)s is "
                        "in %(jcur)s.",
                        cur=row.currency_id.name,
                        ep=row.endpoint_id.name,
                        journal=row.journal_id.name,
                        jcur=journal_currency.name,
                    )
                )


class FiEndpoint(models.Model):
    _inherit = "fi.endpoint"

    stripe_currency_ids = fields.One2many(
        "fi.stripe.currency", "endpoint_id", "Per-currency Settings"
    )

    def _fi_stripe_currency_row(self, currency):
        code = currency if isinstance(currency, str) else currency.name
        return self.stripe_currency_ids.filtered(
            lambda row: row.currency_id.name == (code or "").upper()
        )[:1]

    def _fi_stripe_journal(self, currency):
        """The journal of Stripe payments in ``currency``."""
        return self._fi_stripe_currency_row(currency).journal_id or (
            self.stripe_journal_id
        )

    def _fi_stripe_clearing(self, currency):
        """The clearing account of Stripe money in ``currency``."""
        return self._fi_stripe_currency_row(currency).clearing_account_id or (
            self.stripe_clearing_account_id
        )

    def _fi_stripe_clearing_accounts(self):
        return self.stripe_clearing_account_id | self.stripe_currency_ids.mapped(
            "clearing_account_id"
        )
