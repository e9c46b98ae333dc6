# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Payload encryption at rest, per endpoint."""

from odoo.tests import tagged

from ..lib.hashing import sha256_hex
from .common import FiCommon

MARKER = "Wayne Enterprises Treasury"


@tagged("post_install", "-at_install")
class TestPayloadEncryption(FiCommon):
    def stored_columns(self, message):
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT payload, headers_json, payload_encoding, payload_sha256 "
            "FROM fi_message WHERE id = %s",
            (message.id,),
        )
        return self.env.cr.fetchone()

    def test_encrypted_body_is_unreadable_in_sql_and_processed_in_clear(self):
        self.endpoint.encrypt_payloads = True
        document = self.event("evt_enc", name=MARKER, password="hunter2")
        body = self.body_of(document)
        status, answer = self.receive(body=body)
        self.assertEqual(status, 200, answer)
        message = self.env["fi.message"].browse(answer["message_id"])
        payload, _headers, encoding, digest = self.stored_columns(message)
        self.assertEqual(encoding, "fernet")
        self.assertNotIn(MARKER, payload)
        self.assertNotIn("hunter2", payload)
        self.assertTrue(payload.startswith("gAAAA"), "a Fernet token")
        self.env.cr.execute(
            "SELECT row_to_json(m)::text FROM fi_message m WHERE id = %s",
            (message.id,),
        )
        self.assertNotIn(MARKER, self.env.cr.fetchone()[0], "no clear copy anywhere")
        self.assertEqual(digest, sha256_hex(body), "the hash is on the plaintext")
        # the redacted view is decrypted for display, secrets still masked
        self.assertIn(MARKER, message.payload_display)
        self.assertNotIn("hunter2", message.payload_display)
        # processing reads the plaintext
        self.assertEqual(message._fi_document(), document)
        self.endpoint._fi_dispatch()
        self.run_jobs()
        self.assertEqual(message.state, "done", message.error_message)

    def test_without_encryption_the_body_is_stored_as_received(self):
        status, answer = self.receive(self.event("evt_plain_enc", name=MARKER))
        message = self.env["fi.message"].browse(answer["message_id"])
        payload, _headers, encoding, _digest = self.stored_columns(message)
        self.assertEqual(encoding, "text")
        self.assertIn(MARKER, payload)
