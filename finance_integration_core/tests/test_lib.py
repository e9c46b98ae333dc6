# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The pure-Python building blocks, tested alone (no database)."""

import doctest
import importlib
import inspect
import pkgutil
import socket
import time

from cryptography.fernet import Fernet

from odoo.tests import BaseCase, tagged

from .. import lib
from ..lib import backoff, hashing, http, redact, signature
from ..lib.crypto import EncryptionKeyError, SecretBox, parse_keys
from ..lib.errors import FiBusinessError, FiTransientError, SignatureError
from ..lib.schema import SchemaDefinitionError, schema_errors

BODY = b'{"id":"evt_1","type":"customer.created"}'


@tagged("post_install", "-at_install")
class TestSignature(BaseCase):
    def assertRefused(self, reason, *args, **kwargs):
        with self.assertRaises(SignatureError) as caught:
            signature.verify_hmac_sha256(*args, **kwargs)
        self.assertEqual(caught.exception.reason, reason)

    def test_valid_signature_is_accepted(self):
        self.assertTrue(
            signature.verify_hmac_sha256(BODY, signature.sign(BODY, "s1"), ["s1"])
        )

    def test_one_flipped_byte_of_body_is_refused(self):
        header = signature.sign(BODY, "s1")
        self.assertRefused("bad_signature", BODY.replace(b"1", b"2"), header, ["s1"])

    def test_no_secret_configured_fails_closed(self):
        self.assertRefused("no_secret", BODY, signature.sign(BODY, "s1"), [])
        self.assertRefused("no_secret", BODY, signature.sign(BODY, "s1"), [None, ""])

    def test_missing_header_is_refused(self):
        self.assertRefused("missing_signature", BODY, None, ["s1"])
        self.assertRefused("missing_signature", BODY, "", ["s1"])

    def test_either_secret_of_a_rotation_is_accepted(self):
        for secret in ("old", "new"):
            header = signature.sign(BODY, secret)
            self.assertTrue(signature.verify_hmac_sha256(BODY, header, ["old", "new"]))

    def test_several_signatures_in_one_header(self):
        header = ",".join([signature.sign(BODY, "other"), signature.sign(BODY, "s1")])
        self.assertTrue(signature.verify_hmac_sha256(BODY, header, ["s1"]))
        header = " ".join([signature.sign(BODY, "x"), signature.sign(BODY, "y")])
        self.assertRefused("bad_signature", BODY, header, ["s1"])

    def test_base64_signatures(self):
        header = signature.sign(BODY, "s1", encoding="base64", prefix="")
        self.assertTrue(
            signature.verify_hmac_sha256(BODY, header, ["s1"], encoding="base64")
        )

    def test_timestamp_is_signed_and_checked(self):
        now = int(time.time())
        header = signature.sign(BODY, "s1", timestamp=now)
        self.assertTrue(
            signature.verify_hmac_sha256(BODY, header, ["s1"], timestamp=now)
        )
        # the same signature replayed with another timestamp does not match
        self.assertRefused("bad_signature", BODY, header, ["s1"], timestamp=now - 1)
        old = now - 301
        stale = signature.sign(BODY, "s1", timestamp=old)
        self.assertRefused("stale_timestamp", BODY, stale, ["s1"], timestamp=old)
        self.assertRefused("missing_timestamp", BODY, header, ["s1"], timestamp=False)
        self.assertRefused("bad_timestamp", BODY, header, ["s1"], timestamp="yesterday")


@tagged("post_install", "-at_install")
class TestDoctests(BaseCase):
    def test_every_doctest_of_lib_passes(self):
        """The examples in lib/'s docstrings (outbox, backoff, governance, ...)
        run here: every module that has one, found by reading lib/."""
        with_examples = []
        for info in pkgutil.iter_modules(lib.__path__):
            module = importlib.import_module(f"{lib.__name__}.{info.name}")
            if ">>>" not in inspect.getsource(module):
                continue
            with_examples.append(info.name)
            result = doctest.testmod(module, report=False)
            self.assertGreater(result.attempted, 0, module.__name__)
            self.assertEqual(result.failed, 0, f"{module.__name__}: see the log")
        self.assertIn("outbox", with_examples)


@tagged("post_install", "-at_install")
class TestBackoff(BaseCase):
    def test_delay_grows_exponentially_within_jitter_and_cap(self):
        lows = [
            backoff.backoff_delay(n, base=10, cap=100, rand=lambda: 0.0)
            for n in (1, 2, 3)
        ]
        highs = [
            backoff.backoff_delay(n, base=10, cap=100, rand=lambda: 1.0)
            for n in (1, 2, 3)
        ]
        self.assertEqual(lows, [5.0, 10.0, 20.0])
        self.assertEqual(highs, [10.0, 20.0, 40.0])
        self.assertEqual(
            backoff.backoff_delay(20, base=10, cap=100, rand=lambda: 1.0), 100.0
        )
        delays = {backoff.backoff_delay(3, base=10) for _i in range(20)}
        self.assertGreater(len(delays), 1, "jitter must spread retries")
        self.assertTrue(all(20 <= d <= 40 for d in delays))

    def test_retry_after_is_honoured(self):
        self.assertEqual(
            backoff.next_retry_delay(1, retry_after=120, rand=lambda: 0.5), 120.0
        )
        self.assertEqual(
            backoff.next_retry_delay(1, retry_after=None, rand=lambda: 0.0), 5.0
        )
        self.assertEqual(
            backoff.parse_retry_after("999999999"), float(backoff.MAX_DELAY)
        )


@tagged("post_install", "-at_install")
class TestRedactionAndHashing(BaseCase):
    def test_sensitive_keys_are_masked_at_any_depth(self):
        doc = {
            "id": "cus_1",
            "password": "p",
            "nested": [{"card_number": "4242424242424242", "amount": 10}],
            "Authorization": "Bearer abc",
        }
        shown = redact.redact_value(doc)
        self.assertEqual(shown["id"], "cus_1")
        self.assertEqual(shown["password"], redact.MASK)
        self.assertEqual(shown["nested"][0], {"card_number": redact.MASK, "amount": 10})
        self.assertEqual(shown["Authorization"], redact.MASK)
        self.assertEqual(doc["password"], "p", "the original must stay untouched")
        self.assertEqual(doc["nested"][0]["card_number"], "4242424242424242")

    def test_secrets_in_lists_of_lists_are_masked_and_the_rest_kept(self):
        doc = {"rows": [[{"Client_Secret": "cs_1"}, {"note": "ok"}], [1, 2]], "e": {}}
        for _repeat in range(2):  # the second time from the per-key cache
            shown = redact.redact_value(doc)
            self.assertEqual(
                shown,
                {"rows": [[{"Client_Secret": "***"}, {"note": "ok"}], [1, 2]], "e": {}},
            )
        self.assertEqual(doc["rows"][0][0]["Client_Secret"], "cs_1")
        untouched = {"a": [1, {"b": 2}]}
        self.assertIs(redact.redact_value(untouched), untouched, "nothing copied")

    def test_redacted_copy_is_indented_json_with_secrets_masked(self):
        text = redact.redacted_json({"id": "evt_1", "api_key": "sk_live_x", "n": [1]})
        self.assertEqual(
            text,
            '{\n  "id": "evt_1",\n  "api_key": "***",\n  "n": [\n    1\n  ]\n}',
        )
        self.assertEqual(redact.pretty_json(text), text)
        self.assertEqual(redact.pretty_json("not json"), "not json")

    def test_credentials_and_cookies_are_dropped_from_headers(self):
        headers = {
            "Authorization": "Bearer abc",
            "Cookie": "session_id=1",
            "X-Signature": "sha256=ab",
            "User-Agent": "sender",
        }
        safe = redact.redact_headers(headers, ["X-Signature"])
        self.assertNotIn("Authorization", safe)
        self.assertNotIn("Cookie", safe)
        self.assertEqual(safe["X-Signature"], redact.MASK)
        self.assertEqual(safe["User-Agent"], "sender")

    def test_one_hash_function(self):
        self.assertEqual(
            hashing.sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        )
        self.assertEqual(hashing.sha256_hex("abc"), hashing.sha256_hex(b"abc"))
        self.assertEqual(
            hashing.canonical_json({"b": 1, "a": "é"}), '{"a":"é","b":1}'.encode()
        )


@tagged("post_install", "-at_install")
class TestCrypto(BaseCase):
    def test_round_trip_and_rotation(self):
        old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
        token = SecretBox([old]).encrypt("sk_live_1")
        self.assertNotIn("sk_live_1", token)
        rotated_box = SecretBox(parse_keys(f"{new}, {old}"))
        self.assertEqual(rotated_box.decrypt(token), "sk_live_1")
        new_token = rotated_box.rotate(token)
        self.assertEqual(SecretBox([new]).decrypt(new_token), "sk_live_1")
        with self.assertRaises(EncryptionKeyError):
            SecretBox([new]).decrypt(token)

    def test_missing_or_bad_key_says_how_to_configure(self):
        with self.assertRaisesRegex(EncryptionKeyError, "fi_encryption_keys"):
            SecretBox([])
        with self.assertRaisesRegex(EncryptionKeyError, "not a valid Fernet key"):
            SecretBox(["short"])


@tagged("post_install", "-at_install")
class TestSchemaAndHttpClassification(BaseCase):
    SCHEMA = (
        '{"type": "object", "required": ["id", "data"], "properties": '
        '{"data": {"type": "object", "properties": {"amount": {"type": "integer"}}}}}'
    )

    def test_schema_error_names_path_and_rule(self):
        self.assertEqual(
            schema_errors(self.SCHEMA, {"id": "x", "data": {"amount": 5}}), []
        )
        errors = schema_errors(self.SCHEMA, {"id": "x", "data": {"amount": "5"}})
        self.assertEqual(len(errors), 1)
        self.assertIn("$.data.amount", errors[0])
        self.assertIn("rule: type", errors[0])
        self.assertIn("rule: required", schema_errors(self.SCHEMA, {"id": "x"})[0])
        with self.assertRaises(SchemaDefinitionError):
            schema_errors('{"type": "no-such-type"}', {})

    def test_answers_are_classified(self):
        ok = http.HttpResult(201, {}, "{}")
        self.assertIs(http.raise_for_outcome(ok), ok)
        for status in (429, 500, 502, 503, 504):
            with self.assertRaises(FiTransientError):
                http.raise_for_outcome(http.HttpResult(status, {}, "busy"))
        with self.assertRaises(FiTransientError) as caught:
            http.raise_for_outcome(http.HttpResult(429, {"Retry-After": "30"}, ""))
        self.assertEqual(caught.exception.retry_after, 30.0)
        for status in (400, 401, 402, 404, 422):
            with self.assertRaises(FiBusinessError) as caught:
                http.raise_for_outcome(http.HttpResult(status, {}, "card_declined"))
            self.assertIn(str(status), str(caught.exception))
            self.assertIn("card_declined", str(caught.exception))

    def test_unreachable_host_is_transient(self):
        # a port bound but not listening refuses connections for sure (port 9
        # may have a discard service listening)
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{closed.getsockname()[1]}/x"
            with self.assertRaises(FiTransientError) as caught:
                http.send("POST", url, data=b"{}", timeout=(5, 5))
        self.assertEqual(caught.exception.reason_code, "connection")
