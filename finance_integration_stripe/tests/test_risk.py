# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Radar reviews and early fraud warnings: a fraud hold where finance works."""

from odoo.tests import tagged

from .common import StripeCommon


@tagged("post_install", "-at_install")
class TestStripeFraudHold(StripeCommon):
    def paid(self, pid):
        invoice = self.invoice(80.00)
        intent = self.intent(invoice, 8000, id=pid)
        self.deliver(self.stripe.event("payment_intent.succeeded", intent))
        self.run_jobs()
        return invoice, intent, self.bound("payment_intent", pid)

    def test_review_holds_the_payment_and_invoice_until_closed(self):
        invoice, intent, payment = self.paid("pi_review_1")
        review = self.stripe.add(
            "review",
            id="prv_hold_1",
            charge=intent["latest_charge"],
            payment_intent=intent["id"],
            open=True,
            reason="rule",
        )
        opened = self.stripe.event("review.opened", review)
        self.deliver(opened)
        self.run_jobs()
        self.assertEqual(self.message_of(opened).state, "done")
        self.assertIn("prv_hold_1", payment.fi_stripe_hold)
        self.assertIn("prv_hold_1", invoice.fi_stripe_hold)
        case = self.bound("risk_case", "prv_hold_1")
        self.assertEqual(case.state, "new")
        self.assertIn(invoice.name, case.detail)
        self.stripe.objects["prv_hold_1"].update(open=False, closed_reason="approved")
        self.deliver(self.stripe.event("review.closed", review))
        self.run_jobs()
        self.assertFalse(payment.fi_stripe_hold)
        self.assertFalse(invoice.fi_stripe_hold)
        self.assertEqual(case.state, "resolved")
        self.assertIn("approved", case.resolution_note)

    def test_early_fraud_warning_before_its_payment_waits_then_holds(self):
        invoice = self.invoice(30.00)
        intent = self.intent(invoice, 3000, id="pi_efw_1")
        warning = self.stripe.add(
            "radar.early_fraud_warning",
            id="issfr_efw_1",
            charge=intent["latest_charge"],
            payment_intent=intent["id"],
            fraud_type="made_with_stolen_card",
            actionable=True,
        )
        event = self.stripe.event("radar.early_fraud_warning.created", warning)
        self.deliver(event)
        self.run_jobs()
        self.assertEqual(self.message_of(event).state, "retry")
        self.deliver(self.stripe.event("payment_intent.succeeded", intent))
        self.run_jobs(ignore_eta=True)
        self.assertEqual(self.message_of(event).state, "done")
        payment = self.bound("payment_intent", "pi_efw_1")
        self.assertIn("made_with_stolen_card", payment.fi_stripe_hold)
        self.assertEqual(self.bound("risk_case", "issfr_efw_1").state, "new")
