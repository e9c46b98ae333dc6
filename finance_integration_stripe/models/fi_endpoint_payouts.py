# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import UTC, datetime
from decimal import Decimal

from odoo import Command, _, models

from odoo.addons.finance_integration_core.lib.errors import (
    FiBusinessError,
    FiIgnored,
)

from ..lib import const
from ..lib.money import (
    minor_to_decimal,
    odoo_amounts_to_minor,
)
from ..lib.settlement import Settlement, SettlementError, category_of, fx_difference


class FiEndpoint(models.Model):
    _inherit = "fi.endpoint"

    def _fi_stripe_on_payout(self, message, document, obj):
        binding = self.env["fi.binding"]
        payout = self._fi_stripe_fetch("payout", obj["id"])
        self._fi_stripe_required(
            payout, "status", "amount", "currency", "automatic", "reconciliation_status"
        )
        settled = binding.to_odoo(self, "payout", payout["id"])
        self._fi_stripe_note_payout(message, payout)
        if payout["status"] in ("failed", "canceled"):
            if not settled:
                raise FiIgnored(
                    _(
                        "Payout %(po)s is %(status)s and was never settled in Odoo: "
                        "nothing to reverse.",
                        po=payout["id"],
                        status=payout["status"],
                    )
                )
            reversal = binding.to_odoo(self, "payout_failure", payout["id"])
            if reversal:
                return reversal
            reversal = settled._reverse_moves(
                [
                    {
                        "ref": _(
                            "Failed Stripe payout %(po)s: %(why)s",
                            po=payout["id"],
                            why=payout.get("failure_code") or payout["status"],
                        ),
                        "date": settled.date,
                    }
                ]
            )
            reversal.action_post()
            binding.bind(self, "payout_failure", payout["id"], reversal, message)
            # its transactions are back in the clearing account, however old:
            # the next balance check lists them again from the start
            self.sudo().stripe_balance_watermark = 0
            self._fi_stripe_note_payout(message, payout, state="failed")
            self._fi_stripe_audit(
                "stripe.payout_reversed",
                _("Stripe payout %s failed: settlement reversed", payout["id"]),
                reversal,
                message,
                {"payout": payout["id"], "failure_code": payout.get("failure_code")},
            )
            return reversal
        if settled:
            return settled
        if payout["reconciliation_status"] != "completed":
            raise FiIgnored(
                _(
                    "Payout %(po)s is %(status)s but Stripe has not completed its "
                    "reconciliation: it settles on payout.reconciliation_completed.",
                    po=payout["id"],
                    status=payout["status"],
                )
            )
        if not payout["automatic"]:
            raise FiBusinessError(
                _(
                    "Payout %s is a manual payout: Stripe cannot list its balance "
                    "transactions. Settle it by hand against the clearing account.",
                    payout["id"],
                ),
                "stripe_manual_payout",
            )
        return self._fi_stripe_settle_payout(message, payout)

    def _fi_stripe_settle_payout(self, message, payout):
        self._fi_stripe_check_accounts(
            "stripe_settlement_journal_id",
            "stripe_transit_account_id",
            "stripe_fee_account_id",
        )
        settlement = Settlement(payout["id"], payout["currency"])
        binding = self.env["fi.binding"]
        clearing = self._fi_stripe_clearing(payout["currency"])
        default_clearing = self.stripe_clearing_account_id
        lookup = self.env["fi.value.map"].fi_lookup
        accounts = {}
        api = self._fi_stripe_api()
        stream = api.iterate("/v1/balance_transactions", {"payout": payout["id"]})
        cutover = self.stripe_opening_cutover
        try:
            for txn in stream:
                if settlement.is_payout_itself(txn):
                    continue
                if cutover and int(txn.get("created") or 0) < cutover:
                    # in the opening balance, net of its fees: only its net
                    # moves from the clearing account to the payout
                    settlement.add(txn, clearing.id, prebooked=True)
                    continue
                category = category_of(txn)
                if category in const.DISPUTE_CATEGORIES and binding.to_odoo(
                    self, "dispute_txn", txn["id"]
                ):
                    # the dispute flow booked it against the clearing account
                    settlement.add(txn, clearing.id, prebooked=True)
                    continue
                account = accounts.get(category)
                if account is None:
                    account = lookup(
                        const.BALANCE_CATEGORY_MAP, category, endpoint=self
                    )
                    if account == default_clearing:
                        account = clearing  # the payout currency's own
                    accounts[category] = account
                key, booked = account.id, None
                if txn.get("exchange_rate"):
                    booked_account, booked = self._fi_stripe_booked(txn, account)
                    key = booked_account.id if booked else key
                settlement.add(txn, key, booked=booked)
        except SettlementError as err:
            raise FiBusinessError(
                _("Payout %(po)s: %(err)s", po=payout["id"], err=err),
                "stripe_settlement",
            ) from None
        currency = self._fi_stripe_currency(payout["currency"])
        code = payout["currency"]
        variance = settlement.variance(payout["amount"])
        self._fi_stripe_note_payout(
            message,
            payout,
            state="variance" if variance else "received",
            net_minor=settlement.net_total,
            variance_minor=variance,
        )
        if variance:
            raise FiBusinessError(
                _(
                    "Settlement variance on payout %(po)s: Stripe paid out %(paid)s "
                    "%(cur)s, its %(n)s balance transactions net to %(net)s %(cur)s "
                    "(difference %(diff)s %(cur)s).",
                    po=payout["id"],
                    paid=minor_to_decimal(payout["amount"], code),
                    cur=currency.name,
                    n=settlement.count,
                    net=minor_to_decimal(settlement.net_total, code),
                    diff=minor_to_decimal(variance, code),
                ),
                "settlement_variance",
            )
        date = datetime.fromtimestamp(
            payout.get("arrival_date") or payout.get("created") or 0, UTC
        ).date()
        label = _("Stripe payout %s", payout["id"])
        rows = []
        for (kind, key), total in sorted(
            settlement.totals.items(), key=lambda item: (item[0][0], str(item[0][1]))
        ):
            if kind == "account":
                account_id, name = key, _("%(label)s: balance", label=label)
            else:
                field = const.FEE_ACCOUNT_FIELDS.get(key, "stripe_fee_account_id")
                account_id = self[field].id
                name = _("%(label)s: %(kind)s fees", label=label, kind=key)
            rows.append((account_id, name, total))
        rows.append((self.stripe_transit_account_id.id, label, settlement.net_total))
        foreign, fx_minor = self._fi_stripe_fx_rows(settlement, currency, date, label)
        move = self._fi_stripe_entry(
            message, payout["id"], date, currency, code, rows, foreign, fx_minor
        )
        self.env["fi.binding"].bind(self, "payout", payout["id"], move, message)
        self._fi_stripe_note_payout(
            message,
            payout,
            state="settled",
            move_id=move.id,
            fx_difference_minor=fx_minor,
        )
        self._fi_stripe_audit(
            "stripe.payout_settled",
            _(
                "Stripe payout %(po)s settled in %(move)s",
                po=payout["id"],
                move=move.name,
            ),
            move,
            message,
            {
                "payout": payout["id"],
                "amount": str(minor_to_decimal(payout["amount"], code)),
                "currency": currency.name,
                "transactions": settlement.count,
                "fx_transactions": settlement.fx_count,
                "fx_difference_minor": fx_minor,
            },
        )
        return move

    def _fi_stripe_register_payout(self, payout, report, dry_run=False):
        """A payout listed by the backfill that the payout register lacks
        (settled before the register existed): its row, with Stripe's status
        and the settlement entry that carries its id (bound to it if it was
        not, so that its event never settles it a second time). Noted in
        ``report["registered"]`` (payout id -> state); nothing is stored on a
        dry run. Returns the settlement entry found, or None."""
        known = (
            self.env["fi.stripe.payout"]
            .sudo()
            .search_count(
                [("endpoint_id", "=", self.id), ("name", "=", payout["id"])], limit=1
            )
        )
        binding = self.env["fi.binding"]
        move = binding.to_odoo(self, "payout", payout["id"])
        if known:
            return move
        if not move and self.stripe_transit_account_id:
            move = (
                self.env["account.move.line"]
                .sudo()
                .search(
                    [
                        ("fi_stripe_ref", "=", payout["id"]),
                        ("account_id", "=", self.stripe_transit_account_id.id),
                        ("company_id", "=", self.company_id.id),
                        ("parent_state", "=", "posted"),
                    ],
                    limit=1,
                )
                .move_id
            ) or None
            if move and not dry_run:
                binding.bind(self, "payout", payout["id"], move)
        reversed_ = binding.to_odoo(self, "payout_failure", payout["id"])
        if payout.get("status") in ("failed", "canceled") and (reversed_ or not move):
            state = "failed"
        else:
            state = "settled" if move else "received"
        report["registered"][payout["id"]] = state
        if not dry_run:
            vals = {"state": state, "move_id": move.id if move else False}
            if move:
                vals.update(
                    net_minor=int(payout["amount"]),
                    variance_minor=0,
                    fx_difference_minor=self._fi_stripe_booked_fx_minor(move),
                )
            self._fi_stripe_note_payout(None, payout, **vals)
            self._fi_stripe_audit(
                "stripe.payout_registered",
                _(
                    "Stripe payout %(po)s registered as %(state)s",
                    po=payout["id"],
                    state=state,
                ),
                move or self,
                None,
                {
                    "payout": payout["id"],
                    "state": state,
                    "stripe_status": payout.get("status"),
                    "move": move.name if move else None,
                },
            )
        return move

    def _fi_stripe_booked_fx_minor(self, move):
        """The FX difference a settlement entry booked, in company minor
        units, debit positive (as ``_fi_stripe_entry`` books ``fx_minor``):
        what a payout registered after its settlement reports."""
        account = self.stripe_fx_account_id
        if not account:
            return 0
        return odoo_amounts_to_minor(
            [line.balance for line in move.line_ids if line.account_id == account],
            self.company_id.currency_id.name,
        )

    def _fi_stripe_note_payout(self, message, payout, **vals):
        """Register what Odoo did of ``payout`` (``fi.stripe.payout``), noted
        again after the handler when it fails or ignores the message."""
        vals.update(
            stripe_status=payout["status"],
            amount_minor=int(payout["amount"]),
            currency_id=self.env["res.currency"]
            .with_context(active_test=False)
            .search([("name", "=", payout["currency"].upper())], limit=1)
            .id,
            arrival_date=datetime.fromtimestamp(
                payout.get("arrival_date") or payout.get("created") or 0, UTC
            ).date(),
            fi_message_id=message.id if message else False,
        )
        Payout = self.env["fi.stripe.payout"]
        row = Payout.sudo().search(
            [("endpoint_id", "=", self.id), ("name", "=", payout["id"])], limit=1
        )
        if row.state in ("settled", "failed") and "state" not in vals:
            vals["state"] = row.state  # a late event never unsettles it
        Payout._fi_note(self, payout["id"], vals)
        notes = self.env.context.get("fi_stripe_notes")
        if notes is not None:
            notes.append((self, payout["id"], vals))

    def _fi_stripe_booked(self, txn, account):
        """How Odoo booked the source of a balance transaction Stripe
        converted: ``(account, (currency, amount_minor, company_minor))``, the
        line of the payment or refund on its clearing account (debit
        positive), or ``(None, None)`` when this connector did not book it on
        ``account`` or a clearing account (then it settles at Stripe's
        amount)."""
        binding = self.env["fi.binding"]
        source = txn.get("source")
        if isinstance(source, dict):
            source = source.get("id")
        if not source:
            return None, None
        record = binding.to_odoo(self, "refund", source)
        if not record and source.startswith(("ch_", "py_")):
            intent_id = self._fi_stripe_fetch("charge", source).get("payment_intent")
            if intent_id:
                record = binding.to_odoo(self, "payment_intent", intent_id)
        if not record or record._name != "account.payment":
            return None, None
        accounts = account | self._fi_stripe_clearing_accounts()
        lines = record.move_id.line_ids.filtered(
            lambda line: line.account_id in accounts
        )
        if len(lines) != 1:
            return None, None
        code = lines.currency_id.name.lower()
        company_code = self.company_id.currency_id.name.lower()
        return lines.account_id, (
            code,
            self._fi_stripe_to_minor(lines.amount_currency, code),
            self._fi_stripe_to_minor(lines.balance, company_code),
        )

    @staticmethod
    def _fi_stripe_to_minor(value, code):
        """Minor units of an Odoo amount (a float rounded to the currency)."""
        return odoo_amounts_to_minor([value], code)

    def _fi_stripe_fx_rows(self, settlement, currency, date, label):
        """The rows of the converted transactions (off their account in the
        currency and at the amount Odoo booked) and the FX difference in
        company minor units: booked minus what Stripe settled (``exchange_rate``
        applied by Stripe, the payout's amounts)."""
        if not settlement.foreign:
            return [], 0
        self._fi_stripe_check_accounts("stripe_fx_account_id")
        company = self.company_id
        rate = None
        if currency != company.currency_id:
            rate = Decimal(
                str(
                    currency._get_conversion_rate(
                        currency, company.currency_id, company, date
                    )
                )
            )
        fx_minor = fx_difference(settlement, company.currency_id.name, rate)
        foreign = [
            (
                account_id,
                _("%(label)s: %(cur)s at the booked rate", label=label, cur=code),
                self._fi_stripe_currency(code),
                amount_minor,
                company_minor,
            )
            for (account_id, code), (amount_minor, company_minor) in sorted(
                settlement.foreign.items()
            )
        ]
        return foreign, fx_minor

    def _fi_stripe_entry(
        self, message, ref, date, currency, code, rows, foreign=(), fx_minor=0
    ):
        """A posted entry of ``rows`` (account id, label, minor amount:
        positive debit) in ``currency``, of ``foreign`` rows (account id,
        label, currency, minor amount, company minor amount: booked as they
        were in Odoo) and of the FX difference ``fx_minor`` (company minor
        units, debit positive); rounding of a conversion goes to the FX
        difference account as well."""
        company = self.company_id
        company_currency = company.currency_id
        company_code = company_currency.name
        lines = []
        total_balance = 0.0
        for account_id, name, row_currency, minor, company_minor in foreign:
            balance = float(minor_to_decimal(company_minor, company_code))
            total_balance += balance
            lines.append(
                Command.create(
                    {
                        "account_id": account_id,
                        "name": name,
                        "currency_id": row_currency.id,
                        "amount_currency": float(
                            minor_to_decimal(minor, row_currency.name)
                        ),
                        "balance": balance,
                        "fi_stripe_ref": ref,
                    }
                )
            )
        if fx_minor:
            balance = float(minor_to_decimal(fx_minor, company_code))
            total_balance += balance
            lines.append(
                Command.create(
                    {
                        "account_id": self.stripe_fx_account_id.id,
                        "name": _("%s: FX difference (booked vs settled)", ref),
                        "currency_id": company_currency.id,
                        "amount_currency": balance,
                        "balance": balance,
                        "fi_stripe_ref": ref,
                    }
                )
            )
        for account_id, name, minor in rows:
            if not minor:
                continue
            amount = minor_to_decimal(minor, code)
            balance = float(amount)
            if currency != company_currency:
                balance = currency._convert(balance, company_currency, company, date)
            total_balance += balance
            lines.append(
                Command.create(
                    {
                        "account_id": account_id,
                        "name": name,
                        "currency_id": currency.id,
                        "amount_currency": float(amount),
                        "balance": balance,
                        "fi_stripe_ref": ref,
                    }
                )
            )
        rounding = company_currency.round(-total_balance)
        if not company_currency.is_zero(rounding):
            self._fi_stripe_check_accounts("stripe_fx_account_id")
            lines.append(
                Command.create(
                    {
                        "account_id": self.stripe_fx_account_id.id,
                        "name": _("%s: exchange difference", ref),
                        "currency_id": currency.id,
                        "amount_currency": 0.0,
                        "balance": rounding,
                    }
                )
            )
        move = self.env["account.move"].create(
            {
                "move_type": "entry",
                "journal_id": self.stripe_settlement_journal_id.id,
                "date": date,
                "ref": ref,
                "company_id": company.id,
                "line_ids": lines,
                "fi_correlation_id": message.correlation_id if message else False,
            }
        )
        move.action_post()
        return move
