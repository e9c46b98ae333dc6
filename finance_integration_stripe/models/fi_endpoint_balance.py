# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import time
from datetime import UTC, datetime

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.finance_integration_core.lib.errors import (
    FiBusinessError,
    FiTransientError,
)

from ..lib import const
from ..lib.balance import Opening, Unsettled, balance_totals
from ..lib.money import minor_to_decimal
from ..lib.settlement import PAYOUT_TYPES, category_of


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

    stripe_balance_watermark = fields.Integer(
        "Balance Check Watermark",
        readonly=True,
        copy=False,
        help="Unix time of the oldest balance transaction that no payout "
        "settled in Odoo held at the last balance check: the next check lists "
        "the balance transactions from there.",
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

    def _fi_stripe_balance_start(self):
        """Unix time from which balance transactions may not be settled in
        Odoo yet: the last check's watermark, else the opening balance's
        cut-over, else the first Stripe message of the endpoint (then Stripe's
        balance before it is not in the clearing account)."""
        if self.stripe_balance_watermark:
            return max(self.stripe_balance_watermark, self.stripe_opening_cutover)
        if self.stripe_opening_cutover:
            return self.stripe_opening_cutover
        first = self.env["fi.message"].search(
            [("endpoint_id", "=", self.id)], order="create_date, id", limit=1
        )
        when = first.create_date or fields.Datetime.now()
        return int(when.replace(tzinfo=UTC).timestamp())

    def _fi_stripe_settled_payouts(self, since):
        """Ids of the payouts created since ``since`` that Odoo settled (and
        that did not fail since), and the ids of their balance transactions
        created since ``since`` (older ones are before the watermark)."""
        binding = self.env["fi.binding"]
        api = self._fi_stripe_api()
        payouts, txns = set(), set()
        for payout in api.iterate("/v1/payouts", {"created": {"gte": since}}):
            if not binding.to_odoo(self, "payout", payout["id"]) or binding.to_odoo(
                self, "payout_failure", payout["id"]
            ):
                continue
            payouts.add(payout["id"])
            for txn in api.iterate(
                "/v1/balance_transactions", {"payout": payout["id"]}
            ):
                if int(txn.get("created") or 0) >= since:
                    txns.add(txn["id"])
        return payouts, txns

    def _fi_stripe_unsettled(self, since, until):
        """``Unsettled``: the balance transactions created from ``since`` to
        before ``until`` that no payout settled in Odoo holds, each folded in
        as the clearing accounts hold it (the rule of the settlement: its
        category's account in the value map)."""
        binding = self.env["fi.binding"]
        lookup = self.env["fi.value.map"].fi_lookup
        clearings = self._fi_stripe_clearing_accounts()
        payouts, settled = self._fi_stripe_settled_payouts(since)
        gap = Unsettled()
        held = {}
        params = {"created": {"gte": since, "lt": until}}
        for txn in self._fi_stripe_api().iterate("/v1/balance_transactions", params):
            source = txn.get("source")
            if isinstance(source, dict):
                source = source.get("id")
            if txn.get("type") in PAYOUT_TYPES:
                if source not in payouts:
                    gap.add_payout(txn)
                continue
            if txn["id"] in settled:
                continue
            category = category_of(txn)
            if category in const.DISPUTE_CATEGORIES and binding.to_odoo(
                self, "dispute_txn", txn["id"]
            ):
                continue  # the dispute entry holds its net already
            if category not in held:
                try:
                    held[category] = lookup(
                        const.BALANCE_CATEGORY_MAP, category, endpoint=self
                    )
                except FiBusinessError:
                    held[category] = self.env["account.account"]
            account = held[category]
            if not account or account not in clearings:
                gap.add_other(txn)
                continue
            booked = None
            if txn.get("exchange_rate"):
                _account, booked = self._fi_stripe_booked(txn, account)
            gap.add_held(txn, booked[:2] if booked else None)
        return gap

    def _fi_stripe_clearing_totals(self):
        """The clearing accounts' posted balance per currency, minor units."""
        groups = self.env["account.move.line"]._read_group(
            [
                ("account_id", "in", self._fi_stripe_clearing_accounts().ids),
                ("parent_state", "=", "posted"),
                ("company_id", "=", self.company_id.id),
            ],
            ["currency_id"],
            ["amount_currency:sum"],
        )
        return {
            currency.name.lower(): self._fi_stripe_to_minor(amount, currency.name)
            for currency, amount in groups
        }

    def _fi_stripe_check_balance(self, until=None):
        """Stripe's balance (available + pending, per currency) against the
        clearing accounts (the endpoint's and the per-currency ones: their
        amount in each currency), net of what is not paid out yet
        (``Unsettled``: fees of payments Odoo holds gross, payouts Odoo has
        not settled, transactions Odoo books at their payout, converted
        ones), ``until`` the time of Stripe's balance (now). Returns
        ``{currency: {stripe, odoo, fees, payouts, other,
        converted, expected, difference}}`` as Decimals; a difference opens
        (or updates) one finance exception, resolved by the first check that
        finds none."""
        self.ensure_one()
        self._fi_stripe_check_accounts("stripe_clearing_account_id")
        since = self._fi_stripe_balance_start()
        # the balance transactions Stripe's balance holds: created before it
        stripe_totals = self._fi_stripe_balance_now()
        until = until or int(time.time())
        try:
            gap = self._fi_stripe_unsettled(since, until)
        except ValueError as err:
            raise FiBusinessError(
                _("Stripe's /v1/balance_transactions: %s", err), "stripe_field"
            ) from None
        odoo_totals = self._fi_stripe_clearing_totals()
        expected = gap.expected()
        result = {}
        lines = []
        for code in sorted(set(stripe_totals) | set(odoo_totals) | set(expected)):

            def money(minor, code=code):
                return minor_to_decimal(minor, code)

            theirs, ours = stripe_totals.get(code, 0), odoo_totals.get(code, 0)
            difference = theirs - ours - expected.get(code, 0)
            row = {part: money(v) for part, v in gap.parts(code).items()}
            row.update(
                stripe=money(theirs),
                odoo=money(ours),
                expected=money(expected.get(code, 0)),
                difference=money(difference),
            )
            result[code.upper()] = row
            if difference:
                lines.append(
                    _(
                        "%(cur)s: Stripe %(theirs)s, clearing account %(ours)s; "
                        "not paid out yet: fees %(fees)s, payouts Odoo has not "
                        "settled %(payouts)s, transactions booked at their payout "
                        "%(other)s, converted %(converted)s; difference %(diff)s",
                        cur=code.upper(),
                        theirs=row["stripe"],
                        ours=row["odoo"],
                        fees=row["fees"],
                        payouts=row["payouts"],
                        other=row["other"],
                        converted=row["converted"],
                        diff=row["difference"],
                    )
                )
        if lines and not self.stripe_opening_cutover:
            lines.append(
                _(
                    "No opening balance is booked: what Stripe held before the "
                    "connector started is not in the clearing account (run the "
                    "first-run backfill)."
                )
            )
        detail = "\n".join(lines)
        case = self._fi_stripe_case(
            "balance_check",
            "balance",
            "stripe_balance",
            detail
            and _("Stripe balance differs from the clearing account:\n%s", detail),
        )
        self.sudo().stripe_balance_watermark = (
            gap.oldest if gap.oldest is not None else max(since, gap.newest or 0)
        )
        self.env["fi.audit"]._fi_event(
            "stripe.balance_checked",
            _("Stripe balance compared with the clearing account"),
            record=self,
            endpoint=self,
            facts={
                "since": since,
                "unsettled_transactions": gap.count,
                "exception": case.id if lines else None,
                "currencies": {
                    code: {key: str(value) for key, value in row.items()}
                    for code, row in result.items()
                },
            },
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
