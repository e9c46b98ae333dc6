# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Pause and resume per flow; the outbound circuit breaker."""

from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from .common import FiCommon, LocalApi


@tagged("post_install", "-at_install")
class TestFlowPause(FiCommon):
    def test_paused_flow_keeps_intake_and_processes_on_resume(self):
        other = self.env["fi.flow"].create(
            {
                "name": "other",
                "endpoint_id": self.endpoint.id,
                "event_type": "other.evt",
            }
        )
        self.flow.with_user(self.owner).action_pause_flow()
        status, held = self.receive(self.event("evt_held"))
        status, free = self.receive(self.event("evt_free", "other.evt"))
        held = self.env["fi.message"].browse(held["message_id"])
        free = self.env["fi.message"].browse(free["message_id"])
        self.run_jobs()
        self.assertEqual(free.state, "done", "other flows keep running")
        self.assertEqual(free.flow_id, other)
        self.assertEqual(held.state, "new", "intake stored it, processing waits")
        self.flow.with_user(self.owner).action_resume_flow()
        self.run_jobs()
        self.assertEqual(held.state, "done")

    def test_flow_paused_while_queued_puts_the_message_back(self):
        status, answer = self.receive(self.event("evt_requeue"))
        message = self.env["fi.message"].browse(answer["message_id"])
        self.endpoint._fi_dispatch()
        self.assertEqual(message.state, "queued")
        self.flow.action_pause_flow()
        self.run_jobs()
        self.assertEqual((message.state, message.attempts), ("new", 0))
        self.assertFalse(message.job_uuid)


@tagged("post_install", "-at_install")
class TestCircuitBreaker(FiCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.out_flow = cls.env["fi.flow"].create(
            {
                "name": "export",
                "endpoint_id": cls.endpoint.id,
                "direction": "out",
                "event_type": "export",
                "path": "/export",
                "max_attempts": 1,
                "owner_id": cls.owner.id,
            }
        )
        cls.endpoint.write({"circuit_threshold": 2, "circuit_cooldown_minutes": 10})

    def send(self, n):
        return self.endpoint._fi_send(self.out_flow, {"n": n})

    def test_repeated_failures_open_the_circuit_once_and_hold_sending(self):
        with LocalApi([(503, {}, {"error": "down"}, 0)]) as api:
            self.endpoint.base_url = api.url
            first, second = self.send(1), self.send(2)
            self.run_jobs()
            self.assertEqual(self.endpoint.circuit_state, "open")
            self.assertEqual(len(api.requests), 2)
            third = self.send(3)
            self.run_jobs()
            self.assertEqual(len(api.requests), 2, "nothing is sent while open")
        self.assertEqual(third.state, "new")
        opened = self.env["fi.exception"].search(
            [
                ("endpoint_id", "=", self.endpoint.id),
                ("reason_code", "=", "circuit_open"),
            ]
        )
        self.assertEqual(len(opened), 1, "one exception when the circuit opens")
        self.assertIn("consecutive technical failures", opened.detail)
        self.assertEqual(self.endpoint._fi_dispatch(), "0 messages dispatched")
        self.assertEqual((first.state, second.state), ("dead", "dead"))

    def test_probe_after_cooldown_closes_the_circuit_and_resumes(self):
        with LocalApi([(503, {}, {"error": "down"}, 0)]) as api:
            self.endpoint.base_url = api.url
            self.send(1), self.send(2)
            self.run_jobs()
        waiting = self.send(3) | self.send(4)
        self.run_jobs()
        self.assertEqual(set(waiting.mapped("state")), {"new"})
        self.endpoint.circuit_opened_at = fields.Datetime.now() - timedelta(minutes=11)
        with LocalApi([(200, {}, {"id": "ok"}, 0)]) as api:
            self.endpoint.base_url = api.url
            self.endpoint._fi_dispatch()
            self.assertEqual(self.endpoint.circuit_state, "half_open")
            self.assertEqual(
                waiting.mapped("state"), ["queued", "new"], "one probe only"
            )
            self.run_jobs()
        self.assertEqual(self.endpoint.circuit_state, "closed")
        self.assertEqual(self.endpoint.circuit_failures, 0)
        self.assertEqual(set(waiting.mapped("state")), {"done"})
        self.assertEqual(len(api.requests), 2)

    def test_failed_probe_reopens_and_manual_close_resumes(self):
        with LocalApi([(503, {}, {"error": "down"}, 0)]) as api:
            self.endpoint.base_url = api.url
            self.send(1), self.send(2)
            self.run_jobs()
            probe, waiting = self.send(3), self.send(4)
            self.assertEqual((probe.state, waiting.state), ("new", "new"))
            self.endpoint.circuit_opened_at = fields.Datetime.now() - timedelta(
                minutes=11
            )
            self.endpoint._fi_dispatch()
            self.assertEqual(self.endpoint.circuit_probe_message_id, probe)
            self.run_jobs()
        self.assertEqual(self.endpoint.circuit_state, "open", "a failed probe reopens")
        self.assertEqual(probe.state, "dead")
        self.assertEqual(waiting.state, "new")
        self.assertGreater(
            self.endpoint.circuit_opened_at,
            fields.Datetime.now() - timedelta(minutes=1),
        )
        self.assertEqual(
            self.env["fi.exception"].search_count(
                [
                    ("endpoint_id", "=", self.endpoint.id),
                    ("reason_code", "=", "circuit_open"),
                ]
            ),
            1,
            "reopening after a probe opens no second exception",
        )
        with LocalApi([(200, {}, {"id": "ok"}, 0)]) as api:
            self.endpoint.base_url = api.url
            self.endpoint.with_user(self.owner).action_close_circuit()
            self.run_jobs()
        self.assertEqual(self.endpoint.circuit_state, "closed")
        self.assertEqual(waiting.state, "done")
        self.assertEqual(len(api.requests), 1)
