# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import UTC, datetime

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.finance_integration_core.lib.errors import (
    FiBusinessError,
    FiTransientError,
)

from ..lib.balance import Opening, balance_totals
from ..lib.money import decimal_to_minor, exponent, minor_to_decimal


class FiEndpoint(models.Model):
    _inherit = "fi.endpoint"

    stripe_opening_account_id = fields.Many2one(
        "account.account",
        "Opening Balance Account",
        help="Suspense account the first-run backfill books the opening balance "
        "of the clearing account against (Stripe's balance at the cut-over).",
    )
    stripe_opening_cutover = fields.Integer(
        "Opening Balance Cut-over",
        readonly=True,
        copy=False,
        help="Unix time of the cut-over whose Stripe balance was booked as the "
        "opening balance: balance transactions created before it are in that "
        "balance (net of their fees), their payout moves only their net off "
        "the clearing account.",
    )

    def _fi_stripe_balance_now(self):
        """``/v1/balance``: available + pending per currency, minor units."""
        balance = self._fi_stripe_api().get("/v1/balance")
        try:
            return balance_totals(balance)
        except ValueError as err:
            raise FiBusinessError(
                _("Stripe's /v1/balance: %s", err), "stripe_field"
            ) from None

    def _fi_stripe_opening_balance(self, since):
        """Stripe's balance at ``since`` (unix time) per currency: available +
        pending now, less the nets of the balance transactions created since
        (streamed). Returns ``[{currency, minor, amount (Decimal), now_minor,
        moved_minor, move}]``, ``move`` the opening entry already booked for
        the currency (or None)."""
        opening = Opening(self._fi_stripe_balance_now())
        params = {"created": {"gte": int(since)}}
        try:
            for txn in self._fi_stripe_api().iterate(
                "/v1/balance_transactions", params
            ):
                opening.add(txn)
        except ValueError as err:
            raise FiBusinessError(
                _("Stripe's /v1/balance_transactions: %s", err), "stripe_field"
            ) from None
        binding = self.env["fi.binding"]
        return [
            {
                "currency": code.upper(),
                "minor": minor,
                "amount": minor_to_decimal(minor, code),
                "now_minor": opening.now.get(code, 0),
                "moved_minor": opening.moved.get(code, 0),
                "move": binding.to_odoo(self, "opening_balance", code.upper()),
            }
            for code, minor in opening.totals().items()
        ]

    def _fi_stripe_book_opening(self, since, rows, correlation_id):
        """One posted opening entry per currency of ``rows``
        (``_fi_stripe_opening_balance``) not booked yet and not zero: the
        currency's clearing account against the opening balance account, at
        the cut-over date; bound per currency, so never booked twice."""
        self._fi_stripe_check_accounts(
            "stripe_settlement_journal_id",
            "stripe_clearing_account_id",
            "stripe_opening_account_id",
        )
        date = datetime.fromtimestamp(int(since), UTC).date()
        if not self.stripe_opening_cutover:
            self.sudo().stripe_opening_cutover = int(since)
        binding = self.env["fi.binding"]
        booked = self.env["account.move"]
        for row in rows:
            if row["move"] or not row["minor"]:
                continue
            code = row["currency"]
            try:
                currency = self._fi_stripe_currency(code)
            except FiBusinessError as err:
                raise UserError(str(err)) from None
            ref = _("Stripe opening balance %s", code)
            move = self._fi_stripe_entry(
                None,
                ref,
                date,
                currency,
                code.lower(),
                [
                    (self._fi_stripe_clearing(code).id, ref, row["minor"]),
                    (self.stripe_opening_account_id.id, ref, -row["minor"]),
                ],
            )
            move.fi_correlation_id = correlation_id
            binding.bind(self, "opening_balance", code, move)
            row["move"] = move
            booked |= move
            self.env["fi.audit"]._fi_event(
                "stripe.opening_balance",
                _(
                    "Stripe opening balance %(amount)s %(cur)s booked in %(move)s",
                    amount=row["amount"],
                    cur=code,
                    move=move.name,
                ),
                record=move,
                endpoint=self,
                correlation_id=correlation_id,
                facts={
                    "currency": code,
                    "amount": str(row["amount"]),
                    "amount_minor": row["minor"],
                    "balance_now_minor": row["now_minor"],
                    "moved_since_minor": row["moved_minor"],
                    "since": int(since),
                },
            )
        return booked

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
        stripe_totals = self._fi_stripe_balance_now()
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
