# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Shared fixtures: an endpoint with a secret, signed deliveries, job running
(``run_jobs`` performs stored jobs round by round; ``trap_jobs`` is queue_job's
own helper, re-exported here where it can be imported)."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest.mock import patch

from odoo import fields
from odoo.tests import common

from odoo.addons.queue_job.job import Job

from ..lib.signature import sign

# queue_job 18.0's test helpers register their patcher in
# odoo.tests.common.SETATTR_SOURCES, which Odoo 18.0 builds before mid-2025 lack
# (ImportError); it only silences a warning of newer builds, so an empty one
# behaves as those builds do. A newer Odoo keeps its own.
common.__dict__.setdefault("SETATTR_SOURCES", {})
from odoo.addons.queue_job.tests.common import trap_jobs  # noqa: E402, F401


def browser_js_screenshot(case, prefix, url, code, ready, login="admin"):
    """``case.browser_js(url, code, ready)`` (an ``HttpCase``), then a
    screenshot of the page as the user sees it once ``code`` has passed, in
    Odoo's screenshots folder (file name starting with ``prefix``)."""
    original = common.ChromeBrowser._wait_code_ok

    def then_screenshot(browser, code, timeout, error_checker=None):
        result = original(browser, code, timeout, error_checker=error_checker)
        browser.take_screenshot(prefix).result(timeout=30)
        return result

    with patch.object(common.ChromeBrowser, "_wait_code_ok", then_screenshot):
        case.browser_js(url, code, ready=ready, login=login, timeout=180)


SECRET = "whsec_test_primary_0123456789"
SECRET_NEXT = "whsec_test_rotated_9876543210"


class FiCommon(common.TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        # jobs left pending by demo data are not this test's business
        cls.env["queue.job"].sudo().search([("state", "=", "pending")]).unlink()
        cls.bot = cls.env.ref("finance_integration_core.user_fi_integration")
        cls.owner = cls.env["res.users"].create(
            {
                "name": "Flow Owner",
                "login": "fi_flow_owner",
                "email": "owner@example.com",
                "notification_type": "inbox",
                "groups_id": [
                    (
                        6,
                        0,
                        [
                            cls.env.ref(
                                "finance_integration_core.group_fi_operator"
                            ).id,
                            cls.env.ref("base.group_user").id,
                        ],
                    )
                ],
            }
        )
        cls.endpoint = cls.env["fi.endpoint"].create(
            {
                "name": "Test HMAC endpoint",
                "provider": "generic_hmac",
                "state": "active",
                "webhook_secret": SECRET,
                "signature_header": "X-Signature",
                "base_url": "http://127.0.0.1:9/",
                "retry_base_seconds": 1,
                "retry_cap_seconds": 4,
            }
        )
        cls.flow = cls.env["fi.flow"].create(
            {
                "name": "customer.created -> partner",
                "endpoint_id": cls.endpoint.id,
                "direction": "in",
                "event_type": "customer.created",
                "owner_id": cls.owner.id,
                "max_attempts": 3,
            }
        )

    @classmethod
    def use_server_action(cls, name, code):
        """The test flow runs ``code`` as its server action (``cls.action``)."""
        cls.action = cls.env["ir.actions.server"].create(
            {
                "name": name,
                "model_id": cls.env.ref("finance_integration_core.model_fi_message").id,
                "state": "code",
                "code": code,
            }
        )
        cls.flow.write({"action": "server_action", "server_action_id": cls.action.id})

    # -- deliveries ------------------------------------------------------
    @staticmethod
    def event(event_id="evt_1", event_type="customer.created", **data):
        return {"id": event_id, "type": event_type, "data": data or {"name": "ACME"}}

    @staticmethod
    def body_of(document):
        return json.dumps(document).encode()

    @classmethod
    def signed_headers(cls, body, secret=SECRET, **extra):
        headers = {
            "Content-Type": "application/json",
            "X-Signature": sign(body, secret),
        }
        headers.update(extra)
        return headers

    @classmethod
    def receive(cls, document=None, body=None, headers=None, key=None, secret=SECRET):
        """Deliver in-process, as the webhook controller does."""
        body = body if body is not None else cls.body_of(document)
        headers = headers if headers is not None else cls.signed_headers(body, secret)
        return (
            cls.env["fi.endpoint"]
            .sudo()
            ._fi_receive_webhook(
                key or cls.endpoint.key,
                headers,
                lambda n: body[:n],
                len(body),
                "127.0.0.1",
            )
        )

    # -- jobs --------------------------------------------------------------
    def pending_jobs(self, method=None):
        domain = [("state", "=", "pending")]
        if method:
            domain.append(("method_name", "=", method))
        return self.env["queue.job"].sudo().search(domain, order="id")

    def run_jobs(self, ignore_eta=False, max_rounds=10):
        """Perform pending jobs the way the job runner does, as their stored
        user; jobs enqueued meanwhile run in the next round."""
        done = self.env["queue.job"]
        # "due" is judged against the time of this call, not the clock of each
        # round: a retry planned 0.5 s ahead must not become due because a
        # second ticked over between the failure and the next round
        now = fields.Datetime.now()
        for _round in range(max_rounds):
            jobs = self.pending_jobs()
            if not ignore_eta:
                # dispatchers planned by intake start on the next slot boundary,
                # within a second: the runner would start them before the test
                # could look; retries keep their delay
                jobs = jobs.filtered(
                    lambda j, now=now: (
                        not j.eta or j.eta <= now or j.method_name == "_fi_dispatch"
                    )
                )
            jobs -= done
            if not jobs:
                break
            for record in jobs:
                job = Job.load(self.env, record.uuid)
                job.set_started()
                job.store()
                job.perform()
                job.set_done()
                job.store()
                done |= record
        self.env.invalidate_all()
        return done


class LocalApi:
    """A real HTTP server on 127.0.0.1 answering from a script of responses."""

    def __init__(self, responses):
        self.responses = list(responses)
        self.requests = []
        self.released = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                api.requests.append(
                    {
                        "at": time.monotonic(),
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": self.rfile.read(length),
                    }
                )
                status, headers, body, delay = (
                    api.responses.pop(0) if len(api.responses) > 1 else api.responses[0]
                )
                if delay:
                    # a slow server: answer after ``delay`` seconds, or as
                    # soon as the test is over (the client has given up)
                    api.released.wait(delay)
                payload = json.dumps(body).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except BrokenPipeError:
                    pass  # the client gave up first: what a timeout test wants

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
