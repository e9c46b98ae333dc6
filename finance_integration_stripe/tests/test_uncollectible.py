# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Invoices Stripe marks uncollectible: a proposed write-off of the open
residual to the bad-debt account, posted only once approved (four eyes above
the endpoint's threshold, never the proposer), cancelled when the invoice is
paid or voided first."""

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .common import StripeCommon


@tagged("post_install", "-at_install")
class TestStripeUncollectible(StripeCommon):
    def setUp(self):
        super().setUp()
        billing = self.env.ref("account.group_account_invoice")
        self.owner.groups_id += billing
        self.manager_b.groups_id += billing
        self.events = self.record_audit()

    def uncollectible(self, amount, iid):
        """An Odoo invoice bound to Stripe invoice ``iid`` that Stripe marked
        uncollectible, the event delivered and processed."""
        move = self.invoice(amount)
        self.env["fi.binding"].bind(self.endpoint, "invoice", iid, move)
        stripe_invoice = self.stripe.add(
            "invoice",
            id=iid,
            number=f"STR-{iid[-4:]}",
            status="uncollectible",
            amount_remaining=int(amount * 100),
            currency="usd",
        )
        event = self.stripe.event("invoice.marked_uncollectible", stripe_invoice)
        self.deliver(event)
        self.run_jobs()
        message = self.message_of(event)
        self.assertEqual(message.state, "done", message.error_message)
        return move, message

    def balance(self, account):
        lines = self.env["account.move.line"].search(
            [("account_id", "=", account.id), ("parent_state", "=", "posted")]
        )
        return round(sum(lines.mapped("balance")), 2)

    def blockers(self):
        found = self.endpoint._fi_close_blockers(None, self.env.cr.now().date())
        return {b["code"]: b for b in found}

    def test_write_off_under_the_threshold_posts_on_one_finance_user(self):
        move, message = self.uncollectible(30.00, "in_unc_0001")
        writeoff = self.bound("uncollectible_writeoff", "in_unc_0001")
        self.assertEqual(writeoff.state, "draft")
        self.assertEqual(writeoff.fi_stripe_writeoff_kind, "uncollectible")
        self.assertEqual(writeoff.fi_stripe_writeoff_state, "proposed")
        self.assertEqual(writeoff.fi_stripe_writeoff_invoice_id, move)
        self.assertEqual(writeoff.fi_correlation_id, message.correlation_id)
        self.assertEqual(writeoff.fi_stripe_proposer_id, self.stripe_bot)
        case = self.bound("uncollectible_case", "in_unc_0001")
        self.assertEqual(case, writeoff.fi_stripe_case_id)
        self.assertEqual(case.state, "new")
        self.assertIn(move.name, case.detail)
        self.assertIn(
            ("stripe.uncollectible_writeoff_proposed", message.correlation_id),
            [(t, kw.get("correlation_id")) for t, kw in self.events],
        )
        # the close sees it waiting
        blocker = self.blockers()["stripe_pending_bad_debts"]
        self.assertEqual((blocker["count"], blocker["blocking"]), (1, True))
        self.assertNotIn("stripe_pending_writeoffs", self.blockers())
        # nobody posts it around the approval; only finance users approve
        with self.assertRaises(UserError):
            writeoff.action_post()
        clerk = self.env["res.users"].create(
            {
                "name": "Billing Clerk",
                "login": "fi_stripe_clerk",
                "groups_id": [
                    Command.set(
                        [
                            self.env.ref("base.group_user").id,
                            self.env.ref("account.group_account_invoice").id,
                        ]
                    )
                ],
            }
        )
        with self.assertRaises(AccessError):
            writeoff.with_user(clerk).action_fi_stripe_approve_writeoff()
        # USD 30 <= 50: one finance user (an operator here) approves
        writeoff.with_user(self.owner).action_fi_stripe_approve_writeoff()
        self.assertEqual(writeoff.state, "posted")
        self.assertEqual(writeoff.fi_stripe_approver_id, self.owner)
        self.assertEqual(move.amount_residual, 0.0)
        self.assertIn(move.payment_state, ("paid", "in_payment"))
        self.assertAlmostEqual(self.balance(self.bad_debts), 30.00)
        self.assertEqual(case.state, "resolved")
        self.assertIn(
            ("stripe.uncollectible_writeoff_posted", message.correlation_id),
            [(t, kw.get("correlation_id")) for t, kw in self.events],
        )
        self.assertNotIn("stripe_pending_bad_debts", self.blockers())
        # a redelivery proposes nothing more
        self.deliver(
            self.stripe.event(
                "invoice.marked_uncollectible", self.stripe.objects["in_unc_0001"]
            )
        )
        self.run_jobs()
        self.assertEqual(self.bound("uncollectible_writeoff", "in_unc_0001"), writeoff)
        self.assertEqual(
            self.env["account.move"].search_count(
                [("fi_stripe_writeoff_invoice_id", "=", move.id)]
            ),
            1,
        )

    def test_write_off_above_the_threshold_needs_two_users_never_the_proposer(self):
        move, _message = self.uncollectible(120.00, "in_unc_0002")
        writeoff = self.bound("uncollectible_writeoff", "in_unc_0002")
        # the integration user proposed it: segregation of duties
        with self.assertRaises(UserError):
            writeoff.with_user(self.stripe_bot).action_fi_stripe_approve_writeoff()
        writeoff.with_user(self.owner).action_fi_stripe_approve_writeoff()
        self.assertEqual(writeoff.fi_stripe_writeoff_state, "first_approved")
        self.assertEqual(writeoff.state, "draft", "USD 120 > 50: a second approver")
        with self.assertRaises(UserError):
            writeoff.with_user(self.owner).action_fi_stripe_approve_writeoff()
        writeoff.with_user(self.manager_b).action_fi_stripe_approve_writeoff()
        self.assertEqual(writeoff.state, "posted")
        self.assertEqual(writeoff.fi_stripe_first_approver_id, self.owner)
        self.assertEqual(writeoff.fi_stripe_approver_id, self.manager_b)
        self.assertEqual(move.amount_residual, 0.0)
        self.assertAlmostEqual(self.balance(self.bad_debts), 120.00)

    def test_invoice_paid_by_hand_in_odoo_withdraws_the_write_off_at_once(self):
        move, _message = self.uncollectible(40.00, "in_unc_0003")
        writeoff = self.bound("uncollectible_writeoff", "in_unc_0003")
        self.assertIn("stripe_pending_bad_debts", self.blockers())
        # a payment registered in Odoo, not through Stripe
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=move.ids
        ).create({})._create_payments()
        self.assertEqual(move.amount_residual, 0.0)
        # withdrawn when the invoice is paid, before anyone tries to approve
        self.assertEqual(writeoff.fi_stripe_writeoff_state, "cancelled")
        self.assertEqual(writeoff.state, "cancel")
        self.assertIn("paid", writeoff.fi_stripe_writeoff_note)
        case = self.bound("uncollectible_case", "in_unc_0003")
        self.assertEqual(case.state, "resolved")
        self.assertIn("paid", case.resolution_note)
        self.assertAlmostEqual(self.balance(self.bad_debts), 0.0)
        self.assertIn(
            "stripe.uncollectible_writeoff_cancelled", [t for t, _kw in self.events]
        )
        self.assertNotIn("stripe_pending_bad_debts", self.blockers())
        with self.assertRaisesRegex(UserError, "not waiting for approval"):
            writeoff.with_user(self.owner).action_fi_stripe_approve_writeoff()

    def test_invoice_reset_to_draft_cancels_the_write_off_at_approval(self):
        move, _message = self.uncollectible(42.00, "in_unc_0006")
        writeoff = self.bound("uncollectible_writeoff", "in_unc_0006")
        move.button_draft()
        writeoff.with_user(self.owner).action_fi_stripe_approve_writeoff()
        self.assertEqual(writeoff.fi_stripe_writeoff_state, "cancelled")
        self.assertIn("no longer posted", writeoff.fi_stripe_writeoff_note)
        self.assertAlmostEqual(self.balance(self.bad_debts), 0.0)

    def test_invoice_voided_in_stripe_cancels_the_write_off(self):
        move, _message = self.uncollectible(45.00, "in_unc_0004")
        writeoff = self.bound("uncollectible_writeoff", "in_unc_0004")
        self.stripe.objects["in_unc_0004"]["status"] = "void"
        # Stripe does not order events: the current object says it is void
        event = self.stripe.event(
            "invoice.marked_uncollectible", self.stripe.objects["in_unc_0004"]
        )
        self.deliver(event)
        self.run_jobs()
        self.assertEqual(self.message_of(event).state, "done")
        self.assertEqual(writeoff.fi_stripe_writeoff_state, "cancelled")
        self.assertIn("void", writeoff.fi_stripe_writeoff_note)
        self.assertEqual(
            self.bound("uncollectible_case", "in_unc_0004").state, "resolved"
        )
        with self.assertRaises(UserError):
            writeoff.with_user(self.owner).action_fi_stripe_approve_writeoff()
        self.assertEqual(move.amount_residual, 45.00)

    def test_stripe_payment_of_the_invoice_withdraws_its_write_off_at_once(self):
        move, _message = self.uncollectible(35.00, "in_unc_0005")
        writeoff = self.bound("uncollectible_writeoff", "in_unc_0005")
        intent = self.intent(move, 3500)
        event = self.stripe.event("payment_intent.succeeded", intent)
        self.deliver(event)
        self.run_jobs()
        paying = self.message_of(event)
        self.assertEqual(paying.state, "done", paying.error_message)
        self.assertEqual(move.amount_residual, 0.0)
        # withdrawn when the payment posts, not when someone tries to approve
        self.assertEqual(writeoff.fi_stripe_writeoff_state, "cancelled")
        self.assertEqual(writeoff.state, "cancel")
        self.assertIn("paid", writeoff.fi_stripe_writeoff_note)
        case = self.bound("uncollectible_case", "in_unc_0005")
        self.assertEqual(case.state, "resolved")
        cancelled = [
            kw
            for t, kw in self.events
            if t == "stripe.uncollectible_writeoff_cancelled"
        ]
        self.assertEqual(len(cancelled), 1)
        self.assertEqual(cancelled[0].get("message"), paying)
        self.assertNotIn("stripe_pending_bad_debts", self.blockers())
