# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import _, api, models

from odoo.addons.finance_integration_core.lib.errors import (
    FiBusinessError,
    FiTransientError,
)

from ..lib.money import decimal_to_minor, exponent, minor_to_decimal


class FiEndpoint(models.Model):
    _inherit = "fi.endpoint"

    def _fi_stripe_check_balance(self):
        """Stripe's balance (available + pending, per currency) against the
        clearing accounts (the endpoint's and the per-currency ones: their
        amount in each currency). Returns
        ``{currency: (stripe, odoo, difference)}`` as Decimals; a difference
        schedules an activity for the endpoint's responsible with the figures.

        The clearing account holds the gross of what Stripe has not paid out
        yet: Stripe's fees of those transactions are booked when their payout
        settles, so a difference of their amount is expected until then.
        """
        self.ensure_one()
        self._fi_stripe_check_accounts("stripe_clearing_account_id")
        balance = self._fi_stripe_api().get("/v1/balance")
        stripe_totals = {}
        for part in ("available", "pending"):
            for row in balance.get(part) or []:
                code = row["currency"].lower()
                stripe_totals[code] = stripe_totals.get(code, 0) + int(row["amount"])
        groups = self.env["account.move.line"]._read_group(
            [
                ("account_id", "in", self._fi_stripe_clearing_accounts().ids),
                ("parent_state", "=", "posted"),
                ("company_id", "=", self.company_id.id),
            ],
            ["currency_id"],
            ["amount_currency:sum"],
        )
        odoo_totals = {}
        for currency, amount in groups:
            code = currency.name.lower()
            rounded = round(amount, exponent(code))
            odoo_totals[code] = decimal_to_minor(f"{rounded:.{exponent(code)}f}", code)
        result = {}
        lines = []
        for code in sorted(set(stripe_totals) | set(odoo_totals)):
            theirs = minor_to_decimal(stripe_totals.get(code, 0), code)
            ours = minor_to_decimal(odoo_totals.get(code, 0), code)
            result[code.upper()] = (theirs, ours, theirs - ours)
            if theirs != ours:
                lines.append(
                    _(
                        "%(cur)s: Stripe %(theirs)s, clearing account %(ours)s, "
                        "difference %(diff)s",
                        cur=code.upper(),
                        theirs=theirs,
                        ours=ours,
                        diff=theirs - ours,
                    )
                )
        if lines:
            self.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=_("Stripe balance differs from the clearing account"),
                note="\n".join(lines),
                user_id=(self.responsible_id or self.env.user).id,
            )
        self.env["fi.audit"]._fi_event(
            "stripe.balance_checked",
            _("Stripe balance compared with the clearing account"),
            record=self,
            endpoint=self,
            facts={code: [str(v) for v in values] for code, values in result.items()},
        )
        return result

    @api.model
    def _cron_fi_stripe_check_balance(self):
        for endpoint in self.search(
            [("provider", "=", "stripe"), ("state", "=", "active")]
        ):
            try:
                with self.env.cr.savepoint():
                    endpoint._fi_stripe_check_balance()
            except (FiBusinessError, FiTransientError) as err:
                endpoint.message_post(body=_("Stripe balance check failed: %s", err))
