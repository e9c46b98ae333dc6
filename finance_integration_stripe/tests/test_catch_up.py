# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Catch-up after an outage longer than the 30 days /v1/events keeps: the
objects themselves, listed by creation date, through the same intake."""

import time

from odoo.tests import tagged

from .common import StripeCommon

DAY = 86400


@tagged("post_install", "-at_install")
class TestStripeCatchUpBeyondEvents(StripeCommon):
    def setUp(self):
        super().setUp()
        # the events other tests left on the class's Stripe are not this one's
        with self.stripe.lock:
            for oid in [
                o for o, obj in self.stripe.objects.items() if obj["object"] == "event"
            ]:
                del self.stripe.objects[oid]
                self.stripe.order.remove(oid)
        now = int(time.time())
        self.outage_start = now - 40 * DAY
        self.endpoint.sudo().stripe_last_event_created = self.outage_start
        t = self.outage_start + 5 * DAY
        self.inv1, self.inv2, self.inv_old = (
            self.invoice(amount) for amount in (30.0, 45.0, 12.0)
        )
        self.pi1 = self.intent(self.inv1, 3000, id="pi_cu_1")
        self.pi2 = self.intent(self.inv2, 4500, id="pi_cu_2")
        self.pi_old = self.intent(self.inv_old, 1200, id="pi_cu_old")
        for intent, created in ((self.pi1, t), (self.pi2, t + 1), (self.pi_old, 1)):
            self.stripe.objects[intent["latest_charge"]]["created"] = created
            intent["created"] = created
        # the webhook of the first payment got through before the outage
        self.deliver(self.stripe.event("payment_intent.succeeded", self.pi1))
        self.run_jobs()
        self.refund = self.stripe.add(
            "refund",
            id="re_cu_1",
            amount=500,
            currency="usd",
            charge=self.pi1["latest_charge"],
            payment_intent=self.pi1["id"],
            status="succeeded",
            created=t + 2,
        )
        self.dispute = self.stripe.add(
            "dispute",
            id="dp_cu_2",
            amount=4500,
            currency="usd",
            charge=self.pi2["latest_charge"],
            payment_intent=self.pi2["id"],
            status="needs_response",
            balance_transactions=[],
            evidence_details={"due_by": now + 3 * DAY},
            created=t + 3,
        )
        self.stripe.add(
            "balance_transaction",
            id="txn_cu_1",
            type="charge",
            reporting_category="charge",
            amount=3000,
            fee=117,
            net=2883,
            currency="usd",
            fee_details=[{"amount": 117, "currency": "usd", "type": "stripe_fee"}],
            source=self.pi1["latest_charge"],
            _payout="po_cu",
            created=t,
        )
        self.payout = self.stripe.add(
            "payout",
            id="po_cu",
            amount=2883,
            currency="usd",
            status="paid",
            automatic=True,
            reconciliation_status="completed",
            created=t + 4,
        )

    def payments_of(self, memo):
        return self.env["account.payment"].search_count([("memo", "=", memo)])

    def test_dry_run_reports_what_it_would_create_and_stores_nothing(self):
        messages = self.env["fi.message"].search_count([])
        report = self.endpoint._fi_stripe_backfill(self.outage_start, dry_run=True)
        self.assertEqual(
            report["would_create"],
            {"payment_intent": 1, "refund": 1, "dispute_case": 1, "payout": 1},
        )
        self.assertEqual(report["examples"]["payment_intent"], ["pi_cu_2"])
        self.assertEqual(report["known"], 1, "pi_cu_1 is already paid in Odoo")
        self.assertEqual(report["stored"], 0)
        self.assertEqual(self.env["fi.message"].search_count([]), messages)
        self.assertFalse(self.bound("payment_intent", "pi_cu_2"))
        # the wizard says the same to a person
        wizard = self.env["fi.stripe.backfill"].create(
            {"endpoint_id": self.endpoint.id, "since": "2020-01-01 00:00:00"}
        )
        wizard.action_run()
        self.assertIn("Would create 1 payout: po_cu", wizard.result)
        self.assertEqual(self.env["fi.message"].search_count([]), messages)

    def test_outage_beyond_30_days_lists_objects_and_doubles_nothing(self):
        events_before = self.stripe.count("GET", "/v1/events")
        seen, stored = self.endpoint._fi_stripe_catch_up()
        self.assertEqual(self.stripe.count("GET", "/v1/events"), events_before)
        for path in ("/v1/charges", "/v1/refunds", "/v1/disputes", "/v1/payouts"):
            queries = [q for m, p, q, _h, _b in self.stripe.requests if p == path]
            self.assertTrue(queries, f"{path} listed")
            self.assertEqual(
                queries[-1].get("created[gte]"), str(self.outage_start - 1)
            )
        self.assertEqual((seen, stored), (5, 5))
        self.run_jobs()
        self.run_jobs(ignore_eta=True)
        self.assertIn(self.inv2.payment_state, ("in_payment", "paid"))
        self.assertEqual(self.inv_old.payment_state, "not_paid", "before the outage")
        self.assertEqual(self.payments_of("pi_cu_1"), 1, "delivered and listed: once")
        self.assertEqual(self.payments_of("pi_cu_2"), 1)
        self.assertEqual(self.bound("refund", "re_cu_1").amount, 5.0)
        self.assertEqual(self.bound("payout", "po_cu").state, "posted")
        self.assertEqual(self.bound("dispute_case", "dp_cu_2").state, "new")
        # caught up: the next run is back on /v1/events and stores nothing
        self.assertGreater(self.endpoint.stripe_last_event_created, self.outage_start)
        _seen, stored = self.endpoint._fi_stripe_catch_up()
        self.assertEqual(stored, 0)
        self.assertGreater(self.stripe.count("GET", "/v1/events"), events_before)
        # listing the objects again stores nothing either
        report = self.endpoint._fi_stripe_backfill(self.outage_start)
        self.assertEqual((report["seen"], report["stored"]), (5, 0))
        self.run_jobs()
        self.assertEqual(self.payments_of("pi_cu_2"), 1)
        self.assertEqual(self.payments_of("re_cu_1"), 1)
