# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Daily reconciliation: Stripe's charges, refunds and invoices of a day (in
the company's time zone) against Odoo's postings."""

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from odoo.tests import HttpCase, tagged

from odoo.addons.finance_integration_core.tests.common import browser_js_screenshot

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
        # billed, paid and refunded apart, never one sum of the three
        self.assertEqual(
            outcome["totals"],
            {
                "USD": {
                    "paid": {"stripe": "30.00", "odoo": "15.00"},
                    "refunded": {"stripe": "4.00", "odoo": "3.00"},
                }
            },
        )
        case = outcome["exception"]
        register = outcome["register"]
        self.assertEqual(
            [
                (
                    row.day,
                    row.currency_id,
                    row.paid_stripe,
                    row.paid_odoo,
                    row.refunded_stripe,
                    row.refunded_odoo,
                    row.billed_stripe,
                    row.difference_count,
                    row.state,
                    row.exception_id,
                )
                for row in register
            ],
            [(self.day, self.usd, 30.0, 15.0, 4.0, 3.0, 0.0, 3, "different", case)],
        )
        self.assertEqual(case.state, "new")
        self.assertEqual(case.endpoint_id, self.endpoint)
        self.assertIn("pi_rc_b: 20.00 USD in Stripe, not in Odoo", case.detail)
        self.assertIn("re_rc_a: Stripe -4.00 USD, Odoo -3.00 USD", case.detail)
        self.assertIn("Total USD paid: Stripe 30.00 USD, Odoo 15.00 USD", case.detail)
        self.assertIn("Total USD refunded: Stripe 4.00 USD, Odoo 3.00 USD", case.detail)
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
            outcome["totals"],
            {
                "USD": {
                    "paid": {"stripe": "30.00", "odoo": "30.00"},
                    "refunded": {"stripe": "3.00", "odoo": "3.00"},
                }
            },
        )
        self.assertEqual(case.state, "resolved")
        # the day's row is replaced, not added to
        rows = self.env["fi.stripe.reconciliation"].search(
            [("endpoint_id", "=", self.endpoint.id), ("day", "=", self.day)]
        )
        self.assertEqual(rows, outcome["register"])
        self.assertEqual(
            (rows.paid_odoo, rows.difference_count, rows.state, rows.exception_id),
            (30.0, 0, "matched", self.env["fi.exception"]),
        )

    def test_card_present_payments_of_the_day_are_no_difference(self):
        # a day of its own: the local Stripe keeps its objects between tests
        day = self.day - timedelta(days=3)
        created = self.endpoint._fi_stripe_day_window(day)[0] + 3600
        self.paid(10.00, 1000, "pi_rc_online", created)
        store = self.intent(
            self.invoice(15.00),
            1500,
            id="pi_rc_store",
            payment_method_types=["card_present"],
        )
        self.stripe.objects[store["latest_charge"]]["payment_method_details"] = {
            "type": "card_present"
        }
        self.charge_of(store, created)
        event = self.stripe.event("payment_intent.succeeded", store)
        self.deliver(event)
        self.run_jobs()
        self.assertEqual(self.message_of(event).state, "ignored")
        # and its refund, ignored by the refund flow
        refund = self.stripe.add(
            "refund",
            id="re_rc_store",
            amount=500,
            currency="usd",
            charge=store["latest_charge"],
            payment_intent=store["id"],
            status="succeeded",
            created=created,
        )
        event = self.stripe.event("refund.created", refund)
        self.deliver(event)
        self.run_jobs()
        self.assertEqual(self.message_of(event).state, "ignored")
        outcome = self.endpoint._fi_stripe_reconcile_day(day)
        self.assertFalse(outcome["result"], "the flows ignore them: so does the day")
        self.assertEqual(outcome["register"].paid_stripe, 10.0)
        self.assertEqual(outcome["register"].refunded_stripe, 0.0)
        self.assertEqual(outcome["register"].state, "matched")

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


@tagged("post_install", "-at_install")
class TestStripeReconciliationRegister(HttpCase):
    def test_register_lists_each_day_differences_first_visible(self):
        endpoint = self.env["fi.endpoint"].create(
            {"name": "Stripe register endpoint", "provider": "stripe"}
        )
        register = self.env["fi.stripe.reconciliation"]
        register.search([]).unlink()  # the demo's day, when there is one
        for day, paid_odoo, state in (
            ("2026-11-29", 120.0, "matched"),
            ("2026-11-30", 95.5, "different"),
        ):
            register.create(
                {
                    "endpoint_id": endpoint.id,
                    "company_id": endpoint.company_id.id,
                    "day": day,
                    "currency_id": self.env.ref("base.USD").id,
                    "paid_stripe": 120.0,
                    "paid_odoo": paid_odoo,
                    "refunded_stripe": 10.0,
                    "refunded_odoo": 10.0,
                    "difference_count": int(state == "different"),
                    "state": state,
                }
            )
        action = self.env.ref(
            "finance_integration_stripe.fi_stripe_reconciliation_action"
        )

        code = """
            const rows = [...document.querySelectorAll(".o_list_view .o_data_row")];
            const texts = rows.map((row) => row.innerText);
            if (rows.length !== 2) {
                throw new Error("expected two days: " + texts + " in "
                    + document.body.innerText.slice(0, 2000));
            }
            // the newest day first, in red, with what differs
            if (!texts[0].includes("11/30/2026") || !texts[0].includes("95.50")
                    || !rows[0].classList.contains("text-danger")) {
                throw new Error("the day with a difference is not shown first: "
                    + texts[0]);
            }
            const header = document.querySelector(".o_list_view thead").innerText;
            for (const label of ["Paid in Stripe", "Payments in Odoo",
                    "Refunded in Stripe", "Differences"]) {
                if (!header.includes(label)) {
                    throw new Error("missing column: " + label);
                }
            }
            console.log("test successful");
        """
        browser_js_screenshot(
            self,
            "fi_stripe_reconciliation_",
            f"/odoo/action-{action.id}",
            code,
            ready='!!document.querySelector(".o_content, .o_error_dialog")',
        )
