# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import time

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import WHSEC, WHSEC_NEXT, StripeCommon


@tagged("post_install", "-at_install")
class TestStripePayments(StripeCommon):
    def test_signed_payment_intent_posts_one_reconciled_payment(self):
        invoice = self.invoice(10.99)
        intent = self.intent(invoice, 1099)
        event = self.stripe.event("payment_intent.succeeded", intent)
        status, answer = self.deliver(event)
        self.assertEqual((status, answer["status"]), (200, "received"))
        status, answer = self.deliver(event)  # Stripe redelivers
        self.assertEqual((status, answer["status"]), (200, "duplicate"))
        self.run_jobs()
        message = self.message_of(event)
        self.assertEqual(message.state, "done", message.error_message)
        payment = self.bound("payment_intent", intent["id"])
        self.assertEqual(message.res_id, payment.id)
        self.assertEqual(payment.state, "in_process")  # until the payout
        self.assertEqual(payment.amount, 10.99)
        self.assertEqual(payment.journal_id, self.endpoint.stripe_journal_id)
        self.assertEqual(payment.fi_correlation_id, message.correlation_id)
        self.assertEqual(invoice.payment_state, "paid")
        # a second event about the same PaymentIntent posts nothing more
        again = self.stripe.event("payment_intent.succeeded", intent)
        self.deliver(again)
        self.run_jobs()
        self.assertEqual(self.message_of(again).state, "done")
        self.assertEqual(
            self.env["account.payment"].search_count([("memo", "=", intent["id"])]), 1
        )

    def test_stripe_payment_has_one_provenance_note_and_the_invoice_tracks_paid(self):
        # the chatter as in production: the suite's tests run without tracking
        self.env = self.env(context=dict(self.env.context, tracking_disable=False))
        invoice = self.invoice(12.50)
        intent = self.intent(invoice, 1250)
        event = self.stripe.event("payment_intent.succeeded", intent)
        self.deliver(event)
        self.run_jobs()
        message = self.message_of(event)
        self.assertEqual(message.state, "done", message.error_message)
        payment = self.bound("payment_intent", intent["id"])
        # no "created" log, no "Draft -> In Process" tracking: one note that
        # says where the payment comes from
        notes = payment.message_ids
        self.assertEqual(len(notes), 1, notes.mapped("body"))
        for fact in (
            event["id"],
            intent["id"],
            message.correlation_id,
            str(message.id),
        ):
            self.assertIn(fact, notes.body)
        self.assertFalse(notes.tracking_value_ids)
        self.assertFalse(payment.move_id.message_ids.tracking_value_ids)
        # the invoice it pays tracks its payment status as usual
        tracked = invoice.message_ids.tracking_value_ids.filtered(
            lambda value: value.field_id.name == "payment_state"
        )
        self.assertEqual(tracked.mapped("new_value_char"), ["Paid"])

    def test_older_event_is_read_through_the_current_object(self):
        invoice = self.invoice(25.00)
        intent = self.intent(invoice, 2500, status="requires_payment_method")
        failed = self.stripe.event("payment_intent.payment_failed", intent)
        # by the time the failure is processed, the retry has succeeded
        self.intent(invoice, 2500, id=intent["id"], status="succeeded")
        self.deliver(failed)
        self.run_jobs()
        self.assertEqual(invoice.payment_state, "paid")
        self.assertTrue(self.bound("payment_intent", intent["id"]))

    def test_failed_payment_intent_posts_nothing_and_notes_the_invoice(self):
        invoice = self.invoice(30.00)
        intent = self.intent(invoice, 3000, status="requires_payment_method")
        event = self.stripe.event("payment_intent.payment_failed", intent)
        self.deliver(event)
        self.run_jobs()
        message = self.message_of(event)
        self.assertEqual(message.state, "done", message.error_message)
        self.assertFalse(self.bound("payment_intent", intent["id"]))
        self.assertEqual(invoice.payment_state, "not_paid")
        self.assertIn(intent["id"], invoice.message_ids[0].body)

    def test_unmatched_payment_opens_exception_listing_candidates(self):
        invoice = self.invoice(42.00)
        intent = self.intent(
            None, 4200, id="pi_unmatched_1", receipt_email="jenny.rosen@example.com"
        )
        event = self.stripe.event("payment_intent.succeeded", intent)
        self.deliver(event)
        self.run_jobs()
        message = self.message_of(event)
        self.assertEqual(message.state, "failed")
        self.assertEqual(message.error_code, "unmatched_payment")
        exception = message.exception_ids
        self.assertEqual(len(exception), 1)
        self.assertIn(invoice.name, exception.detail)
        self.assertIn("same email", exception.detail)
        self.assertIn("same amount", exception.detail)
        self.assertFalse(
            self.env["account.payment"].search([("memo", "=", "pi_unmatched_1")])
        )

    def test_zero_and_three_decimal_currencies_are_never_100x_off(self):
        self.env.ref("product.decimal_price").digits = 3
        jpy_invoice = self.invoice(5000, currency=self.jpy)
        jpy = self.intent(jpy_invoice, 5000, currency="jpy")
        kwd_invoice = self.invoice(12.345, currency=self.kwd)
        kwd = self.intent(kwd_invoice, 12345, currency="kwd")
        for intent in (jpy, kwd):
            self.deliver(self.stripe.event("payment_intent.succeeded", intent))
        self.run_jobs()
        self.assertEqual(self.bound("payment_intent", jpy["id"]).amount, 5000)
        self.assertEqual(self.bound("payment_intent", kwd["id"]).amount, 12.345)
        self.assertEqual(jpy_invoice.payment_state, "paid")
        self.assertEqual(kwd_invoice.payment_state, "paid")

    def test_api_down_then_up_retries_and_posts_once(self):
        invoice = self.invoice(19.00)
        intent = self.intent(invoice, 1900)
        event = self.stripe.event("payment_intent.succeeded", intent)
        self.stripe.down = 1
        self.deliver(event)
        self.run_jobs()
        message = self.message_of(event)
        self.assertEqual(message.state, "retry")
        self.assertEqual(message.error_code, "stripe_http_503")
        self.assertFalse(self.bound("payment_intent", intent["id"]))
        self.run_jobs(ignore_eta=True)
        self.assertEqual(message.state, "done")
        self.assertEqual(invoice.payment_state, "paid")

    def test_events_of_no_business_are_stored_and_ignored(self):
        other_app = self.intent(
            self.invoice(5.0), 500, id="pi_other_app", application="ca_other"
        )
        live = self.stripe.event(
            "payment_intent.succeeded",
            self.intent(self.invoice(6.0), 600),
            livemode=True,
        )
        events = [
            self.stripe.event("payment_intent.succeeded", other_app),
            live,
            self.stripe.event("plan.created", {"id": "price_1", "object": "plan"}),
        ]
        for event in events:
            status, _answer = self.deliver(event)
            self.assertEqual(status, 200)
        self.run_jobs()
        for event in events:
            message = self.message_of(event)
            self.assertEqual(message.state, "ignored", event["type"])
            self.assertTrue(message.error_message)
        self.assertIn("ca_other", self.message_of(events[0]).error_message)

    def test_signature_refusals_and_rotation(self):
        intent = self.intent(self.invoice(7.0), 700)
        event = self.stripe.event("payment_intent.succeeded", intent)
        self.assertEqual(self.deliver(event, secret="whsec_wrong")[0], 401)
        self.assertEqual(self.deliver(event, timestamp=int(time.time()) - 3600)[0], 401)
        self.assertEqual(self.deliver(event, secret=WHSEC_NEXT)[0], 401)
        self.endpoint.webhook_secret_next = WHSEC_NEXT
        self.env.registry.clear_cache()
        self.assertEqual(self.deliver(event, secret=WHSEC_NEXT)[0], 200)
        reasons = set(
            self.env["fi.security.event"]
            .search([("endpoint_id", "=", self.endpoint.id)])
            .mapped("reason")
        )
        self.assertEqual(reasons, {"bad_signature", "stale_timestamp"})
        stored = self.message_of(event)
        self.assertNotIn(WHSEC, stored.sudo().headers_json or "")
        self.assertNotIn("v1=", stored.sudo().headers_json or "")
        self.assertEqual(self.deliver(event, secret=WHSEC)[1]["status"], "duplicate")

    def test_payment_stripe_transaction_keeps_its_payment(self):
        invoice = self.invoice(15.00)
        intent = self.intent(invoice, 1500, id="pi_from_payment_stripe")
        provider = self.env.ref("payment.payment_provider_stripe")
        provider.journal_id = self.journal
        tx = self.env["payment.transaction"].create(
            {
                "provider_id": provider.id,
                "payment_method_id": self.env.ref("payment.payment_method_card").id,
                "reference": "TX-STRIPE-1",
                "amount": 15.00,
                "currency_id": self.usd.id,
                "partner_id": self.customer.id,
                "provider_reference": intent["id"],
                "invoice_ids": [(6, 0, invoice.ids)],
            }
        )
        # payment_stripe already posted its payment: the connector links it
        existing = self.env["account.payment"].create(
            {
                "payment_type": "inbound",
                "partner_type": "customer",
                "partner_id": self.customer.id,
                "amount": 15.00,
                "journal_id": self.journal.id,
                "payment_transaction_id": tx.id,
            }
        )
        existing.action_post()
        tx.payment_id = existing
        event = self.stripe.event("payment_intent.succeeded", intent)
        self.deliver(event)
        self.run_jobs()
        self.assertEqual(self.message_of(event).state, "done")
        self.assertEqual(self.bound("payment_intent", intent["id"]), existing)
        self.assertEqual(
            self.env["account.payment"].search_count(
                [("partner_id", "=", self.customer.id), ("amount", "=", 15.00)]
            ),
            1,
        )
        # a transaction still waiting gets the connector's payment as its own
        invoice2 = self.invoice(16.00)
        intent2 = self.intent(invoice2, 1600, id="pi_from_payment_stripe_2")
        tx2 = tx.copy(
            {
                "reference": "TX-STRIPE-2",
                "provider_reference": intent2["id"],
                "amount": 16,
                "payment_id": False,
                "invoice_ids": [(6, 0, invoice2.ids)],
            }
        )
        self.deliver(self.stripe.event("payment_intent.succeeded", intent2))
        self.run_jobs()
        payment = self.bound("payment_intent", intent2["id"])
        self.assertEqual(tx2.payment_id, payment)
        self.assertEqual(payment.payment_transaction_id, tx2)
        self.assertEqual(invoice2.payment_state, "paid")

    def test_connection_shows_account_and_refuses_mixed_modes(self):
        summary = self.endpoint._fi_test_connection()
        self.assertIn(self.stripe.account["id"], summary)
        self.assertIn("test mode", summary)
        request = [r for r in self.stripe.requests if r[1] == "/v1/account"][-1]
        self.assertEqual(request[3]["Stripe-Version"], "2022-04-12")
        self.endpoint.credential = "sk_live_abcdefabcdef"
        with self.assertRaisesRegex(UserError, "live Stripe key is refused"):
            self.endpoint._fi_test_connection()
        self.endpoint.credential = "pk_test_abcdef"
        with self.assertRaisesRegex(UserError, "secret"):
            self.endpoint._fi_test_connection()
        self.endpoint.credential = "sk_test_not_the_right_one"
        with self.assertRaisesRegex(UserError, "Invalid API Key"):
            self.endpoint._fi_test_connection()
