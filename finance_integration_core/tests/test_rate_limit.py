# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Outbound rate limit per endpoint, held across workers (own cursors)."""

import threading
import time

from odoo.tests import tagged

from ..lib import http as fi_http
from ..models.fi_endpoint_rate import reserve_slot
from .common import FiCommon, LocalApi

RATE = 10  # requests per second
#: rounding of the database's interval arithmetic (the slot times are exact)
EPSILON = 0.001


@tagged("post_install", "-at_install")
class TestRateLimit(FiCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.out_flow = cls.env["fi.flow"].create(
            {
                "name": "rate limited -> api",
                "endpoint_id": cls.endpoint.id,
                "direction": "out",
                "event_type": "customer.rated",
                "path": "/v1/customers",
                "max_attempts": 3,
            }
        )

    def assertPaced(self, arrivals, rate, since):
        """Requests paced at ``rate`` per second from ``since`` on: the i-th
        request to arrive cannot arrive before ``since + i / rate``. Every
        request waits for its own slot, slot i being at least i spacings after
        the first, and a delay (a busy machine) only makes a request later:
        this holds however slow the machine is, and fails for a burst."""
        for index, arrived in enumerate(sorted(arrivals)):
            self.assertGreaterEqual(
                arrived - since,
                index / rate - EPSILON,
                f"request {index + 1} arrived {arrived - since:.3f}s after the "
                f"start: more than {rate} requests per second",
            )

    def test_two_workers_with_their_own_cursors_never_exceed_the_limit(self):
        endpoint_id = self.endpoint.id
        registry = self.registry
        errors = []
        per_worker = 12

        def worker(api_url, name):
            try:
                # each worker reserves on its own database connection, as
                # workers of different servers do (an Environment cannot be
                # built in a thread while the test holds the registry)
                for n in range(per_worker):
                    with registry.cursor() as cr:
                        wait = reserve_slot(cr, endpoint_id, RATE, 30)
                    if wait:
                        threading.Event().wait(wait)
                    fi_http.send(
                        "POST", f"{api_url}/{name}/{n}", data=b"{}", timeout=(5, 30)
                    )
            except Exception as err:  # noqa: BLE001 - reported by the test
                errors.append(err)

        with LocalApi([(200, {}, {"ok": True}, 0)]) as local:
            since = time.monotonic()
            workers = [
                threading.Thread(target=worker, args=(local.url, f"w{i}"))
                for i in range(2)
            ]
            for thread in workers:
                thread.start()
            for thread in workers:
                thread.join(120)
        self.assertFalse(any(t.is_alive() for t in workers), "workers finished")
        self.assertFalse(errors)
        requests = local.requests
        self.assertEqual(len(requests), 2 * per_worker, "nothing dropped")
        for name in ("w0", "w1"):
            self.assertEqual(
                sum(r["path"].startswith(f"/{name}/") for r in requests), per_worker
            )
        self.assertPaced([r["at"] for r in requests], RATE, since)

    def test_messages_sent_through_the_endpoint_respect_the_limit(self):
        self.endpoint.rate_limit_per_second = 5
        with LocalApi([(200, {}, {"id": "cus_r"}, 0)]) as local:
            self.endpoint.base_url = local.url
            messages = self.env["fi.message"]
            for n in range(8):
                messages |= self.endpoint._fi_send(self.out_flow, {"n": n})
            since = time.monotonic()
            self.run_jobs()
        self.assertEqual(set(messages.mapped("state")), {"done"})
        self.assertEqual(len(local.requests), 8)
        self.assertPaced([r["at"] for r in local.requests], 5, since)

    def test_429_pauses_every_sender_until_its_retry_after(self):
        self.endpoint.rate_limit_per_second = 50
        answers = [(429, {"Retry-After": "2"}, {"error": "slow down"}, 0)]
        with LocalApi(answers) as local:
            self.endpoint.base_url = local.url
            message = self.endpoint._fi_send(self.out_flow, {"n": 429})
            self.run_jobs()
        self.assertEqual(message.state, "retry", "retried, not dropped")
        wait = self.endpoint._fi_rate_next_wait(self.endpoint.id)
        self.assertGreater(wait, 1.0, "the next slot is after the Retry-After")
        # a sender that cannot wait that long is told to retry then
        self.endpoint.rate_max_wait_seconds = 0
        with self.assertRaisesRegex(Exception, "rate limit") as caught:
            self.endpoint._fi_rate_wait()
        self.assertEqual(caught.exception.reason_code, "rate_limited")
        self.assertGreater(caught.exception.retry_after, 1.0)
