# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import time

from odoo.tests import tagged

from .common import StripeCommon


@tagged("post_install", "-at_install")
class TestStripeDisputes(StripeCommon):
    def setUp(self):
        super().setUp()
        self.inv = self.invoice(100.00)
        self.pi = self.intent(self.inv, 10000, id=f"pi_dispute_{self.inv.id}")
        self.deliver(self.stripe.event("payment_intent.succeeded", self.pi))
        self.run_jobs()
        self.payment = self.bound("payment_intent", self.pi["id"])
        self.assertTrue(self.payment)

    def txn(self, tid, amount, fee, category):
        return {
            "id": tid,
            "object": "balance_transaction",
            "amount": amount,
            "fee": fee,
            "net": amount - fee,
            "currency": "usd",
            "created": int(time.time()),
            "type": "adjustment",
            "reporting_category": category,
            "fee_details": [{"amount": fee, "currency": "usd", "type": "stripe_fee"}]
            if fee
            else [],
        }

    def dispute(self, status, txns):
        return self.stripe.add(
            "dispute",
            id=f"dp_{self.inv.id}",
            amount=10000,
            currency="usd",
            charge=self.pi["latest_charge"],
            payment_intent=self.pi["id"],
            status=status,
            balance_transactions=txns,
            evidence_details={"due_by": int(time.time()) + 7 * 86400},
        )

    def balance(self, account):
        lines = self.env["account.move.line"].search(
            [("account_id", "=", account.id), ("parent_state", "=", "posted")]
        )
        return round(sum(lines.mapped("balance")), 2)

    def test_dispute_won_moves_then_reinstates_the_amount(self):
        clearing_before = self.balance(self.clearing)
        withdrawn = self.txn(f"txn_dpw_{self.inv.id}", -10000, 1500, "dispute")
        dispute = self.dispute("needs_response", [withdrawn])
        self.deliver(self.stripe.event("charge.dispute.created", dispute))
        self.deliver(self.stripe.event("charge.dispute.funds_withdrawn", dispute))
        self.run_jobs()
        self.assertAlmostEqual(self.balance(self.disputes), 100.00)
        self.assertAlmostEqual(self.balance(self.clearing), clearing_before - 115.00)
        activity = self.payment.activity_ids
        self.assertEqual(len(activity), 1)
        self.assertIn("submit evidence", activity.summary)
        # won: Stripe reinstates the amount (and here the fee)
        reinstated = self.txn(
            f"txn_dpr_{self.inv.id}", 10000, -1500, "dispute_reversal"
        )
        self.dispute("won", [withdrawn, reinstated])
        self.deliver(self.stripe.event("charge.dispute.closed", dispute))
        self.deliver(self.stripe.event("charge.dispute.funds_reinstated", dispute))
        self.run_jobs()
        self.assertAlmostEqual(self.balance(self.disputes), 0.0)
        self.assertAlmostEqual(self.balance(self.clearing), clearing_before)
        self.assertFalse(self.payment.activity_ids)
        moves = self.env["account.move"].search([("ref", "=", dispute["id"])])
        self.assertEqual(len(moves), 2, "one entry per balance transaction, once")

    def test_dispute_lost_proposes_a_write_off_and_settles_once(self):
        withdrawn = self.txn(f"txn_dpl_{self.inv.id}", -10000, 1500, "dispute")
        dispute = self.dispute("lost", [withdrawn])
        self.deliver(self.stripe.event("charge.dispute.closed", dispute))
        self.run_jobs()
        self.assertAlmostEqual(self.balance(self.disputes), 100.00)
        self.assertIn("approve the write-off", self.payment.activity_ids.summary)
        # the payout that carries the withdrawal moves only its net
        charge_txn = {
            "type": "charge",
            "reporting_category": "charge",
            "amount": 20000,
            "fee": 600,
            "net": 19400,
            "currency": "usd",
            "fee_details": [{"amount": 600, "type": "stripe_fee"}],
            "source": self.pi["latest_charge"],
        }
        self.stripe.add(
            "balance_transaction",
            id=f"txn_ch_{self.inv.id}",
            _payout="po_dp",
            **charge_txn,
        )
        self.stripe.add(
            "balance_transaction",
            _payout="po_dp",
            **dict(withdrawn, source=dispute["id"]),
        )
        payout = self.stripe.add(
            "payout",
            id="po_dp",
            amount=19400 - 11500,
            currency="usd",
            status="paid",
            automatic=True,
            reconciliation_status="completed",
        )
        before = self.balance(self.fees)
        self.deliver(self.stripe.event("payout.reconciliation_completed", payout))
        self.run_jobs()
        move = self.bound("payout", "po_dp")
        self.assertTrue(move, self.env["fi.message"].search([], limit=1).error_message)
        self.assertAlmostEqual(self.balance(self.fees) - before, 6.00)
        self.assertAlmostEqual(self.balance(self.disputes), 100.00)
