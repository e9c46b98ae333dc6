# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Webhook intake through the real HTTP route."""

import json
import select
import socket
import time
from types import SimpleNamespace
from unittest.mock import patch

from odoo.tests import HttpCase, tagged

from odoo.addons.queue_job.job import DEFAULT_PRIORITY

from ..lib.outbox import naive_utc
from ..lib.signature import sign
from ..models import fi_endpoint_dispatch
from .common import SECRET, SECRET_NEXT, FiCommon


@tagged("post_install", "-at_install")
class TestWebhookIntake(FiCommon, HttpCase):
    def post(self, body, headers, key=None):
        # Odoo's 12 s default can be outrun by the first request of a class
        # (routing map built) on a loaded machine; the bound only stops a hang
        return self.url_open(
            f"/fi/webhook/{key or self.endpoint.key}",
            data=body,
            headers=headers,
            timeout=120,
        )

    def counts(self):
        return (
            self.env["fi.message"].search_count(
                [("endpoint_id", "=", self.endpoint.id)]
            ),
            self.env["queue.job"].sudo().search_count([]),
            self.env["fi.idempotency.key"].search_count(
                [("endpoint_id", "=", self.endpoint.id)]
            ),
        )

    def assertRefusedAndNothingStored(self, response, status, reason=None):
        self.assertEqual(response.status_code, status, response.text)
        self.assertEqual(self.counts(), self.before)
        if reason:
            event = self.env["fi.security.event"].search(
                [("endpoint_id", "=", self.endpoint.id)], limit=1
            )
            self.assertEqual(event.reason, reason)
            self.assertEqual(event.remote_addr, "127.0.0.1")

    def setUp(self):
        super().setUp()
        self.before = self.counts()

    def test_authentic_event_is_stored_with_dispatcher_job_before_200(self):
        body = self.body_of(self.event("evt_ok", password="hunter2"))
        response = self.post(
            body,
            self.signed_headers(
                body, **{"Cookie": "session_id=abc", "X-Correlation-ID": "corr-42"}
            ),
        )
        self.assertEqual(response.status_code, 200, response.text)
        answer = response.json()
        self.assertEqual(answer["status"], "received")
        message = self.env["fi.message"].browse(answer["message_id"])
        self.assertEqual(message.state, "new")
        self.assertEqual(message.flow_id, self.flow)
        self.assertEqual(message.external_id, "evt_ok")
        self.assertEqual(message.idempotency_key, "evt_ok")
        self.assertEqual(message.correlation_id, "corr-42")
        self.assertEqual(
            message.sudo().payload.encode(), body, "raw body kept byte for byte"
        )
        self.assertEqual(message.payload_size, len(body))
        self.assertNotIn("hunter2", message.payload_display)
        headers = json.loads(message.headers_json)
        self.assertNotIn("Cookie", headers)
        self.assertEqual(headers["X-Signature"], "***")
        key = self.env["fi.idempotency.key"].search([("message_id", "=", message.id)])
        self.assertEqual(
            (key.key, key.scope, key.endpoint_id), ("evt_ok", "webhook", self.endpoint)
        )
        dispatchers = self.pending_jobs("_fi_dispatch")
        # the endpoint was idle: one at once, and the slot's for what follows
        self.assertEqual(len(dispatchers), 2)
        self.assertEqual(
            len(dispatchers.filtered(lambda job: not job.eta)), 1, "one at once"
        )
        for dispatcher in dispatchers:
            self.assertEqual(dispatcher.user_id, self.bot, "never as superuser")
            # due, it starts before the processing jobs already queued
            self.assertLess(dispatcher.priority, DEFAULT_PRIORITY)
        self.run_jobs()
        processing = self.env["queue.job"].search([("uuid", "=", message.job_uuid)])
        self.assertEqual(processing.priority, DEFAULT_PRIORITY)

    def test_redelivery_answers_200_and_creates_nothing(self):
        body = self.body_of(self.event("evt_dup"))
        first = self.post(body, self.signed_headers(body))
        after_first = self.counts()
        for _i in range(3):
            again = self.post(body, self.signed_headers(body))
            self.assertEqual(again.status_code, 200)
            self.assertEqual(again.json()["status"], "duplicate")
        self.assertEqual(self.counts(), after_first)
        first_id = first.json()["message_id"]
        key = self.env["fi.idempotency.key"].search([("message_id", "=", first_id)])
        self.assertEqual(key.duplicate_count, 3)

    def test_messages_of_one_dispatch_slot_share_one_planned_dispatcher(self):
        second = int(time.time()) + 5
        clock = SimpleNamespace(time=lambda: second + 0.1)
        with patch.object(fi_endpoint_dispatch, "time", clock):
            for n in range(3):
                body = self.body_of(self.event(f"evt_batch_{n}"))
                self.assertEqual(
                    self.post(body, self.signed_headers(body)).status_code, 200
                )
        dispatchers = self.pending_jobs("_fi_dispatch")
        # the first message found the endpoint idle: a dispatcher at once
        at_once = dispatchers.filtered(lambda job: not job.eta)
        self.assertEqual(at_once.identity_key, f"fi.dispatch:{self.endpoint.id}")
        dispatcher = dispatchers - at_once
        self.assertEqual(len(dispatcher), 1, "the three share the slot's")
        # planned on the next whole second at least the margin ahead: it starts
        # after the transactions of these messages have committed
        self.assertEqual(dispatcher.eta, naive_utc(second + 1))
        self.assertEqual(
            dispatcher.identity_key, f"fi.dispatch:{self.endpoint.id}:{second + 1}"
        )
        # the next slot gets a dispatcher of its own
        clock.time = lambda: second + 0.9
        with patch.object(fi_endpoint_dispatch, "time", clock):
            body = self.body_of(self.event("evt_batch_next"))
            self.post(body, self.signed_headers(body))
        etas = self.pending_jobs("_fi_dispatch").mapped("eta")
        self.assertEqual(len(etas), 3, "no second one at once: not idle")
        self.assertEqual(
            set(etas), {False, naive_utc(second + 1), naive_utc(second + 2)}
        )

    def test_forged_signature_is_refused_and_recorded(self):
        body = self.body_of(self.event("evt_forged"))
        response = self.post(body, self.signed_headers(body, secret="not-the-secret"))
        self.assertRefusedAndNothingStored(response, 401, "bad_signature")
        self.endpoint.invalidate_recordset()
        self.assertEqual(self.endpoint.auth_failure_count, 1)
        self.assertNotIn("evt_forged", response.text)

    def test_tampered_body_is_refused(self):
        body = self.body_of(self.event("evt_a"))
        headers = self.signed_headers(body)
        tampered = body.replace(b"evt_a", b"evt_b")
        self.assertRefusedAndNothingStored(
            self.post(tampered, headers), 401, "bad_signature"
        )

    def test_unsigned_delivery_is_refused(self):
        body = self.body_of(self.event("evt_unsigned"))
        response = self.post(body, {"Content-Type": "application/json"})
        self.assertRefusedAndNothingStored(response, 401, "missing_signature")

    def test_endpoint_without_secret_fails_closed(self):
        self.endpoint.sudo().write(
            {"webhook_secret_enc": False, "webhook_secret_set": False}
        )
        body = self.body_of(self.event("evt_nosecret"))
        response = self.post(body, self.signed_headers(body))
        self.assertRefusedAndNothingStored(response, 401, "no_secret")

    def test_stale_timestamp_is_refused(self):
        self.endpoint.timestamp_header = "X-Timestamp"
        body = self.body_of(self.event("evt_stale"))
        old = int(time.time()) - 3600
        headers = {
            "Content-Type": "application/json",
            "X-Timestamp": str(old),
            "X-Signature": sign(body, SECRET, timestamp=old),
        }
        self.assertRefusedAndNothingStored(
            self.post(body, headers), 401, "stale_timestamp"
        )
        fresh = int(time.time())
        headers.update(
            {
                "X-Timestamp": str(fresh),
                "X-Signature": sign(body, SECRET, timestamp=fresh),
            }
        )
        self.assertEqual(self.post(body, headers).status_code, 200)

    def test_oversized_body_is_refused(self):
        self.endpoint.max_body_bytes = 1000
        body = self.body_of(self.event("evt_big", blob="x" * 2000))
        self.assertRefusedAndNothingStored(
            self.post(body, self.signed_headers(body)), 413
        )

    def stream_chunked(self, total, chunk=64 * 1024):
        """Send a chunked body of up to ``total`` bytes over a raw socket while
        watching for the answer; returns (status line, bytes sent when it came)."""
        sock = socket.create_connection(("127.0.0.1", self.http_port()), timeout=30)
        head = (
            f"POST /fi/webhook/{self.endpoint.key} HTTP/1.1\r\n"
            "Host: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\nX-Signature: sha256=00\r\n\r\n"
        )
        sock.sendall(head.encode())
        frame = f"{chunk:x}\r\n".encode() + b"x" * chunk + b"\r\n"
        sent = 0
        try:
            while sent < total:
                readable, _w, _x = select.select([sock], [], [], 0)
                if readable:
                    break
                sock.sendall(frame)
                sent += chunk
            sock.settimeout(30)
            answer = sock.recv(4096)
        except OSError:  # the server closed the connection after answering
            answer = sock.recv(4096) if sock.fileno() != -1 else b""
        finally:
            sock.close()
        return answer.split(b"\r\n", 1)[0].decode(), sent

    def test_oversized_chunked_body_is_refused_before_reading_it_whole(self):
        """A chunked 400 MB body to an endpoint taking 1 MiB: 413 after about
        the limit was read, while the sender still had most of it to send."""
        self.endpoint.max_body_bytes = 1024 * 1024
        status, sent = self.stream_chunked(400 * 1024 * 1024)
        self.assertIn(" 413 ", status + " ")
        # the limit plus what socket buffers hold, nowhere near 400 MB
        self.assertLess(sent, 32 * 1024 * 1024)
        self.assertEqual(self.counts()[0], 0)

    def test_length_that_lies_is_refused_without_reading(self):
        self.endpoint.max_body_bytes = 1000
        body = self.body_of(self.event("evt_liar"))
        headers = dict(self.signed_headers(body), **{"Content-Length": "5000000"})
        sock = socket.create_connection(("127.0.0.1", self.http_port()), timeout=30)
        try:
            head = f"POST /fi/webhook/{self.endpoint.key} HTTP/1.1\r\nHost: x\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            sock.sendall(head.encode() + body)  # far less than announced
            status = sock.recv(4096).split(b"\r\n", 1)[0].decode()
        finally:
            sock.close()
        self.assertIn(" 413 ", status + " ")
        self.assertEqual(self.counts()[0], 0)

    def test_wrong_content_type_is_refused(self):
        body = self.body_of(self.event("evt_xml"))
        headers = self.signed_headers(body, **{"Content-Type": "text/xml"})
        self.assertRefusedAndNothingStored(self.post(body, headers), 415)

    def test_unknown_or_inactive_key_is_404(self):
        body = self.body_of(self.event("evt_404"))
        self.assertRefusedAndNothingStored(
            self.post(body, self.signed_headers(body), key="no-such-key"), 404
        )
        self.endpoint.state = "disabled"
        self.assertRefusedAndNothingStored(
            self.post(body, self.signed_headers(body)), 404
        )

    def test_both_secrets_accepted_during_rotation(self):
        self.endpoint.webhook_secret_next = SECRET_NEXT
        for n, secret in enumerate((SECRET, SECRET_NEXT)):
            body = self.body_of(self.event(f"evt_rot_{n}"))
            self.assertEqual(
                self.post(body, self.signed_headers(body, secret)).status_code, 200
            )
        self.endpoint.action_promote_secret_next()
        body = self.body_of(self.event("evt_rot_old"))
        self.assertEqual(
            self.post(body, self.signed_headers(body, SECRET)).status_code, 401
        )
        self.assertEqual(
            self.post(body, self.signed_headers(body, SECRET_NEXT)).status_code, 200
        )

    def test_malformed_json_is_stored_and_opens_exception(self):
        body = b'{"id": "evt_broken", "type": '
        response = self.post(body, self.signed_headers(body))
        self.assertEqual(response.status_code, 200)
        message = self.env["fi.message"].browse(response.json()["message_id"])
        self.assertEqual(message.state, "invalid")
        self.assertIn("malformed payload", message.error_message)
        self.assertEqual(message.sudo().payload.encode(), body)
        exception = message.exception_ids
        self.assertEqual(exception.reason_code, "malformed_payload")
        self.assertEqual(exception.state, "new")

    def test_non_utf8_body_is_kept_exactly(self):
        body = b'{"id": "\xff\xfe"}'
        response = self.post(body, self.signed_headers(body))
        message = self.env["fi.message"].browse(response.json()["message_id"])
        self.assertEqual(message.state, "invalid")
        self.assertEqual(message.payload_encoding, "base64")
        import base64

        self.assertEqual(base64.b64decode(message.sudo().payload), body)

    def test_unknown_event_type_is_ignored_or_opens_exception_by_policy(self):
        body = self.body_of(self.event("evt_unknown_1", "invoice.voided"))
        answer = self.post(body, self.signed_headers(body)).json()
        message = self.env["fi.message"].browse(answer["message_id"])
        self.assertEqual((message.state, len(message.exception_ids)), ("ignored", 0))
        self.endpoint.unknown_event_policy = "exception"
        body = self.body_of(self.event("evt_unknown_2", "invoice.voided"))
        answer = self.post(body, self.signed_headers(body)).json()
        message = self.env["fi.message"].browse(answer["message_id"])
        self.assertEqual(message.state, "unroutable")
        self.assertEqual(message.exception_ids.reason_code, "unknown_event")
