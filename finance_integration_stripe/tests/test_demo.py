# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The demo database: a Stripe endpoint with messages in every state, its
exceptions and a settled payout."""

from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestStripeDemo(TransactionCase):
    def test_demo_endpoint_shows_every_state_and_a_settled_payout(self):
        endpoint = self.env.ref(
            "finance_integration_stripe.demo_endpoint_stripe", raise_if_not_found=False
        )
        if not endpoint:
            self.skipTest("installed without demo data")
        self.assertEqual(endpoint.state, "active")
        messages = self.env["fi.message"].search([("endpoint_id", "=", endpoint.id)])
        self.assertLessEqual(
            {"done", "failed", "ignored", "retry", "invalid"},
            set(messages.mapped("state")),
        )
        payout = self.env["fi.binding"].to_odoo(endpoint, "payout", "po_demo")
        self.assertEqual(payout.state, "posted")
        transit = payout.line_ids.filtered(lambda line: line.fi_stripe_ref == "po_demo")
        self.assertTrue(transit)
        reasons = set(
            self.env["fi.exception"]
            .search([("endpoint_id", "=", endpoint.id)])
            .mapped("error_code")
        )
        self.assertLessEqual(
            {
                "unmatched_payment",
                "stripe_dispute",
                "malformed_payload",
                "stripe_reconciliation",
            },
            reasons,
        )
        # the demo day in the reconciliation register, with what differs
        day = self.env["fi.stripe.reconciliation"].search(
            [("endpoint_id", "=", endpoint.id)]
        )
        self.assertEqual(len(day), 1)
        self.assertEqual(day.state, "different")
        self.assertGreater(day.paid_stripe, day.paid_odoo)
        self.assertEqual(day.exception_id.error_code, "stripe_reconciliation")
