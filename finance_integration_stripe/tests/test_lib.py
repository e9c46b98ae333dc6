# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import doctest
import json
import time
from decimal import Decimal

import stripe

from odoo.tests import BaseCase, tagged

from odoo.addons.finance_integration_core.lib.errors import (
    FiBusinessError,
    FiTransientError,
    SignatureError,
)
from odoo.addons.finance_integration_core.lib.http import HttpResult

from ..lib import (
    api,
    balance,
    batch,
    catchup,
    form,
    money,
    reconcile,
    settlement,
    signature,
)

SECRET = "whsec_test_lib_0123456789"
OTHER = "whsec_test_lib_rotated_987"


def load_tests(loader, tests, ignore):
    doctested = (
        api,
        balance,
        batch,
        catchup,
        form,
        money,
        reconcile,
        settlement,
        signature,
    )
    for module in doctested:
        tests.addTests(doctest.DocTestSuite(module))
    return tests


def sdk_header(body, secret, timestamp=None):
    """What the official Stripe SDK puts in Stripe-Signature."""
    return stripe.WebhookSignature.generate_signature_header(
        body.decode("utf-8"), secret, timestamp=timestamp
    )


@tagged("post_install", "-at_install")
class TestStripeSignature(BaseCase):
    body = json.dumps({"id": "evt_1", "type": "payment_intent.succeeded"}).encode()

    def test_what_the_sdk_signs_is_accepted(self):
        header = sdk_header(self.body, SECRET)
        self.assertTrue(signature.verify(self.body, header, (SECRET,)))
        # and the SDK accepts what our helper signs
        mine = signature.sign(self.body, SECRET, int(time.time()))
        stripe.WebhookSignature.verify_header(self.body.decode(), mine, SECRET, 300)

    def test_every_v1_is_accepted_during_rotation(self):
        now = int(time.time())
        old = sdk_header(self.body, OTHER, now)
        new = sdk_header(self.body, SECRET, now).split(",")[1]
        header = f"{old},{new},v0=deadbeef"
        self.assertTrue(signature.verify(self.body, header, (SECRET,)))
        self.assertTrue(signature.verify(self.body, header, (OTHER,)))
        # the endpoint's second secret is accepted as well
        single = sdk_header(self.body, OTHER, now)
        self.assertTrue(signature.verify(self.body, single, (SECRET, OTHER)))

    def test_tampered_body_is_refused(self):
        header = sdk_header(self.body, SECRET)
        with self.assertRaises(SignatureError) as caught:
            signature.verify(self.body + b" ", header, (SECRET,))
        self.assertEqual(caught.exception.reason, "bad_signature")
        with self.assertRaises(SignatureError):
            signature.verify(self.body.replace(b"1", b"2"), header, (SECRET,))

    def test_stale_and_future_timestamps_are_refused(self):
        header = sdk_header(self.body, SECRET, int(time.time()) - 301)
        with self.assertRaises(SignatureError) as caught:
            signature.verify(self.body, header, (SECRET,))
        self.assertEqual(caught.exception.reason, "stale_timestamp")
        header = sdk_header(self.body, SECRET, int(time.time()) + 400)
        with self.assertRaises(SignatureError):
            signature.verify(self.body, header, (SECRET,))
        # a configured tolerance widens the window
        old = int(time.time()) - 500
        header = sdk_header(self.body, SECRET, old)
        self.assertEqual(signature.verify(self.body, header, (SECRET,), 600), old)

    def test_wrong_secret_missing_parts_and_no_secret_are_refused(self):
        header = sdk_header(self.body, SECRET)
        cases = [
            (header, (OTHER,), "bad_signature"),
            (header, (), "no_secret"),
            (header, ("",), "no_secret"),
            (None, (SECRET,), "missing_signature"),
            ("v1=abc", (SECRET,), "missing_timestamp"),
            (f"t={int(time.time())}", (SECRET,), "missing_signature"),
            (f"t=x,{header.split(',')[1]}", (SECRET,), "bad_timestamp"),
            (f"t=1,{header}", (SECRET,), "bad_timestamp"),
        ]
        for value, secrets, reason in cases:
            with self.subTest(value=value, secrets=secrets):
                with self.assertRaises(SignatureError) as caught:
                    signature.verify(self.body, value, secrets)
                self.assertEqual(caught.exception.reason, reason)

    def test_only_raw_bytes_are_verified(self):
        with self.assertRaises(TypeError):
            signature.verify(self.body.decode(), sdk_header(self.body, SECRET), ())


@tagged("post_install", "-at_install")
class TestStripeApiLib(BaseCase):
    def answer(self, status, body, headers=None):
        return HttpResult(status=status, headers=headers or {}, body=json.dumps(body))

    def test_errors_are_technical_or_business(self):
        limited = self.answer(
            429,
            {"error": {"type": "invalid_request_error", "code": "rate_limit"}},
            {"Retry-After": "7"},
        )
        with self.assertRaises(FiTransientError) as caught:
            api.read_answer(limited, "GET /v1/charges")
        self.assertEqual(caught.exception.retry_after, 7.0)
        with self.assertRaises(FiTransientError):
            api.read_answer(self.answer(503, {"error": {"type": "api_error"}}), "x")
        declined = self.answer(
            402,
            {
                "error": {
                    "type": "card_error",
                    "code": "card_declined",
                    "message": "Your card was declined.",
                }
            },
            {"Request-Id": "req_42"},
        )
        with self.assertRaises(FiBusinessError) as caught:
            api.read_answer(declined, "POST /v1/payment_intents")
        self.assertEqual(caught.exception.reason_code, "stripe_card_declined")
        self.assertIn("Your card was declined.", str(caught.exception))
        self.assertIn("req_42", str(caught.exception))
        invalid = self.answer(
            400,
            {"error": {"type": "invalid_request_error", "message": "No such charge"}},
        )
        with self.assertRaises(FiBusinessError) as caught:
            api.read_answer(invalid, "GET /v1/charges/ch_x")
        self.assertEqual(caught.exception.reason_code, "stripe_invalid_request_error")
        # Stripe-Should-Retry wins over the status
        retry = self.answer(409, {"error": {"type": "invalid_request_error"}})
        retry.headers = {"Stripe-Should-Retry": "true"}
        with self.assertRaises(FiTransientError):
            api.read_answer(retry, "x")

    def test_pagination_streams_pages_with_starting_after(self):
        pages = []

        def send(method, url, body, headers):
            pages.append(url)
            start = 0 if "starting_after" not in url else int(url.rsplit("_", 1)[1])
            data = [{"id": f"txn_{i}"} for i in range(start + 1, min(start + 3, 5) + 1)]
            more = data[-1]["id"] != "txn_5"
            return self.answer(
                200, {"object": "list", "data": data, "has_more": more, "url": "/x"}
            )

        client = api.StripeApi(send, "http://127.0.0.1:1", "sk_test_x")
        stream = client.iterate("/v1/balance_transactions", {"payout": "po_1"}, 3)
        self.assertEqual(pages, [])  # a generator: nothing fetched yet
        first = next(stream)
        self.assertEqual((first["id"], len(pages)), ("txn_1", 1))
        ids = [first["id"]] + [t["id"] for t in stream]
        self.assertEqual(ids, [f"txn_{i}" for i in range(1, 6)])
        self.assertEqual(len(pages), 2)
        self.assertIn("starting_after=txn_3", pages[1])
        self.assertIn("payout=po_1", pages[1])

    def test_post_without_idempotency_key_is_refused(self):
        with self.assertRaises(ValueError):
            api.build_request("POST", "http://x", "/v1/refunds", "sk_test", {})

    def test_currencies_keep_their_exponent(self):
        self.assertEqual(money.minor_to_decimal(5000, "jpy"), Decimal("5000"))
        self.assertEqual(money.minor_to_decimal(5000, "eur"), Decimal("50.00"))
        self.assertEqual(money.minor_to_decimal(5000, "jod"), Decimal("5.000"))
        for code in ("jpy", "eur", "kwd", "omr"):
            self.assertEqual(
                money.decimal_to_minor(money.minor_to_decimal(123450, code), code),
                123450,
            )
        with self.assertRaises(ValueError):
            money.decimal_to_minor(Decimal("1.5"), "jpy")
        with self.assertRaises(ValueError):
            money.minor_to_decimal(10.5, "eur")

    def test_form_encoding_of_nested_keys(self):
        self.assertEqual(
            form.flatten(
                {
                    "metadata": {"odoo_invoice": "INV/2026/1", "empty": ""},
                    "expand": ["charge", "payment_intent"],
                    "skip": None,
                }
            ),
            [
                ("metadata[odoo_invoice]", "INV/2026/1"),
                ("metadata[empty]", ""),
                ("expand[]", "charge"),
                ("expand[]", "payment_intent"),
            ],
        )
        with self.assertRaises(ValueError):
            form.encode({"amount": 1.5})
