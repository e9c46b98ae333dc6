# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Outbound sending through a real HTTP server on 127.0.0.1."""

import json

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from ..lib.hashing import sha256_hex
from .common import FiCommon, LocalApi


@tagged("post_install", "-at_install")
class TestOutbound(FiCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.out_flow = cls.env["fi.flow"].create(
            {
                "name": "partner -> customer",
                "endpoint_id": cls.endpoint.id,
                "direction": "out",
                "event_type": "customer.upsert",
                "path": "/v1/customers",
                "max_attempts": 3,
                "owner_id": cls.owner.id,
            }
        )
        cls.endpoint.credential = "sk_test_outbound_credential"
        cls.partner = cls.env["res.partner"].create({"name": "Acme Outbound"})

    def send(self, api, payload=None):
        self.endpoint.base_url = api.url
        return self.endpoint._fi_send(
            self.out_flow,
            payload or {"name": "Acme", "amount": 1250},
            record=self.partner,
        )

    def test_send_posts_once_with_idempotency_and_correlation_headers(self):
        with LocalApi([(200, {}, {"id": "cus_42", "object": "customer"}, 0)]) as api:
            message = self.send(api)
            self.assertEqual(message.state, "queued")
            jobs = self.pending_jobs("_fi_process")
            self.assertEqual(len(jobs), 1)
            self.assertEqual(jobs.identity_key, f"fi.message:{message.id}:0")
            self.run_jobs()
        self.assertEqual(message.state, "done")
        self.assertEqual(message.external_id, "cus_42")
        self.assertEqual(message.response_status, 200)
        (request,) = api.requests
        self.assertEqual(request["path"], "/v1/customers")
        self.assertEqual(request["headers"]["Idempotency-Key"], message.idempotency_key)
        self.assertEqual(request["headers"]["X-Correlation-ID"], message.correlation_id)
        self.assertEqual(
            request["headers"]["Authorization"], "Bearer sk_test_outbound_credential"
        )
        self.assertEqual(json.loads(request["body"]), {"amount": 1250, "name": "Acme"})
        self.assertEqual(sha256_hex(request["body"]), message.payload_sha256)
        self.assertEqual(
            (message.res_model, message.res_id), ("res.partner", self.partner.id)
        )

    def test_429_is_retried_after_retry_after_with_the_same_key(self):
        answers = [
            (429, {"Retry-After": "120"}, {"error": {"type": "rate_limit"}}, 0),
            (200, {}, {"id": "cus_43"}, 0),
        ]
        with LocalApi(answers) as api:
            message = self.send(api)
            before = fields.Datetime.now()
            self.run_jobs()
            self.assertEqual(message.state, "retry")
            self.assertEqual(message.response_status, 429)
            self.assertGreaterEqual(
                (message.next_retry_at - before).total_seconds(), 119
            )
            self.run_jobs(ignore_eta=True)
        self.assertEqual(message.state, "done")
        keys = {r["headers"]["Idempotency-Key"] for r in api.requests}
        self.assertEqual(keys, {message.idempotency_key}, "one key across retries")
        self.assertEqual(len(api.requests), 2)

    def test_server_errors_until_exhaustion_dead_letter(self):
        with LocalApi([(503, {}, {"error": "maintenance"}, 0)]) as api:
            message = self.send(api)
            self.run_jobs(ignore_eta=True)
        self.assertEqual(message.state, "dead")
        self.assertEqual(len(api.requests), self.out_flow.max_attempts)
        self.assertEqual(message.exception_ids.reason_code, "retries_exhausted")
        self.assertIn("503", message.exception_ids.detail)

    def test_rejected_request_is_a_business_exception_not_retried(self):
        answer = {
            "error": {"type": "invalid_request_error", "message": "No such customer"}
        }
        with LocalApi([(400, {}, answer, 0)]) as api:
            message = self.send(api)
            self.run_jobs(ignore_eta=True)
        self.assertEqual(message.state, "failed")
        self.assertEqual(len(api.requests), 1)
        self.assertEqual(message.error_code, "http_400")
        self.assertIn("No such customer", message.exception_ids.detail)
        self.assertEqual(message.response_status, 400)

    def test_read_timeout_is_transient(self):
        self.endpoint.timeout_read = 0.2
        with LocalApi([(200, {}, {"id": "late"}, 1.0)]) as api:
            message = self.send(api)
            self.run_jobs()
        self.assertEqual(message.state, "retry")
        self.assertEqual(message.error_code, "timeout")

    def test_sending_on_a_disabled_endpoint_or_wrong_flow_is_refused(self):
        with self.assertRaisesRegex(UserError, "not an outbound flow"):
            self.endpoint._fi_send(self.flow, {"x": 1})
        self.endpoint.state = "disabled"
        with self.assertRaisesRegex(UserError, "nothing can be sent"):
            self.endpoint._fi_send(self.out_flow, {"x": 1})

    def test_replay_of_sent_message_reuses_its_idempotency_key(self):
        with LocalApi([(200, {}, {"id": "cus_44"}, 0)]) as api:
            message = self.send(api)
            self.run_jobs()
            message.action_replay()
            self.run_jobs()
        self.assertEqual(len(api.requests), 2)
        self.assertEqual(
            {r["headers"]["Idempotency-Key"] for r in api.requests},
            {message.idempotency_key},
        )

    def test_sending_twice_with_one_business_key_sends_once(self):
        with LocalApi([(200, {}, {"id": "cus_45"}, 0)]) as api:
            self.endpoint.base_url = api.url
            first = self.endpoint._fi_send(
                self.out_flow, {"n": 1}, idempotency_key="INV-7"
            )
            again = self.endpoint._fi_send(
                self.out_flow, {"n": 1}, idempotency_key="INV-7"
            )
            self.run_jobs()
        self.assertEqual(first, again)
        self.assertEqual(len(api.requests), 1)
        self.assertEqual(api.requests[0]["headers"]["Idempotency-Key"], "INV-7")
