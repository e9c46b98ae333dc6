# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).

from odoo import _, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from ..lib.money import odoo_amounts_to_minor

REFUND_FLOW = "refund.create"


class FiEndpoint(models.Model):
    _inherit = "fi.endpoint"

    stripe_currency_id = fields.Many2one(related="company_id.currency_id")
    stripe_refund_threshold = fields.Monetary(
        "Refund Approval Threshold",
        currency_field="stripe_currency_id",
        help="Refunds requested from Odoo above this amount (company currency) "
        "wait for a second user's approval before they are sent. 0: all wait.",
    )

    def _fi_stripe_refund_flow(self):
        flow = self.flow_ids.filtered(
            lambda f: f.direction == "out" and f.event_type == REFUND_FLOW
        )[:1]
        if not flow:
            flow = (
                self.env["fi.flow"]
                .sudo()
                .create(
                    {
                        "name": "Stripe refund from a credit note",
                        "endpoint_id": self.id,
                        "direction": "out",
                        "event_type": REFUND_FLOW,
                        "http_method": "POST",
                        "path": "/v1/refunds",
                        "system_of_record": "odoo",
                        "owner_id": self.responsible_id.id,
                    }
                )
            )
        return flow

    def _fi_response_external_id(self, message, result, answer):
        """A refund Odoo sent: its payment is posted now and bound by its re_
        id, so the refund.* webhooks attach to it and post nothing more."""
        external_id = super()._fi_response_external_id(message, result, answer)
        if (
            self.provider == "stripe"
            and message.flow_id.event_type == REFUND_FLOW
            and isinstance(answer, dict)
            and answer.get("object") == "refund"
        ):
            self._fi_stripe_apply_refund(message, answer)
        return external_id


class FiMessage(models.Model):
    _inherit = "fi.message"

    fi_stripe_approval = fields.Selection(
        [("pending", "Waiting for approval"), ("approved", "Approved")],
        "Refund Approval",
        readonly=True,
        copy=False,
    )
    fi_stripe_requested_by_id = fields.Many2one("res.users", readonly=True)
    fi_stripe_approved_by_id = fields.Many2one("res.users", readonly=True)

    def _fi_hold_reason(self):
        reason = super()._fi_hold_reason()
        if reason:
            return reason
        if self.fi_stripe_approval == "pending":
            return _("refund waiting for a second user's approval")
        return None

    def action_fi_stripe_approve_refund(self):
        """Four eyes: another user than the requester releases the refund."""
        if not self.env.user.has_group("finance_integration_core.group_fi_manager"):
            raise AccessError(_("Only Finance Integration Managers approve refunds."))
        for message in self:
            if message.fi_stripe_approval != "pending":
                raise UserError(
                    _("%s is not waiting for approval.", message.display_name)
                )
            if message.fi_stripe_requested_by_id == self.env.user:
                raise UserError(
                    _(
                        "Four eyes: %s requested this refund and cannot approve it.",
                        self.env.user.name,
                    )
                )
            message.sudo().write(
                {
                    "fi_stripe_approval": "approved",
                    "fi_stripe_approved_by_id": self.env.user.id,
                }
            )
            message.sudo()._fi_enqueue_processing()
        return True


class FiEndpointHeld(models.Model):
    _inherit = "fi.endpoint"

    def _fi_dispatch_held_sql(self):
        return SQL(
            "(%s) OR COALESCE(m.fi_stripe_approval, '') = 'pending'",
            super()._fi_dispatch_held_sql(),
        )


class AccountMove(models.Model):
    _inherit = "account.move"

    def action_fi_stripe_refund(self):
        """Refund this credit note's amount through Stripe, on the PaymentIntent
        that paid the invoice it reverses (Idempotency-Key fixed now)."""
        messages = self.env["fi.message"]
        for note in self:
            if note.move_type != "out_refund" or note.state != "posted":
                raise UserError(_("%s is not a posted credit note.", note.display_name))
            invoice = note.reversed_entry_id
            payments = invoice._get_reconciled_payments() if invoice else []
            endpoint = intent = None
            for payment in payments:
                for candidate in self.env["fi.endpoint"].search(
                    [
                        ("provider", "=", "stripe"),
                        ("company_id", "=", note.company_id.id),
                    ]
                ):
                    intent = self.env["fi.binding"].to_external(
                        candidate, payment, "payment_intent"
                    )
                    if intent:
                        endpoint = candidate
                        break
                if intent:
                    break
            if not intent:
                raise UserError(
                    _(
                        "Credit note %s reverses no invoice paid through Stripe.",
                        note.display_name,
                    )
                )
            minor = odoo_amounts_to_minor(
                [note.amount_residual],
                note.currency_id.name,
                note.currency_id.decimal_places,
            )
            payload = {
                "payment_intent": intent,
                "amount": minor,
                "metadata": {
                    "odoo_credit_note_id": str(note.id),
                    "odoo_credit_note": note.name,
                },
            }
            company_amount = note.currency_id._convert(
                note.amount_residual, note.company_id.currency_id, note.company_id
            )
            needs_approval = company_amount > endpoint.stripe_refund_threshold
            message = endpoint.with_context(fi_defer_sending=needs_approval)._fi_send(
                endpoint._fi_stripe_refund_flow(),
                payload,
                record=note,
                idempotency_key=f"odoo-credit-note-{note.id}",
                correlation_id=note.fi_correlation_id or None,
            )
            if needs_approval and not message.fi_stripe_approval:
                message.sudo().write(
                    {
                        "fi_stripe_approval": "pending",
                        "fi_stripe_requested_by_id": self.env.user.id,
                    }
                )
            messages |= message
        return messages
