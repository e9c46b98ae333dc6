# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import time
from datetime import UTC, datetime

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .common import StripeCommon


@tagged("post_install", "-at_install")
class TestStripeDisputes(StripeCommon):
    def setUp(self):
        super().setUp()
        self.due_by = int(time.time()) + 7 * 86400
        # the approvers work in accounting
        self.manager_b.groups_id += self.env.ref("account.group_account_manager")
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

    def dispute(self, status, txns, amount=10000):
        return self.stripe.add(
            "dispute",
            id=f"dp_{self.inv.id}",
            amount=amount,
            currency="usd",
            charge=self.pi["latest_charge"],
            payment_intent=self.pi["id"],
            status=status,
            balance_transactions=txns,
            evidence_details={"due_by": self.due_by},
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
        # one finance exception for the dispute, due when the evidence is
        case = self.bound("dispute_case", dispute["id"])
        self.assertEqual(case._name, "fi.exception")
        self.assertEqual(case.state, "new")
        self.assertTrue(case.fi_standalone)
        self.assertEqual(
            case.sla_deadline,
            datetime.fromtimestamp(self.due_by, UTC).replace(tzinfo=None),
        )
        self.assertEqual(
            case.activity_ids.date_deadline,
            datetime.fromtimestamp(self.due_by, UTC).date(),
        )
        self.assertIn(dispute["id"], case.detail)
        created = self.env["fi.message"].search(
            [
                ("event_type", "=", "charge.dispute.created"),
                ("endpoint_id", "=", self.endpoint.id),
            ]
        )
        self.assertEqual(set(created.mapped("state")), {"done"})
        self.assertEqual(
            self.env["fi.exception"].search_count(
                [("fi_standalone", "=", True), ("endpoint_id", "=", self.endpoint.id)]
            ),
            1,
        )
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
        self.assertEqual(case.state, "resolved")
        self.assertIn("won", case.resolution_note)
        self.assertFalse(self.bound("dispute_writeoff", dispute["id"]))
        moves = self.env["account.move"].search([("ref", "=", dispute["id"])])
        self.assertEqual(len(moves), 2, "one entry per balance transaction, once")

    def test_dispute_lost_proposes_a_write_off_and_settles_once(self):
        withdrawn = self.txn(f"txn_dpl_{self.inv.id}", -10000, 1500, "dispute")
        dispute = self.dispute("lost", [withdrawn])
        self.deliver(self.stripe.event("charge.dispute.closed", dispute))
        self.run_jobs()
        self.assertAlmostEqual(self.balance(self.disputes), 100.00)
        writeoff = self.bound("dispute_writeoff", dispute["id"])
        self.assertEqual(writeoff.state, "draft")
        self.assertEqual(writeoff.fi_stripe_writeoff_state, "proposed")
        case = self.bound("dispute_case", dispute["id"])
        self.assertEqual(case.state, "new", "open until the write-off posts")
        # nobody posts it around the approval
        with self.assertRaises(UserError):
            writeoff.action_post()
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

    def test_lost_dispute_write_off_needs_two_managers_above_the_threshold(self):
        withdrawn = self.txn(f"txn_dp2_{self.inv.id}", -10000, 1500, "dispute")
        dispute = self.dispute("lost", [withdrawn])
        self.deliver(self.stripe.event("charge.dispute.funds_withdrawn", dispute))
        self.deliver(self.stripe.event("charge.dispute.closed", dispute))
        self.run_jobs()
        writeoff = self.bound("dispute_writeoff", dispute["id"])
        case = self.bound("dispute_case", dispute["id"])
        self.assertEqual(
            self.env["account.move"].search_count(
                [("fi_stripe_writeoff_state", "!=", False), ("ref", "=", dispute["id"])]
            ),
            1,
            "one write-off for two events",
        )
        with self.assertRaises(AccessError):
            writeoff.with_user(self.owner).action_fi_stripe_approve_writeoff()
        writeoff.with_user(self.manager_b).action_fi_stripe_approve_writeoff()
        self.assertEqual(writeoff.fi_stripe_writeoff_state, "first_approved")
        self.assertEqual(writeoff.state, "draft", "USD 100 > 50: a second approver")
        with self.assertRaises(UserError):
            writeoff.with_user(self.manager_b).action_fi_stripe_approve_writeoff()
        manager_c = self.manager_b.copy(
            {
                "login": "fi_stripe_manager_c",
                "groups_id": [Command.set(self.manager_b.groups_id.ids)],
            }
        )
        writeoff.with_user(manager_c).action_fi_stripe_approve_writeoff()
        self.assertEqual(writeoff.state, "posted")
        self.assertEqual(writeoff.fi_stripe_approver_id, manager_c)
        self.assertEqual(writeoff.fi_stripe_first_approver_id, self.manager_b)
        self.assertAlmostEqual(self.balance(self.disputes), 0.0)
        self.assertAlmostEqual(self.balance(self.dispute_losses), 100.00)
        self.assertEqual(case.state, "resolved")
        # a redelivery proposes nothing more
        self.deliver(self.stripe.event("charge.dispute.closed", dispute))
        self.run_jobs()
        self.assertEqual(self.bound("dispute_writeoff", dispute["id"]), writeoff)

    def test_lost_dispute_under_the_threshold_posts_on_one_approval(self):
        withdrawn = self.txn(f"txn_dp3_{self.inv.id}", -3000, 1500, "dispute")
        dispute = self.dispute("lost", [withdrawn], amount=3000)
        self.deliver(self.stripe.event("charge.dispute.closed", dispute))
        self.run_jobs()
        writeoff = self.bound("dispute_writeoff", dispute["id"])
        writeoff.with_user(self.manager_b).action_fi_stripe_approve_writeoff()
        self.assertEqual(writeoff.state, "posted")
        self.assertAlmostEqual(self.balance(self.dispute_losses), 30.00)
        self.assertEqual(self.bound("dispute_case", dispute["id"]).state, "resolved")
