# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import _, fields, models

from odoo.addons.finance_integration_core.lib.errors import FiTransientError
from odoo.addons.finance_integration_core.models.fi_exception import OPEN_STATES


class FiEndpoint(models.Model):
    _inherit = "fi.endpoint"

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
                "Stripe marked %s uncollectible: propose its write-off", move.name
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
        return move
