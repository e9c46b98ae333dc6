# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json
import time

import stripe

from odoo.tests import HttpCase, tagged

from .common import WHSEC, StripeCommon


@tagged("post_install", "-at_install")
class TestStripeWebhookRoute(StripeCommon, HttpCase):
    def post(self, event, secret=WHSEC, body=None):
        body = body or json.dumps(event).encode()
        header = stripe.WebhookSignature.generate_signature_header(
            body.decode(), secret, timestamp=int(time.time())
        )
        return self.url_open(
            f"/fi/webhook/{self.endpoint.key}",
            data=body,
            headers={"Content-Type": "application/json", "Stripe-Signature": header},
        )

    def test_sdk_signed_webhook_through_the_route_pays_the_invoice(self):
        invoice = self.invoice(88.00)
        intent = self.intent(invoice, 8800)
        event = self.stripe.event("payment_intent.succeeded", intent)
        response = self.post(event)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json()["status"], "received")
        # redelivered by Stripe: 2xx, nothing new
        again = self.post(event)
        self.assertEqual(again.status_code, 200)
        self.assertEqual(again.json()["status"], "duplicate")
        self.run_jobs()
        self.assertEqual(invoice.payment_state, "paid")
        self.assertEqual(self.message_of(event).state, "done")

    def test_tampered_body_and_wrong_secret_are_refused_at_the_route(self):
        event = self.stripe.event(
            "payment_intent.succeeded", self.intent(None, 100, id="pi_route_tampered")
        )
        body = json.dumps(event).encode()
        header = stripe.WebhookSignature.generate_signature_header(
            body.decode(), WHSEC, timestamp=int(time.time())
        )
        tampered = body.replace(b'"amount": 100', b'"amount": 900')
        response = self.url_open(
            f"/fi/webhook/{self.endpoint.key}",
            data=tampered,
            headers={"Content-Type": "application/json", "Stripe-Signature": header},
        )
        self.assertEqual(response.status_code, 401)
        self.assertEqual(self.post(event, secret="whsec_other").status_code, 401)
        self.assertFalse(self.message_of(event))
        # an event type with no flow: stored, 2xx, ignored with its reason
        other = self.stripe.event(
            "customer.subscription.trial_will_end", {"id": "sub_1"}
        )
        response = self.post(other)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.message_of(other).state, "ignored")
