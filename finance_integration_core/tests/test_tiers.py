# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Service tiers: micro-batch every N minutes, scheduled batch crons."""

from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from .common import FiCommon, LocalApi


@tagged("post_install", "-at_install")
class TestServiceTiers(FiCommon):
    def test_micro_batch_waits_for_its_interval_then_runs_one_job_per_unit(self):
        self.flow.write(
            {"sync_tier": "micro_batch", "batch_interval_minutes": 5, "batch_size": 2}
        )
        messages = self.env["fi.message"]
        for n in range(3):
            status, answer = self.receive(self.event(f"evt_micro_{n}"))
            messages |= self.env["fi.message"].browse(answer["message_id"])
        self.run_jobs()
        self.assertEqual(set(messages.mapped("state")), {"new"}, "not realtime")
        self.flow.last_batch_at = fields.Datetime.now() - timedelta(minutes=1)
        self.env["fi.endpoint"]._cron_fi_dispatch()
        self.assertEqual(set(messages.mapped("state")), {"new"}, "interval not elapsed")
        self.flow.last_batch_at = fields.Datetime.now() - timedelta(minutes=6)
        self.env["fi.endpoint"]._cron_fi_dispatch()
        units = self.pending_jobs("_fi_run_batch_unit")
        self.assertEqual(len(units), 2, "3 messages in units of 2")
        self.assertEqual(set(messages.mapped("state")), {"queued"})
        self.run_jobs()
        self.assertEqual(set(messages.mapped("state")), {"done"})

    def test_scheduled_batch_flow_gets_a_cron_and_sends_what_waits(self):
        out_flow = self.env["fi.flow"].create(
            {
                "name": "nightly export",
                "endpoint_id": self.endpoint.id,
                "direction": "out",
                "event_type": "export",
                "path": "/export",
                "sync_tier": "batch",
                "batch_interval_minutes": 60,
            }
        )
        cron = out_flow.cron_id
        self.assertTrue(cron.active)
        self.assertEqual((cron.interval_number, cron.interval_type), (60, "minutes"))
        with LocalApi([(200, {}, {"id": "ok"}, 0)]) as api:
            self.endpoint.base_url = api.url
            messages = self.endpoint._fi_send(
                out_flow, {"n": 1}
            ) | self.endpoint._fi_send(out_flow, {"n": 2})
            self.run_jobs()
            self.assertEqual(len(api.requests), 0, "nothing sent before the schedule")
            self.assertEqual(set(messages.mapped("state")), {"new"})
            self.env["fi.flow"]._fi_cron_run_flow(out_flow.id)
            units = self.pending_jobs("_fi_run_batch_unit")
            self.assertEqual(len(units), 1)
            self.assertEqual(units.user_id, self.bot, "run as the integration user")
            self.run_jobs()
        self.assertEqual(len(api.requests), 2)
        self.assertEqual(set(messages.mapped("state")), {"done"})
        out_flow.sync_tier = "realtime"
        self.assertFalse(cron.active, "leaving the batch tier stops its cron")
