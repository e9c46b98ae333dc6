# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The daily balance check: Stripe's balance per currency against the clearing
accounts, net of what is not paid out yet, so that only a real difference
opens an exception for finance."""

from decimal import Decimal

from odoo.tests import tagged

from .common import StripeCommon

#: each test looks at a window of Stripe time of its own (the local Stripe
#: keeps its objects across tests; no other test's balance transactions are in
#: the window, whatever the clock says)
WINDOW = 86_400


@tagged("post_install", "-at_install")
class TestStripeBalanceCheck(StripeCommon):
    def setUp(self):
        super().setUp()
        saved = self.stripe.balance
        self.addCleanup(setattr, self.stripe, "balance", saved)

    def paid(self, amount, minor, fee, created, currency="usd", txn=None):
        """A payment Odoo booked, and its balance transaction in Stripe."""
        invoice = self.invoice(
            amount, currency=self.env.ref(f"base.{currency.upper()}")
        )
        intent = self.intent(invoice, minor, currency=currency)
        self.deliver(self.stripe.event("payment_intent.succeeded", intent))
        self.run_jobs()
        self.assertTrue(self.bound("payment_intent", intent["id"]))
        return self.txn(
            txn or f"txn_{intent['id']}",
            "charge",
            minor,
            fee,
            created,
            currency=currency,
            source=intent["latest_charge"],
        )

    def txn(self, txn_id, category, amount, fee, created, currency="usd", **kw):
        values = {
            "id": txn_id,
            "type": category,
            "reporting_category": category,
            "amount": amount,
            "fee": fee,
            "net": amount - fee,
            "currency": currency,
            "fee_details": [{"amount": fee, "currency": currency, "type": "stripe_fee"}]
            if fee
            else [],
            "created": created,
        }
        values.update(kw)
        return self.stripe.add("balance_transaction", **values)

    def payout(self, pid, txns, created, **kw):
        amount = sum(txn["net"] for txn in txns)
        for txn in txns:
            self.stripe.objects[txn["id"]]["_payout"] = pid
            self.stripe.by_payout.setdefault(pid, []).append(txn["id"])
        self.txn(
            f"txn_{pid}_self", "payout", -amount, 0, created, source=pid, _payout=pid
        )
        values = {
            "id": pid,
            "amount": amount,
            "currency": "usd",
            "status": "in_transit",
            "automatic": True,
            "reconciliation_status": "in_progress",
            "created": created,
            "arrival_date": created,
        }
        values.update(kw)
        return self.stripe.add("payout", **values)

    def stripe_holds(self, usd, jpy=None):
        self.stripe.balance = {
            "object": "balance",
            "livemode": False,
            "available": [{"amount": usd, "currency": "usd"}],
            "pending": [{"amount": jpy, "currency": "jpy"}] if jpy is not None else [],
        }

    def window(self, index):
        """The start of this test's window, the endpoint's cut-over."""
        start = 1_900_000_000 + index * WINDOW
        self.endpoint.stripe_opening_cutover = start
        return start

    def check(self):
        until = self.endpoint.stripe_opening_cutover + WINDOW
        return self.endpoint._fi_stripe_check_balance(until=until)

    def balance_case(self):
        return self.bound("balance_check", "balance")

    def test_fees_and_payouts_not_settled_yet_are_no_difference(self):
        T0 = self.window(0)
        # in a payout Stripe made, Odoo has not settled yet: 50.00 less 1.75 fee
        in_payout = self.paid(50.00, 5000, 175, T0 + 10)
        payout = self.payout("po_bc_transit", [in_payout], T0 + 30)
        # not paid out yet: 10.99 less 0.62 fee; 5000 yen less 180 yen fee
        self.paid(10.99, 1099, 62, T0 + 40)
        self.paid(5000, 5000, 180, T0 + 45, currency="jpy")
        # a Stripe fee that Odoo books when its payout settles
        self.txn("txn_bc_radar", "fee", -200, 0, T0 + 50, type="stripe_fee")
        self.stripe_holds(usd=4825 + 1037 - 4825 - 200, jpy=4820)
        result = self.check()
        self.assertEqual(
            result["USD"],
            {
                "stripe": Decimal("8.37"),
                "odoo": Decimal("60.99"),
                "fees": Decimal("-2.37"),
                "payouts": Decimal("-48.25"),
                "other": Decimal("-2.00"),
                "converted": Decimal("0.00"),
                "expected": Decimal("-52.62"),
                "difference": Decimal("0.00"),
            },
        )
        self.assertEqual(result["JPY"]["fees"], Decimal("-180"))
        self.assertEqual(result["JPY"]["difference"], Decimal("0"))
        self.assertFalse(self.balance_case())
        self.assertEqual(self.endpoint.stripe_balance_watermark, T0 + 10)

        # the payout settles: its transactions leave the check
        self.stripe.objects[payout["id"]].update(
            status="paid", reconciliation_status="completed"
        )
        self.deliver(self.stripe.event("payout.reconciliation_completed", payout))
        self.run_jobs()
        self.assertTrue(self.bound("payout", payout["id"]))
        result = self.check()
        self.assertEqual(result["USD"]["odoo"], Decimal("10.99"))
        self.assertEqual(result["USD"]["fees"], Decimal("-0.62"))
        self.assertEqual(result["USD"]["payouts"], Decimal("0.00"))
        self.assertEqual(result["USD"]["difference"], Decimal("0.00"))
        # what is older than the oldest transaction still open is not listed again
        self.assertEqual(self.endpoint.stripe_balance_watermark, T0 + 40)

        # the payout fails: Stripe puts its money back, Odoo reverses the
        # settlement, and its transactions (older than the watermark) are
        # compared again
        self.stripe.objects[payout["id"]].update(
            status="failed", failure_code="account_closed"
        )
        self.txn(
            "txn_bc_transit_failed",
            "payout_failure",
            4825,
            0,
            T0 + 60,
            source=payout["id"],
            reporting_category="payout_reversal",
        )
        self.deliver(self.stripe.event("payout.failed", payout))
        self.run_jobs()
        self.assertTrue(self.bound("payout_failure", payout["id"]))
        self.stripe_holds(usd=4825 + 1037 - 200, jpy=4820)
        result = self.check()
        self.assertEqual(result["USD"]["odoo"], Decimal("60.99"))
        self.assertEqual(result["USD"]["fees"], Decimal("-2.37"))
        self.assertEqual(result["USD"]["payouts"], Decimal("0.00"))
        self.assertEqual(result["USD"]["difference"], Decimal("0.00"))
        self.assertFalse(self.balance_case())

    def test_a_payment_odoo_lacks_opens_one_exception_until_it_is_booked(self):
        T0 = self.window(1)
        self.paid(10.99, 1099, 62, T0 + 100)
        # Stripe took a payment the connector never booked (its event was lost)
        invoice = self.invoice(30.00)
        lost = self.intent(invoice, 3000)
        self.txn(
            "txn_bc_lost", "charge", 3000, 117, T0 + 110, source=lost["latest_charge"]
        )
        self.stripe_holds(usd=1037 + 2883)
        result = self.check()
        # the difference is the gross of the payment Odoo lacks, to the cent
        self.assertEqual(result["USD"]["difference"], Decimal("30.00"))
        case = self.balance_case()
        self.assertEqual(case.state, "new")
        self.assertEqual(case.error_code, "stripe_balance")
        self.assertIn(
            "USD: Stripe 39.20, clearing account 10.99; not paid out yet: fees "
            "-1.79, payouts Odoo has not settled 0.00, transactions booked at "
            "their payout 0.00, converted 0.00; difference 30.00",
            case.detail,
        )
        # checked again: the same item, not a second one
        self.check()
        self.assertEqual(self.balance_case(), case)
        self.assertEqual(
            self.env["fi.exception"].search_count(
                [("error_code", "=", "stripe_balance"), ("state", "=", "new")]
            ),
            1,
        )
        # the lost event is caught up: the next check finds no difference
        self.deliver(self.stripe.event("payment_intent.succeeded", lost))
        self.run_jobs()
        self.assertEqual(self.check()["USD"]["difference"], Decimal("0.00"))
        self.assertEqual(case.state, "resolved")
        self.assertEqual(case.resolution_note, "Checked again: no difference left.")
