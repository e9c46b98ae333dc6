# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""A connector written only against core's provider surface works end to end:
webhook in (form-encoded, its own signature), verified, processed, outbound
sent (form-encoded), settings under change control, connection test."""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode

from odoo.exceptions import UserError
from odoo.tests import HttpCase, tagged

from odoo.addons.finance_integration_core.tests.governance_common import (
    FiGovernanceCommon,
)

from ..models.fi_endpoint import FORM, form_signature

SECRET = "formtest_secret_0123456789"


class FormApi:
    """A local API on 127.0.0.1 that records form requests and answers JSON."""

    def __init__(self):
        self.requests = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status, payload):
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self._answer(200, {"pong": "acct_formtest"})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                api.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": self.rfile.read(length),
                    }
                )
                self._answer(201, {"id": f"obj_{len(api.requests)}"})

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@tagged("post_install", "-at_install")
class TestConnectorContract(FiGovernanceCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.form_endpoint = cls.env["fi.endpoint"].create(
            {
                "name": "Form provider",
                "provider": "formtest",
                "state": "active",
                "webhook_secret": SECRET,
                "credential": "tok_formtest",
            }
        )
        cls.contact_flow = cls.env["fi.flow"].create(
            {
                "name": "contact.created -> partner",
                "endpoint_id": cls.form_endpoint.id,
                "direction": "in",
                "event_type": "contact.created",
                "owner_id": cls.owner.id,
            }
        )
        cls.other_flow = cls.env["fi.flow"].create(
            {
                "name": "contact.archived (not handled)",
                "endpoint_id": cls.form_endpoint.id,
                "direction": "in",
                "event_type": "contact.archived",
                "owner_id": cls.owner.id,
            }
        )
        cls.push_flow = cls.env["fi.flow"].create(
            {
                "name": "partner -> contact",
                "endpoint_id": cls.form_endpoint.id,
                "direction": "out",
                "event_type": "contact.push",
                "path": "/contacts",
                "owner_id": cls.owner.id,
            }
        )

    def deliver(self, fields, secret=SECRET, timestamp=None):
        body = urlencode(fields).encode()
        timestamp = timestamp or int(time.time())
        signature = form_signature(secret, timestamp, body)
        return self.url_open(
            f"/fi/webhook/{self.form_endpoint.key}",
            data=body,
            headers={
                "Content-Type": FORM,
                "X-Form-Signature": f"t={timestamp},s={signature}",
            },
        )

    def message_of(self, event_id):
        return self.env["fi.message"].search(
            [
                ("endpoint_id", "=", self.form_endpoint.id),
                ("idempotency_key", "=", event_id),
            ]
        )

    def test_form_webhook_is_verified_stored_and_processed_once(self):
        fields = {
            "event_id": "ev_form_1",
            "kind": "contact.created",
            "ref": "C-1",
            "name": "Form Contact",
            "api_token": "tok_should_not_show",
        }
        answer = self.deliver(fields)
        self.assertEqual(answer.status_code, 200, answer.text)
        self.assertEqual(answer.json()["status"], "received")
        message = self.message_of("ev_form_1")
        self.assertEqual(message.flow_id, self.contact_flow)
        shown = json.loads(message.payload_display)
        self.assertEqual(shown["name"], "Form Contact")
        self.assertEqual(shown["api_token"], "***")
        headers = json.loads(message.headers_json)
        self.assertNotIn(SECRET, message.headers_json)
        self.assertEqual(headers["X-Form-Signature"], "***")
        self.run_jobs()
        self.assertEqual(message.state, "done", message.error_message)
        partner = self.env["res.partner"].search([("name", "=", "Form Contact")])
        self.assertEqual(len(partner), 1)
        self.assertEqual(message.res_model, "res.partner")
        self.assertEqual(message.res_id, partner.id)
        # the same event again: 200, nothing new; a replay posts nothing twice
        self.assertEqual(self.deliver(fields).json()["status"], "duplicate")
        message.action_replay()
        self.run_jobs()
        self.assertEqual(message.state, "done")
        self.assertEqual(
            self.env["res.partner"].search_count([("name", "=", "Form Contact")]), 1
        )

    def test_forged_or_stale_form_webhook_is_refused_and_recorded(self):
        fields = {"event_id": "ev_form_bad", "kind": "contact.created", "ref": "X"}
        self.assertEqual(self.deliver(fields, secret="wrong").status_code, 401)
        stale = int(time.time()) - 3600
        self.assertEqual(self.deliver(fields, timestamp=stale).status_code, 401)
        self.assertFalse(self.message_of("ev_form_bad"))
        reasons = (
            self.env["fi.security.event"]
            .search([("endpoint_id", "=", self.form_endpoint.id)])
            .mapped("reason")
        )
        self.assertEqual(sorted(reasons), ["bad_signature", "stale_timestamp"])

    def test_json_body_is_refused_by_a_form_provider(self):
        answer = self.url_open(
            f"/fi/webhook/{self.form_endpoint.key}",
            data=b'{"event_id": "x"}',
            headers={"Content-Type": "application/json"},
        )
        self.assertEqual(answer.status_code, 415)

    def test_handler_ignores_what_is_not_its_business_with_the_reason(self):
        fields = {"event_id": "ev_form_2", "kind": "contact.archived", "ref": "C-2"}
        self.assertEqual(self.deliver(fields).status_code, 200)
        self.run_jobs()
        message = self.message_of("ev_form_2")
        self.assertEqual(message.state, "ignored")
        self.assertIn("contact.archived", message.error_message)
        self.assertFalse(message.exception_ids)

    def test_handler_business_error_opens_an_exception(self):
        fields = {"event_id": "ev_form_3", "kind": "contact.created", "ref": "C-3"}
        self.deliver(fields)
        self.run_jobs()
        message = self.message_of("ev_form_3")
        self.assertEqual(message.state, "failed")
        # a connector's own code is kept as the detailed error code (its own
        # reason codes join fi.exception.reason_code with selection_add)
        self.assertEqual(message.exception_ids.error_code, "missing_name")
        self.assertEqual(message.exception_ids.category, "business")

    def test_outbound_is_sent_form_encoded_with_the_providers_headers(self):
        with FormApi() as api:
            self.form_endpoint.base_url = api.url
            message = self.form_endpoint._fi_send(
                self.push_flow, {"name": "Out Contact", "ref": "C-9"}
            )
            self.run_jobs()
        self.assertEqual(message.state, "done", message.error_message)
        self.assertEqual(message.external_id, "obj_1")
        (request,) = api.requests
        self.assertEqual(request["path"], "/contacts")
        self.assertEqual(request["headers"]["Content-Type"], FORM)
        self.assertEqual(request["headers"]["Authorization"], "Token tok_formtest")
        self.assertEqual(request["headers"]["X-Request-Key"], message.idempotency_key)
        self.assertEqual(
            dict(parse_qsl(request["body"].decode())),
            {"name": "Out Contact", "ref": "C-9"},
        )

    def test_provider_setting_changes_through_an_approved_version(self):
        self.form_endpoint.write(
            {"environment": "production", "base_url": "https://forms.example"}
        )
        with self.assertRaisesRegex(UserError, "formtest_api_version"):
            self.form_endpoint.formtest_api_version = "2027-01"
        action = self.form_endpoint.with_user(self.manager_a).action_propose_change()
        change = self.env["fi.endpoint.change"].browse(action["res_id"])
        self.assertEqual(change.formtest_api_version, "2026-01")
        change.with_user(self.manager_a).write({"formtest_api_version": "2027-01"})
        self.assertIn("2026-01 -> 2027-01", change.diff_display)
        change.with_user(self.manager_a).action_submit()
        change.with_user(self.manager_b).action_approve()
        change.with_user(self.manager_b).action_activate()
        self.assertEqual(self.form_endpoint.formtest_api_version, "2027-01")

    def test_connection_test_reaches_the_system(self):
        with FormApi() as api:
            self.form_endpoint.base_url = api.url
            action = self.form_endpoint.action_fi_test_connection()
        self.assertIn("acct_formtest", action["params"]["message"])
        generic = self.endpoint
        # a port bound but not listening refuses for sure (port 9 may have a
        # discard service listening)
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            generic.base_url = f"http://127.0.0.1:{closed.getsockname()[1]}/"
            with self.assertRaisesRegex(UserError, "could not connect"):
                generic.action_fi_test_connection()
