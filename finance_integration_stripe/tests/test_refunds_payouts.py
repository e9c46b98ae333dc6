# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.tests import tagged

from .common import StripeCommon


@tagged("post_install", "-at_install")
class TestStripeRefundsPayouts(StripeCommon):
    def paid_intent(self, amount, minor, currency="usd"):
        currency_record = self.env.ref(f"base.{currency.upper()}")
        invoice = self.invoice(amount, currency=currency_record)
        intent = self.intent(invoice, minor, currency=currency)
        self.deliver(self.stripe.event("payment_intent.succeeded", intent))
        self.run_jobs()
        self.assertTrue(self.bound("payment_intent", intent["id"]))
        return invoice, intent

    def refund(self, intent, minor, status="succeeded", **kw):
        return self.stripe.add(
            "refund",
            id=kw.pop("id"),
            amount=minor,
            currency=intent["currency"],
            charge=intent["latest_charge"],
            payment_intent=intent["id"],
            status=status,
            **kw,
        )

    # -- refunds ---------------------------------------------------------
    def test_partial_refunds_post_one_payment_each(self):
        _invoice, intent = self.paid_intent(100.00, 10000)
        first = self.refund(intent, 2500, id="re_partial_1")
        second = self.refund(intent, 1000, id="re_partial_2")
        self.deliver(self.stripe.event("refund.created", first))
        self.deliver(self.stripe.event("refund.created", second))
        # charge.refunded lists both refunds: neither is posted twice
        charge = self.stripe.objects[intent["latest_charge"]]
        self.deliver(self.stripe.event("charge.refunded", charge))
        self.run_jobs()
        refunds = self.env["account.payment"].search(
            [("memo", "in", ("re_partial_1", "re_partial_2"))]
        )
        self.assertEqual(sorted(refunds.mapped("amount")), [10.0, 25.0])
        self.assertEqual(set(refunds.mapped("payment_type")), {"outbound"})
        self.assertEqual(set(refunds.mapped("state")), {"in_process"})

    def test_refund_before_its_charge_waits_then_posts(self):
        invoice = self.invoice(40.00)
        intent = self.intent(invoice, 4000)
        refund = self.refund(intent, 4000, id="re_early")
        early = self.stripe.event("refund.created", refund)
        self.deliver(early)
        self.run_jobs()
        message = self.message_of(early)
        self.assertEqual(message.state, "retry")
        self.assertEqual(message.error_code, "stripe_out_of_order")
        self.deliver(self.stripe.event("payment_intent.succeeded", intent))
        self.run_jobs(ignore_eta=True)
        self.assertEqual(message.state, "done")
        self.assertEqual(self.bound("refund", "re_early").amount, 40.0)

    def test_refund_of_a_payment_not_ours_is_ignored_not_retried(self):
        in_store = self.intent(
            self.invoice(30.00), 3000, payment_method_types=["card_present"]
        )
        other_app = self.intent(self.invoice(20.00), 2000, application="ca_other")
        for intent, why in (
            (in_store, "is a card-present payment"),
            (other_app, "belongs to the Stripe application ca_other"),
        ):
            refund = self.refund(intent, 1000, id=f"re_not_ours_{intent['id']}")
            event = self.stripe.event("refund.created", refund)
            self.deliver(event)
            self.run_jobs()
            message = self.message_of(event)
            self.assertEqual(message.state, "ignored", why)
            self.assertIn("is not this connector's business", message.error_message)
            self.assertIn(f"PaymentIntent {intent['id']} {why}", message.error_message)
            self.assertFalse(self.bound("refund", refund["id"]))

    def test_failed_refund_reverses_its_payment(self):
        _invoice, intent = self.paid_intent(50.00, 5000)
        refund = self.refund(intent, 2000, id="re_fails")
        self.deliver(self.stripe.event("refund.created", refund))
        self.run_jobs()
        payment = self.bound("refund", "re_fails")
        self.assertEqual(payment.state, "in_process")
        self.refund(intent, 2000, id="re_fails", status="failed")
        self.deliver(self.stripe.event("refund.failed", refund))
        self.run_jobs()
        self.assertEqual(payment.state, "canceled")

    def test_refund_started_in_odoo_is_never_posted_twice(self):
        _invoice, intent = self.paid_intent(60.00, 6000)
        api = self.endpoint._fi_stripe_api()
        params = {"payment_intent": intent["id"], "amount": 1500}
        created = api.post("/v1/refunds", params, idempotency_key="odoo-refund-1")
        # the same key and body answer the same; another body is refused
        self.assertEqual(
            api.post("/v1/refunds", params, idempotency_key="odoo-refund-1")["id"],
            created["id"],
        )
        with self.assertRaises(Exception) as caught:
            api.post(
                "/v1/refunds",
                dict(params, amount=1600),
                idempotency_key="odoo-refund-1",
            )
        self.assertEqual(caught.exception.reason_code, "stripe_idempotency_error")
        original = self.bound("payment_intent", intent["id"])
        mine = self.endpoint._fi_stripe_post_payment(
            None, original.partner_id, self.usd, 15, "outbound", created["id"]
        )
        self.env["fi.binding"].bind(self.endpoint, "refund", created["id"], mine)
        self.deliver(self.stripe.event("refund.created", created))
        self.run_jobs()
        self.assertEqual(
            self.env["account.payment"].search_count([("memo", "=", created["id"])]), 1
        )

    # -- payouts ---------------------------------------------------------
    def payout(self, pid, amount, currency="usd", txns=(), **kw):
        for index, (kind, category, gross, fee) in enumerate(txns):
            self.stripe.add(
                "balance_transaction",
                id=f"txn_{pid}_{index}",
                type=kind,
                reporting_category=category,
                amount=gross,
                fee=fee,
                net=gross - fee,
                currency=currency,
                fee_details=[
                    {"amount": fee, "currency": currency, "type": "stripe_fee"}
                ]
                if fee
                else [],
                source=f"ch_{pid}_{index}",
                _payout=pid,
            )
        self.stripe.add(
            "balance_transaction",
            id=f"txn_{pid}_self",
            type="payout",
            reporting_category="payout",
            amount=-amount,
            fee=0,
            net=-amount,
            currency=currency,
            fee_details=[],
            source=pid,
            _payout=pid,
        )
        values = {
            "id": pid,
            "amount": amount,
            "currency": currency,
            "status": "paid",
            "automatic": True,
            "reconciliation_status": "completed",
        }
        values.update(kw)
        return self.stripe.add("payout", **values)

    def test_payout_settles_in_one_balanced_entry_with_fees(self):
        txns = [("charge", "charge", 10000, 320)] * 150 + [
            ("refund", "refund", -2500, 0),
            ("adjustment", "dispute", -1500, 1500),
        ]
        net = sum(gross - fee for _k, _c, gross, fee in txns)
        payout = self.payout("po_settles", net, txns=txns)
        pages_before = self.stripe.count("GET", "/v1/balance_transactions")
        event = self.stripe.event("payout.reconciliation_completed", payout)
        self.deliver(event)
        self.run_jobs()
        message = self.message_of(event)
        self.assertEqual(message.state, "done", message.error_message)
        move = self.bound("payout", "po_settles")
        self.assertEqual(move.state, "posted")
        self.assertEqual(move.ref, "po_settles")

        def total(account):
            return sum(
                move.line_ids.filtered(lambda line: line.account_id == account).mapped(
                    "balance"
                )
            )

        self.assertAlmostEqual(total(self.clearing), -(1500000 - 2500) / 100)
        self.assertAlmostEqual(total(self.fees), (150 * 320 + 1500) / 100)
        self.assertAlmostEqual(total(self.disputes), 15.00)
        transit = move.line_ids.filtered(lambda line: line.account_id == self.transit)
        self.assertAlmostEqual(transit.balance, net / 100)
        self.assertEqual(transit.fi_stripe_ref, "po_settles")
        # 153 transactions came in pages of 100
        self.assertEqual(
            self.stripe.count("GET", "/v1/balance_transactions") - pages_before, 2
        )
        # payout.paid afterwards settles nothing again
        self.deliver(self.stripe.event("payout.paid", payout))
        self.run_jobs()
        self.assertEqual(
            self.env["account.move"].search_count([("ref", "=", "po_settles")]), 1
        )

    def test_payout_variance_opens_an_exception(self):
        payout = self.payout(
            "po_variance", 9000, txns=[("charge", "charge", 10000, 290)]
        )
        event = self.stripe.event("payout.reconciliation_completed", payout)
        self.deliver(event)
        self.run_jobs()
        message = self.message_of(event)
        self.assertEqual(message.state, "failed")
        self.assertEqual(message.error_code, "settlement_variance")
        self.assertIn("difference -7.10 USD", message.exception_ids.detail)
        self.assertFalse(self.bound("payout", "po_variance"))

    def test_unknown_balance_category_is_never_dropped(self):
        payout = self.payout("po_unknown", 1000, txns=[("topup", "topup", 1000, 0)])
        event = self.stripe.event("payout.reconciliation_completed", payout)
        self.deliver(event)
        self.run_jobs()
        message = self.message_of(event)
        self.assertEqual(message.state, "failed")
        self.assertEqual(message.error_code, "missing_mapping")
        self.assertIn("topup", message.error_message)

    def test_payout_not_yet_reconciled_waits_and_failed_payout_reverses(self):
        payout = self.payout(
            "po_fails",
            970,
            txns=[("charge", "charge", 1000, 30)],
            reconciliation_status="in_progress",
            status="in_transit",
        )
        early = self.stripe.event("payout.paid", payout)
        self.deliver(early)
        self.run_jobs()
        self.assertEqual(self.message_of(early).state, "ignored")
        self.stripe.objects["po_fails"]["reconciliation_status"] = "completed"
        self.deliver(self.stripe.event("payout.reconciliation_completed", payout))
        self.run_jobs()
        move = self.bound("payout", "po_fails")
        self.assertEqual(move.state, "posted")
        self.stripe.objects["po_fails"].update(
            status="failed", failure_code="account_closed"
        )
        self.deliver(self.stripe.event("payout.failed", payout))
        self.run_jobs()
        reversal = self.bound("payout_failure", "po_fails")
        self.assertEqual(reversal.reversed_entry_id, move)
        self.assertIn("account_closed", reversal.ref)

    def test_jpy_payout_keeps_whole_yen(self):
        payout = self.payout(
            "po_jpy", 9640, currency="jpy", txns=[("charge", "charge", 10000, 360)]
        )
        self.deliver(self.stripe.event("payout.reconciliation_completed", payout))
        self.run_jobs()
        move = self.bound("payout", "po_jpy")
        transit = move.line_ids.filtered(lambda line: line.account_id == self.transit)
        self.assertEqual(transit.amount_currency, 9640)
        self.assertEqual(transit.currency_id, self.jpy)

    # -- catch-up --------------------------------------------------------
    def test_catch_up_after_an_outage_misses_nothing_and_doubles_nothing(self):
        invoices = [self.invoice(11.0 + n) for n in range(3)]
        intents = [self.intent(inv, 1100 + 100 * n) for n, inv in enumerate(invoices)]
        events = [self.stripe.event("payment_intent.succeeded", i) for i in intents]
        self.deliver(events[0])  # the only one that got through
        seen, stored = self.endpoint._fi_stripe_catch_up()
        self.assertEqual(stored, 2)
        self.assertEqual(
            seen,
            len(
                [o for o in self.stripe.objects.values() if o.get("object") == "event"]
            ),
        )
        self.run_jobs()
        for invoice in invoices:
            self.assertEqual(invoice.payment_state, "paid")
        seen, stored = self.endpoint._fi_stripe_catch_up()
        self.assertEqual(stored, 0)
        self.assertTrue(self.endpoint.stripe_last_event_created)
        self.assertEqual(
            self.env["fi.message"].search_count(
                [("external_id", "in", [e["id"] for e in events])]
            ),
            3,
        )
