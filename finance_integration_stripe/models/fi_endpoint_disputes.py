# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import UTC, datetime

from odoo import Command, _, fields, models

from odoo.addons.finance_integration_core.lib.errors import (
    FiBusinessError,
    FiTransientError,
)
from odoo.addons.finance_integration_core.models.fi_exception import OPEN_STATES

from ..lib.money import minor_to_decimal

#: dispute statuses that end it without a loss
CLOSED_STATUSES = ("won", "warning_closed", "charge_refunded", "prevented")


class FiEndpoint(models.Model):
    _inherit = "fi.endpoint"

    stripe_dispute_loss_account_id = fields.Many2one(
        "account.account",
        "Dispute Loss Account",
        help="Expense of lost disputes: a lost dispute's amount moves there from "
        "the dispute account once its write-off is approved.",
    )
    stripe_dispute_threshold = fields.Monetary(
        "Dispute Write-off Threshold",
        currency_field="stripe_currency_id",
        help="Write-offs of lost disputes above this amount (company currency) "
        "need two different managers' approvals, one up to it.",
    )

    def _fi_stripe_on_dispute(self, message, document, obj):
        """Disputes: one entry per balance transaction of the dispute
        (withdrawn, reinstated), built from Stripe's own amounts and fees; a
        finance exception whose SLA deadline is the evidence due date; won ->
        the reinstatement reverses the amount, the exception is resolved; lost
        -> a write-off entry proposed, posted once approved (four eyes above
        the endpoint's threshold)."""
        self._fi_stripe_check_accounts(
            "stripe_settlement_journal_id",
            "stripe_clearing_account_id",
            "stripe_dispute_account_id",
            "stripe_fee_account_id",
        )
        dispute = self._fi_stripe_fetch("dispute", obj["id"])
        self._fi_stripe_required(
            dispute, "status", "amount", "currency", "charge", "balance_transactions"
        )
        binding = self.env["fi.binding"]
        intent_id = dispute.get("payment_intent")
        if not intent_id:
            intent_id = self._fi_stripe_fetch("charge", dispute["charge"]).get(
                "payment_intent"
            )
        payment = (
            binding.to_odoo(self, "payment_intent", intent_id) if intent_id else None
        )
        if not payment:
            raise FiTransientError(
                _(
                    "Dispute %(dp)s is about charge %(ch)s whose payment is not in "
                    "Odoo yet: retrying later.",
                    dp=dispute["id"],
                    ch=dispute["charge"],
                ),
                "stripe_out_of_order",
            )
        currency = self._fi_stripe_currency(dispute["currency"])
        last = None
        for txn in dispute["balance_transactions"] or []:
            if not isinstance(txn, dict):
                raise FiBusinessError(
                    _(
                        "Dispute %s lists balance transactions by id only: the "
                        "pinned API version must expand them.",
                        dispute["id"],
                    ),
                    "stripe_field_missing",
                )
            if binding.to_odoo(self, "dispute_txn", txn["id"]):
                continue
            last = self._fi_stripe_dispute_entry(message, dispute, txn, currency)
        self._fi_stripe_dispute_follow_up(message, dispute, payment, currency)
        if last:
            return last
        return payment

    def _fi_stripe_dispute_entry(self, message, dispute, txn, currency):
        code = dispute["currency"]
        amount, fee, net = int(txn["amount"]), int(txn["fee"]), int(txn["net"])
        if amount - fee != net:
            raise FiBusinessError(
                _("Balance transaction %s does not add up.", txn["id"]),
                "stripe_settlement",
            )
        label = _("Stripe dispute %(dp)s (%(txn)s)", dp=dispute["id"], txn=txn["id"])
        rows = [
            (self.stripe_dispute_account_id.id, label, -amount),
            (self.stripe_fee_account_id.id, _("%s: dispute fee", label), fee),
            (self._fi_stripe_clearing(currency).id, label, net),
        ]
        date = datetime.fromtimestamp(txn.get("created") or 0, UTC).date()
        move = self._fi_stripe_entry(message, dispute["id"], date, currency, code, rows)
        self.env["fi.binding"].bind(self, "dispute_txn", txn["id"], move, message)
        self._fi_stripe_audit(
            "stripe.dispute_moved",
            _("Stripe dispute %(dp)s: %(move)s", dp=dispute["id"], move=move.name),
            move,
            message,
            {
                "dispute": dispute["id"],
                "balance_transaction": txn["id"],
                "amount_minor": amount,
                "fee_minor": fee,
                "currency": currency.name,
                "status": dispute["status"],
            },
        )
        return move

    def _fi_stripe_dispute_follow_up(self, message, dispute, payment, currency):
        """The finance exception a dispute is worked from, opened on the first
        event about it with the evidence due date as its SLA deadline; won:
        resolved (the reinstatement entry gave the funds back); lost: the
        write-off of the disputed amount is proposed (posted only once
        approved, ``action_fi_stripe_approve_writeoff``)."""
        binding = self.env["fi.binding"]
        case = binding.to_odoo(self, "dispute_case", dispute["id"])
        status = dispute["status"]
        if not case:
            due = (dispute.get("evidence_details") or {}).get("due_by")
            deadline = (
                datetime.fromtimestamp(int(due), UTC).replace(tzinfo=None)
                if due
                else None
            )
            case = self.env["fi.exception"]._fi_open_for(
                "stripe_dispute",
                _(
                    "Stripe dispute %(dp)s on payment %(pay)s: %(amount)s %(cur)s, "
                    "reason %(reason)s. Submit the evidence in Stripe before the "
                    "deadline.",
                    dp=dispute["id"],
                    pay=payment.display_name,
                    amount=minor_to_decimal(
                        int(dispute["amount"]), dispute["currency"]
                    ),
                    cur=currency.name,
                    reason=dispute.get("reason") or "-",
                ),
                message=message,
                deadline=deadline,
            )
            binding.bind(self, "dispute_case", dispute["id"], case, message)
        if case.state not in OPEN_STATES:
            return case
        if status == "lost":
            self._fi_stripe_dispute_writeoff(message, dispute, currency, case)
        elif status in CLOSED_STATUSES:
            case.sudo().write(
                {
                    "state": "resolved",
                    "date_closed": fields.Datetime.now(),
                    "resolution_note": _(
                        "Stripe closed the dispute as %s: no write-off.", status
                    ),
                }
            )
            case.activity_ids.sudo().action_feedback(feedback=status)
        return case

    def _fi_stripe_dispute_writeoff(self, message, dispute, currency, case):
        """A lost dispute: the amount its balance transactions left on the
        dispute account, as a draft entry to the dispute loss account that
        posts only once approved (a second approver above the endpoint's
        threshold)."""
        binding = self.env["fi.binding"]
        if binding.to_odoo(self, "dispute_writeoff", dispute["id"]):
            return
        self._fi_stripe_check_accounts("stripe_dispute_loss_account_id")
        held = -sum(int(txn["amount"]) for txn in dispute["balance_transactions"])
        if held <= 0:
            return  # nothing was withdrawn (yet): funds_withdrawn brings it
        code = dispute["currency"]
        amount = minor_to_decimal(held, code)
        company = self.company_id
        date = fields.Date.context_today(self)
        balance = currency._convert(float(amount), company.currency_id, company, date)
        label = _("Stripe dispute %s lost: write-off", dispute["id"])
        lines = [
            Command.create(
                {
                    "account_id": account.id,
                    "name": label,
                    "currency_id": currency.id,
                    "amount_currency": sign * float(amount),
                    "balance": sign * balance,
                    "fi_stripe_ref": dispute["id"],
                }
            )
            for account, sign in (
                (self.stripe_dispute_loss_account_id, 1),
                (self.stripe_dispute_account_id, -1),
            )
        ]
        writeoff = self._fi_stripe_propose_writeoff(
            "dispute",
            message,
            dispute["id"],
            lines,
            case,
            {
                "dispute": dispute["id"],
                "amount_minor": held,
                "currency": currency.name,
            },
        )
        binding.bind(self, "dispute_writeoff", dispute["id"], writeoff, message)
