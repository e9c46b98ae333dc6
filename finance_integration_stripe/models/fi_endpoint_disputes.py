# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import UTC, datetime

from odoo import _, fields, models

from odoo.addons.finance_integration_core.lib.errors import (
    FiBusinessError,
    FiTransientError,
)


class FiEndpoint(models.Model):
    _inherit = "fi.endpoint"

    def _fi_stripe_on_dispute(self, message, document, obj):
        """Disputes: one entry per balance transaction of the dispute
        (withdrawn, reinstated), built from Stripe's own amounts and fees; a
        follow-up activity due on the evidence date; won -> the reinstatement
        reverses the amount; lost -> a write-off activity for a second user."""
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
        self._fi_stripe_dispute_follow_up(dispute, payment)
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
            (self.stripe_clearing_account_id.id, label, net),
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

    def _fi_stripe_dispute_follow_up(self, dispute, payment):
        """The activity finance works the dispute from, on the payment: due on
        the evidence date while open; a write-off to approve when lost."""
        owner = self.responsible_id or self.env.user
        due = (dispute.get("evidence_details") or {}).get("due_by")
        status = dispute["status"]
        activity_type = self.env.ref("mail.mail_activity_data_todo")
        summary_open = _("Stripe dispute %s: submit evidence", dispute["id"])
        summary_lost = _("Stripe dispute %s lost: approve the write-off", dispute["id"])
        existing = payment.activity_ids.filtered(
            lambda a: dispute["id"] in (a.summary or "")
        )
        if status in ("won", "lost", "warning_closed", "charge_refunded"):
            existing.filtered(lambda a: a.summary == summary_open).action_done()
            if status == "lost" and not existing.filtered(
                lambda a: a.summary == summary_lost
            ):
                payment.activity_schedule(
                    activity_type_id=activity_type.id,
                    summary=summary_lost,
                    note=_(
                        "The disputed amount stays on the dispute account until a "
                        "second user approves its write-off."
                    ),
                    user_id=owner.id,
                )
            return
        if not existing:
            deadline = (
                datetime.fromtimestamp(due, UTC).date()
                if due
                else fields.Date.context_today(self)
            )
            payment.activity_schedule(
                activity_type_id=activity_type.id,
                summary=summary_open,
                date_deadline=deadline,
                note=_("Reason: %s", dispute.get("reason") or "-"),
                user_id=owner.id,
            )
