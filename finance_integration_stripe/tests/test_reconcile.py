# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Daily reconciliation: Stripe's charges, refunds and invoices of a day (in
the company's time zone) against Odoo's postings."""

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from odoo.tests import tagged

from .common import StripeCommon

TZ = "America/New_York"


@tagged("post_install", "-at_install")
class TestStripeDailyReconciliation(StripeCommon):
    def setUp(self):
        super().setUp()
        self.company.partner_id.tz = TZ
        self.now = int(time.time())
        self.day = datetime.now(ZoneInfo(TZ)).date()
        start, _end = self.endpoint._fi_stripe_day_window(self.day)
        self.yesterday = start - 3600

    def charge_of(self, intent, created):
        self.stripe.objects[intent["latest_charge"]]["created"] = created
        intent["created"] = created

    def paid(self, amount, minor, pid, created, deliver=True):
        invoice = self.invoice(amount)
        intent = self.intent(invoice, minor, id=pid)
        self.charge_of(intent, created)
        if deliver:
            self.deliver(self.stripe.event("payment_intent.succeeded", intent))
            self.run_jobs()
        return intent

    def test_differences_of_the_day_open_one_exception_until_fixed(self):
        a = self.paid(10.00, 1000, "pi_rc_a", self.now)
        b = self.paid(20.00, 2000, "pi_rc_b", self.now, deliver=False)
        # charged before midnight (company time), booked today: another day's
        self.paid(7.00, 700, "pi_rc_c", self.yesterday)
        refund = self.stripe.add(
            "refund",
            id="re_rc_a",
            amount=300,
            currency="usd",
            charge=a["latest_charge"],
            payment_intent=a["id"],
            status="succeeded",
            created=self.now,
        )
        self.deliver(self.stripe.event("refund.created", refund))
        self.run_jobs()
        self.stripe.objects["re_rc_a"]["amount"] = 400  # Stripe says 4.00 now
        original = self.bound("payment_intent", "pi_rc_a")
        ghost = self.endpoint._fi_stripe_post_payment(
            None, original.partner_id, self.usd, 5, "inbound", "pi_rc_ghost"
        )
        self.env["fi.binding"].bind(
            self.endpoint, "payment_intent", "pi_rc_ghost", ghost
        )

        outcome = self.endpoint._fi_stripe_reconcile_day(self.day)
        result = outcome["result"]
        self.assertEqual(
            result.missing_in_odoo, [(("payment_intent", "pi_rc_b"), "usd", 2000)]
        )
        self.assertEqual(
            result.missing_in_stripe, [(("payment_intent", "pi_rc_ghost"), "usd", 500)]
        )
        self.assertEqual(result.different, [(("refund", "re_rc_a"), "usd", -400, -300)])
        self.assertEqual(
            outcome["totals"], {"USD": {"stripe": "26.00", "odoo": "12.00"}}
        )
        case = outcome["exception"]
        self.assertEqual(case.state, "new")
        self.assertEqual(case.endpoint_id, self.endpoint)
        self.assertIn("pi_rc_b: 20.00 USD in Stripe, not in Odoo", case.detail)
        self.assertIn("re_rc_a: Stripe -4.00 USD, Odoo -3.00 USD", case.detail)
        self.assertIn("Total USD: Stripe 26.00 USD, Odoo 12.00 USD", case.detail)
        self.assertNotIn("pi_rc_c", case.detail)
        # run again: the same exception, updated
        self.assertEqual(
            self.endpoint._fi_stripe_reconcile_day(self.day)["exception"], case
        )
        # fixed: the missing payment arrives, the refund agrees, the ghost is gone
        self.deliver(self.stripe.event("payment_intent.succeeded", b))
        self.run_jobs()
        self.stripe.objects["re_rc_a"]["amount"] = 300
        ghost.action_cancel()
        outcome = self.endpoint._fi_stripe_reconcile_day(self.day)
        self.assertFalse(outcome["result"])
        self.assertEqual(
            outcome["totals"], {"USD": {"stripe": "27.00", "odoo": "27.00"}}
        )
        self.assertEqual(case.state, "resolved")

    def test_cron_reconciles_each_finished_day_once(self):
        self.endpoint.sudo().write(
            {
                "stripe_reconciled_day": self.day - timedelta(days=3),
                "stripe_reconcile_grace_hours": 0,
            }
        )
        self.env["fi.endpoint"]._cron_fi_stripe_reconcile()
        self.assertEqual(
            self.endpoint.stripe_reconciled_day, self.day - timedelta(days=1)
        )
        listed = self.stripe.count("GET", "/v1/charges")
        self.env["fi.endpoint"]._cron_fi_stripe_reconcile()
        self.assertEqual(self.stripe.count("GET", "/v1/charges"), listed)
