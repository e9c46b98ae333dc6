# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import Command, _, fields, models

from odoo.addons.finance_integration_core.lib.errors import FiTransientError
from odoo.addons.finance_integration_core.models.fi_exception import OPEN_STATES


class FiEndpoint(models.Model):
    _inherit = "fi.endpoint"

    stripe_writeoff_account_id = fields.Many2one(
        "account.account",
        "Bad-debt Write-off Account",
        help="Expense of the invoices Stripe marks uncollectible: their open "
        "amount moves there from the receivable once the write-off is approved.",
    )
    stripe_uncollectible_threshold = fields.Monetary(
        "Bad-debt Write-off Threshold",
        currency_field="stripe_currency_id",
        help="Write-offs of uncollectible invoices above this amount (company "
        "currency) need two different finance users' approvals, one up to it. "
        "The user who proposed a write-off never approves it.",
    )

    # ------------------------------------------------------------------
    # Radar: reviews and early fraud warnings -> fraud hold + exception
    # ------------------------------------------------------------------
    def _fi_stripe_on_review(self, message, document, obj):
        """review.opened / review.closed, radar.early_fraud_warning.*: the
        payment (and its invoice) carry a fraud hold while the review is open
        or the warning is not worked, and a finance exception says why; a
        closed review releases the hold and resolves the exception."""
        kind = "early_fraud_warning" if "fraud" in obj.get("object", "") else "review"
        item = self._fi_stripe_fetch(kind, obj["id"])
        intent_id = item.get("payment_intent")
        if not intent_id and item.get("charge"):
            charge = item["charge"]
            charge_id = charge.get("id") if isinstance(charge, dict) else charge
            intent_id = self._fi_stripe_fetch("charge", charge_id).get("payment_intent")
        binding = self.env["fi.binding"]
        payment = (
            binding.to_odoo(self, "payment_intent", intent_id) if intent_id else None
        )
        if not payment:
            raise FiTransientError(
                _(
                    "Stripe %(kind)s %(id)s is about a payment not in Odoo yet: "
                    "retrying later.",
                    kind=kind,
                    id=item["id"],
                ),
                "stripe_out_of_order",
            )
        invoices = payment.reconciled_invoice_ids
        held = (payment, invoices)
        is_open = item.get("open", True) if kind == "review" else True
        case = binding.to_odoo(self, "risk_case", item["id"])
        if is_open:
            reason = item.get("reason") or item.get("fraud_type") or "-"
            hold = _(
                "Fraud hold: Stripe %(kind)s %(id)s (%(reason)s)",
                kind=kind.replace("_", " "),
                id=item["id"],
                reason=reason,
            )
            for records in held:
                records.sudo().write({"fi_stripe_hold": hold})
            if not case:
                case = self.env["fi.exception"]._fi_open_for(
                    "stripe_fraud_hold",
                    _(
                        "%(hold)s on payment %(pay)s%(inv)s: check the payment in "
                        "Stripe; refund it or close the review there.",
                        hold=hold,
                        pay=payment.display_name,
                        inv=(" / " + ", ".join(invoices.mapped("name")))
                        if invoices
                        else "",
                    ),
                    message=message,
                )
                binding.bind(self, "risk_case", item["id"], case, message)
            for record in (payment, *invoices):
                record.sudo().message_post(body=hold)
        else:
            for records in held:
                records.sudo().write({"fi_stripe_hold": False})
            if case and case.state in OPEN_STATES:
                case.sudo().write(
                    {
                        "state": "resolved",
                        "date_closed": fields.Datetime.now(),
                        "resolution_note": _(
                            "Stripe closed the review: %s",
                            item.get("closed_reason") or "-",
                        ),
                    }
                )
                case.activity_ids.sudo().action_feedback(feedback=_("Review closed"))
        self._fi_stripe_audit(
            "stripe.fraud_hold" if is_open else "stripe.fraud_released",
            _("Stripe %(kind)s %(id)s", kind=kind, id=item["id"]),
            payment,
            message,
            {"object": item["id"], "payment_intent": intent_id, "open": is_open},
        )
        return payment

    # ------------------------------------------------------------------
    # collections: failed invoice payments, uncollectible invoices
    # ------------------------------------------------------------------
    def _fi_stripe_on_collections(self, message, document, obj):
        """invoice.payment_failed / invoice.marked_uncollectible: an activity
        on the Odoo invoice for its salesperson (else the flow owner); an
        uncollectible invoice also asks for its write-off to be proposed."""
        invoice = self._fi_stripe_fetch("invoice", obj["id"])
        move = self.env["fi.binding"].to_odoo(self, "invoice", invoice["id"])
        if not move:
            raise FiTransientError(
                _("Stripe invoice %s is not in Odoo yet: retrying later.", obj["id"]),
                "stripe_out_of_order",
            )
        user = (
            move.invoice_user_id
            or message.flow_id.owner_id
            or self.responsible_id
            or self.env.user
        )
        uncollectible = document.get("type") == "invoice.marked_uncollectible"
        if uncollectible:
            summary = _(
                "Stripe marked %s uncollectible: approve its write-off", move.name
            )
        else:
            summary = _("Stripe payment of %s failed: follow up", move.name)
        if not move.activity_ids.filtered(lambda a: a.summary == summary):
            move.sudo().activity_schedule(
                "mail.mail_activity_data_todo",
                summary=summary,
                note=_(
                    "Stripe invoice %(number)s: %(due)s due, attempt %(n)s.",
                    number=invoice.get("number"),
                    due=invoice.get("amount_remaining"),
                    n=invoice.get("attempt_count") or 0,
                ),
                user_id=user.id,
            )
        if uncollectible:
            if invoice.get("status") == "uncollectible":
                writeoff = self._fi_stripe_propose_bad_debt(message, invoice, move)
                return writeoff or move
            # the current object decides: paid or voided since the event
            self._fi_stripe_withdraw_bad_debt(
                invoice,
                _(
                    "Stripe invoice %(number)s is %(status)s now",
                    number=invoice.get("number") or invoice["id"],
                    status=invoice.get("status"),
                ),
                message,
            )
        return move

    def _fi_stripe_propose_bad_debt(self, message, invoice, move):
        """An uncollectible invoice: its open residual, as a draft entry from
        the receivable to the bad-debt account that posts once approved
        (``action_fi_stripe_approve_writeoff``) and then pays the invoice off;
        a finance case item says what waits. Once per invoice (a new one only
        after the previous proposal was cancelled)."""
        binding = self.env["fi.binding"]
        existing = binding.to_odoo(self, "uncollectible_writeoff", invoice["id"])
        if existing and existing.fi_stripe_writeoff_state != "cancelled":
            return existing
        receivables = move.line_ids.filtered(
            lambda x: (
                x.account_id.account_type == "asset_receivable" and not x.reconciled
            )
        )
        if move.state != "posted" or move.currency_id.is_zero(move.amount_residual):
            return None  # nothing open to write off
        self._fi_stripe_check_accounts(
            "stripe_settlement_journal_id", "stripe_writeoff_account_id"
        )
        residual = sum(receivables.mapped("amount_residual"))
        residual_currency = sum(receivables.mapped("amount_residual_currency"))
        case = binding.to_odoo(self, "uncollectible_case", invoice["id"])
        if not case or case.state not in OPEN_STATES:
            case = self.env["fi.exception"]._fi_open_for(
                "stripe_uncollectible",
                _(
                    "Stripe marked invoice %(number)s (Odoo %(move)s, %(partner)s) "
                    "uncollectible: %(amount)s %(cur)s open. Approve the proposed "
                    "write-off, or collect the invoice.",
                    number=invoice.get("number") or invoice["id"],
                    move=move.name,
                    partner=move.partner_id.display_name,
                    amount=move.amount_residual,
                    cur=move.currency_id.name,
                ),
                message=message,
            )
            self._fi_stripe_rebind("uncollectible_case", invoice["id"], case, message)
        label = _(
            "Stripe invoice %(number)s uncollectible: write-off of %(move)s",
            number=invoice.get("number") or invoice["id"],
            move=move.name,
        )
        partner = move.commercial_partner_id
        lines = [
            Command.create(
                {
                    "account_id": account.id,
                    "partner_id": partner.id,
                    "name": label,
                    "currency_id": move.currency_id.id,
                    "amount_currency": sign * residual_currency,
                    "balance": sign * residual,
                    "fi_stripe_ref": invoice["id"],
                }
            )
            for account, sign in (
                (self.stripe_writeoff_account_id, 1),
                (receivables[:1].account_id, -1),
            )
        ]
        writeoff = self._fi_stripe_propose_writeoff(
            "uncollectible",
            message,
            invoice.get("number") or invoice["id"],
            lines,
            case,
            {
                "invoice": invoice["id"],
                "odoo_invoice": move.name,
                "amount": str(move.amount_residual),
                "currency": move.currency_id.name,
            },
            invoice=move,
        )
        self._fi_stripe_rebind(
            "uncollectible_writeoff", invoice["id"], writeoff, message
        )
        return writeoff

    def _fi_stripe_rebind(self, external_type, external_id, record, message):
        """Bind, or point an existing binding at ``record`` (a new proposal
        after a cancelled one)."""
        binding = self.env["fi.binding"]
        found = binding._fi_find(self, external_type, external_id)
        if found:
            found.sudo().write({"res_model": record._name, "res_id": record.id})
            return found
        return binding.bind(self, external_type, external_id, record, message)

    def _fi_stripe_withdraw_bad_debt(self, invoice, reason, message=None):
        """Cancel the pending write-off of a Stripe invoice (paid, voided)."""
        writeoff = self.env["fi.binding"].to_odoo(
            self, "uncollectible_writeoff", invoice["id"]
        )
        if writeoff:
            writeoff._fi_stripe_cancel_writeoff(reason, message)
        return writeoff
