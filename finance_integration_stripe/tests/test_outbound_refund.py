# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import StripeCommon


@tagged("post_install", "-at_install")
class TestStripeOutboundRefund(StripeCommon):
    def credit_note_of_paid_invoice(self, amount, minor, refund_amount):
        invoice = self.invoice(amount)
        intent = self.intent(invoice, minor, id=f"pi_out_{invoice.id}")
        self.deliver(self.stripe.event("payment_intent.succeeded", intent))
        self.run_jobs()
        self.assertEqual(invoice.payment_state, "paid")
        note = invoice._reverse_moves([{"ref": "goodwill"}])
        note.invoice_line_ids.price_unit = refund_amount
        note.action_post()
        return note, intent

    def test_refund_from_a_credit_note_is_sent_once_and_reconciled(self):
        self.endpoint.stripe_refund_threshold = 1000
        note, intent = self.credit_note_of_paid_invoice(80.00, 8000, 30.00)
        posts = self.stripe.count("POST", "/v1/refunds")
        message = note.action_fi_stripe_refund()
        self.assertEqual(message.idempotency_key, f"odoo-credit-note-{note.id}")
        self.assertEqual(note.action_fi_stripe_refund(), message, "asked twice: once")
        self.run_jobs()
        self.assertEqual(message.state, "done", message.error_message)
        self.assertEqual(self.stripe.count("POST", "/v1/refunds") - posts, 1)
        request = [r for r in self.stripe.requests if r[1] == "/v1/refunds"][-1]
        self.assertEqual(request[3]["Idempotency-Key"], message.idempotency_key)
        self.assertEqual(
            request[3]["Content-Type"], "application/x-www-form-urlencoded"
        )
        self.assertIn(b"amount=3000", request[4])
        self.assertIn(b"metadata%5Bodoo_credit_note_id%5D", request[4])
        refund = self.stripe.objects[message.external_id]
        payment = self.bound("refund", refund["id"])
        self.assertEqual(payment.amount, 30.00)
        self.assertEqual(note.payment_state, "paid")
        # Stripe's webhook for that refund attaches to it: no second refund
        self.deliver(self.stripe.event("refund.created", refund))
        self.run_jobs()
        self.assertEqual(
            self.env["account.payment"].search_count([("memo", "=", refund["id"])]), 1
        )

    def test_refund_above_threshold_waits_for_a_second_user(self):
        self.endpoint.stripe_refund_threshold = 10
        note, _intent = self.credit_note_of_paid_invoice(90.00, 9000, 50.00)
        requester = self.manager_b
        requester.groups_id = [
            Command.link(self.env.ref("account.group_account_manager").id)
        ]
        posts = self.stripe.count("POST", "/v1/refunds")
        message = note.with_user(requester).action_fi_stripe_refund()
        self.assertEqual(message.fi_stripe_approval, "pending")
        self.env["fi.endpoint"].browse(self.endpoint.id)._fi_dispatch()
        self.run_jobs(ignore_eta=True)
        self.assertEqual(self.stripe.count("POST", "/v1/refunds"), posts, "held")
        with self.assertRaisesRegex(UserError, "Four eyes"):
            message.with_user(requester).action_fi_stripe_approve_refund()
        approver = self.env["res.users"].create(
            {
                "name": "Approver",
                "login": "fi_stripe_approver",
                "groups_id": [
                    Command.set(
                        [
                            self.env.ref(
                                "finance_integration_core.group_fi_manager"
                            ).id,
                            self.env.ref("base.group_user").id,
                        ]
                    )
                ],
            }
        )
        message.with_user(approver).action_fi_stripe_approve_refund()
        self.run_jobs()
        self.assertEqual(message.state, "done", message.error_message)
        self.assertEqual(message.fi_stripe_approved_by_id, approver)
        self.assertEqual(self.stripe.count("POST", "/v1/refunds") - posts, 1)
        self.assertEqual(note.payment_state, "paid")
