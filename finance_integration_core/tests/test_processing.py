# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Dispatch, processing, retries, dead letters, business failures and replay."""

import time
from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from odoo.addons.queue_job.job import Job

from ..lib.outbox import dispatch_slot
from ..models.fi_endpoint_dispatch import PLANNED_DISPATCH
from .common import FiCommon, trap_jobs

POSTING_CODE = """
data = document["data"]
if record.attempts < data.get("fail_times", 0):
    raise FiTransientError("ledger locked by month-end close", "ledger_locked")
if data.get("blocked"):
    raise FiBusinessError("customer %s is blocked for invoicing" % data["name"])
partner = bindings.get_or_create(
    record.endpoint_id, "customer", data["customer_id"],
    lambda: env["res.partner"].create({"name": data["name"]}), message=record)
action = partner
"""


@tagged("post_install", "-at_install")
class TestProcessing(FiCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.use_server_action("Create bound customer", POSTING_CODE)

    def deliver(self, event_id, **data):
        data.setdefault("customer_id", f"cus_{event_id}")
        data.setdefault("name", f"Customer {event_id}")
        status, answer = self.receive(self.event(event_id, **data))
        self.assertEqual(status, 200, answer)
        return self.env["fi.message"].browse(answer["message_id"])

    def partners(self, name):
        return self.env["res.partner"].search([("name", "=", name)])

    def test_dispatch_makes_one_job_per_message_on_the_flow_channel(self):
        self.flow.channel = "root.fi"
        messages = self.deliver("evt_d1") | self.deliver("evt_d2")
        self.env["fi.endpoint"].browse(self.endpoint.id)._fi_dispatch()
        self.assertEqual(set(messages.mapped("state")), {"queued"})
        jobs = self.pending_jobs("_fi_process")
        self.assertEqual(len(jobs), 2)
        self.assertEqual(set(jobs.mapped("channel")), {"root.fi"})
        self.assertEqual(jobs.user_id, self.bot)
        self.assertEqual(set(jobs.mapped("uuid")), set(messages.mapped("job_uuid")))
        # dispatching again finds nothing new: no second job
        self.endpoint._fi_dispatch()
        self.assertEqual(len(self.pending_jobs("_fi_process")), 2)

    def test_message_is_processed_into_a_bound_record(self):
        message = self.deliver("evt_p1", name="Globex")
        self.run_jobs()
        self.assertEqual(message.state, "done")
        partner = self.partners("Globex")
        self.assertEqual(len(partner), 1)
        self.assertEqual(
            (message.res_model, message.res_id), ("res.partner", partner.id)
        )
        self.assertEqual(partner.create_uid, self.bot, "posted as the integration user")
        binding = self.env["fi.binding"].search([("external_id", "=", "cus_evt_p1")])
        self.assertEqual(binding.res_id, partner.id)
        key = self.env["fi.idempotency.key"].search([("message_id", "=", message.id)])
        self.assertEqual(key.outcome, "done")
        self.assertGreaterEqual(message.latency_ms, 0)

    def test_transient_failure_retries_with_backoff_then_succeeds(self):
        message = self.deliver("evt_t1", name="Initech", fail_times=2)
        self.run_jobs()
        self.assertEqual(message.state, "retry")
        self.assertEqual(message.attempts, 1)
        self.assertEqual(message.error_code, "ledger_locked")
        self.assertGreater(
            message.next_retry_at, fields.Datetime.now() - timedelta(seconds=1)
        )
        retry_job = self.pending_jobs("_fi_process")
        self.assertEqual(len(retry_job), 1)
        self.assertTrue(retry_job.eta, "the retry waits for its backoff delay")
        self.assertFalse(self.partners("Initech"), "a failed try leaves nothing behind")
        self.run_jobs(ignore_eta=True)
        self.assertEqual(message.state, "done")
        self.assertEqual(message.attempts, 3)
        self.assertEqual(len(self.partners("Initech")), 1)
        self.assertFalse(message.exception_ids)

    def test_transient_failure_enqueues_the_next_attempt_after_its_backoff(self):
        message = self.deliver("evt_t2", name="Vandelay", fail_times=1)
        self.endpoint._fi_dispatch()
        with trap_jobs() as trap:
            # the first attempt, as the job runner performs it
            Job.load(self.env, message.job_uuid).perform()
            self.assertEqual((message.state, message.attempts), ("retry", 1))
            trap.assert_jobs_count(1)
            trap.assert_enqueued_job(
                message._fi_process,
                properties={
                    "channel": self.flow.channel or "root.fi",
                    "identity_key": f"fi.message:{message.id}:1",
                    "eta": message.next_retry_at,
                },
            )
            self.assertEqual(message.job_uuid, trap.enqueued_jobs[0].uuid)
            trap.perform_enqueued_jobs()
        self.assertEqual((message.state, message.attempts), ("done", 2))
        self.assertEqual(len(self.partners("Vandelay")), 1)

    def test_exhausted_retries_dead_letter_and_open_exception(self):
        message = self.deliver("evt_dead", name="Hooli", fail_times=99)
        self.run_jobs(ignore_eta=True)
        self.assertEqual(message.state, "dead")
        self.assertEqual(message.attempts, self.flow.max_attempts)
        exception = message.exception_ids
        self.assertEqual(len(exception), 1)
        self.assertEqual(exception.reason_code, "retries_exhausted")
        self.assertEqual(exception.category, "technical")
        self.assertEqual(exception.user_id, self.owner)
        self.assertTrue(
            exception.activity_ids.filtered(lambda a: a.user_id == self.owner)
        )
        self.assertFalse(
            self.pending_jobs("_fi_process"), "no retry after the dead letter"
        )

    def test_business_error_is_not_retried_and_opens_exception(self):
        message = self.deliver("evt_biz", name="Umbrella", blocked=True)
        self.run_jobs(ignore_eta=True)
        self.assertEqual(message.state, "failed")
        self.assertEqual(message.attempts, 1)
        self.assertEqual(message.error_class, "business")
        self.assertIn("Umbrella is blocked", message.exception_ids.detail)
        self.assertEqual(message.exception_ids.category, "business")
        self.assertFalse(self.pending_jobs("_fi_process"))

    def test_schema_failure_names_the_path(self):
        self.flow.schema_json = (
            '{"type":"object","properties":{"data":{"type":"object",'
            '"required":["customer_id"],"properties":{"name":{"type":"string",'
            '"maxLength":5}}}}}'
        )
        message = self.deliver("evt_schema", name="Much too long a name")
        self.run_jobs()
        self.assertEqual(message.state, "failed")
        self.assertEqual(message.exception_ids.reason_code, "schema_invalid")
        self.assertIn("$.data.name", message.exception_ids.detail)
        self.assertIn("maxLength", message.exception_ids.detail)

    def test_replay_of_processed_message_posts_nothing_twice(self):
        message = self.deliver("evt_replay", name="Stark")
        self.run_jobs()
        self.assertEqual(len(self.partners("Stark")), 1)
        message.action_replay()
        self.run_jobs()
        self.assertEqual(message.state, "done")
        self.assertEqual(len(self.partners("Stark")), 1)
        self.assertEqual(
            self.env["fi.binding"].search_count(
                [("external_id", "=", "cus_evt_replay")]
            ),
            1,
        )

    def test_replay_wizard_dry_run_lists_without_changing(self):
        ok = self.deliver("evt_w1", name="Wayne")
        bad = self.deliver("evt_w2", name="Oscorp", blocked=True)
        self.run_jobs()
        wizard = self.env["fi.replay.wizard"].create(
            {"flow_ids": [(6, 0, self.flow.ids)], "states": "failed"}
        )
        wizard.action_dry_run()
        self.assertEqual(wizard.message_ids, bad)
        self.assertEqual(bad.state, "failed")
        self.assertFalse(self.pending_jobs("_fi_process"), "a dry run changes nothing")
        wizard.states = "done,failed"
        wizard.action_dry_run()
        self.assertEqual(wizard.message_ids, ok | bad)
        wizard.action_replay()
        self.assertEqual(len(self.pending_jobs("_fi_process")), 2)
        self.run_jobs()
        self.assertEqual(len(self.partners("Wayne")), 1)

    def test_paused_endpoint_keeps_intake_and_holds_processing(self):
        self.endpoint.action_pause()
        message = self.deliver("evt_pause", name="Cyberdyne")
        self.assertEqual(message.state, "new")
        self.assertEqual(
            self.endpoint._fi_dispatch(), "endpoint in state paused: nothing dispatched"
        )
        # paused while its job was already queued: the job puts it back
        self.endpoint.action_activate()
        self.endpoint._fi_dispatch()
        self.endpoint.action_pause()
        self.run_jobs()
        self.assertEqual((message.state, message.attempts), ("new", 0))
        self.assertFalse(self.partners("Cyberdyne"))
        self.endpoint.action_activate()
        self.run_jobs()
        self.assertEqual(message.state, "done")

    def planned_key(self):
        key = (self.env.cr.dbname, self.endpoint.id)
        self.addCleanup(PLANNED_DISPATCH.forget, key)
        return key

    def test_process_that_knows_the_slot_is_planned_queries_nothing(self):
        key = self.planned_key()
        slot, _start = dispatch_slot(time.time())
        # as after a committed intake; an hour of slots ahead, so that no pause
        # of a slow machine between here and the delivery moves past them
        PLANNED_DISPATCH.mark(key, slot + 3600)
        self.endpoint._fi_endpoint_config(self.endpoint.key)  # cached
        with self.assertQueryCount(1):  # the INSERT of the message, nothing else
            self.receive(self.event("evt_known_slot"))
        self.assertFalse(self.pending_jobs("_fi_dispatch"))

    def test_message_committed_after_its_slot_started_gets_its_own_dispatcher(self):
        config = self.endpoint._fi_endpoint_config(self.endpoint.key)
        self.registry.enter_test_mode(self.env.cr)
        self.addCleanup(self.registry.leave_test_mode)
        endpoints = self.env["fi.endpoint"]
        endpoints._fi_dispatch_if_late(config, time.time() + 60)
        self.assertFalse(self.pending_jobs("_fi_dispatch"), "in time: nothing more")
        endpoints._fi_dispatch_if_late(config, time.time() - 0.01)
        late = self.pending_jobs("_fi_dispatch")
        self.assertEqual(late.identity_key, f"fi.dispatch:{self.endpoint.id}")
        self.assertFalse(late.eta, "starts at once, after the message's commit")
        self.assertEqual(late.user_id, self.bot)

    def test_backlog_larger_than_one_run_queues_the_next_run(self):
        messages = self.deliver("evt_b1") | self.deliver("evt_b2")
        messages |= self.deliver("evt_b3")
        self.pending_jobs("_fi_dispatch").unlink()
        result = self.endpoint._fi_dispatch(batch=1, max_batches=2)
        self.assertEqual(result, "2 messages dispatched, more to follow")
        self.assertEqual(messages.mapped("state").count("new"), 1)
        self.run_jobs()
        self.assertEqual(set(messages.mapped("state")), {"done"})

    def test_cron_dispatches_what_no_dispatcher_picked_up(self):
        message = self.deliver("evt_cron", name="Tyrell")
        self.env["queue.job"].sudo().search(
            [("method_name", "=", "_fi_dispatch")]
        ).unlink()
        self.env["fi.endpoint"]._cron_fi_dispatch()
        self.assertEqual(message.state, "queued")
        self.run_jobs()
        self.assertEqual(message.state, "done")

    def test_watchdog_dead_letters_message_whose_job_failed(self):
        message = self.deliver("evt_lost", name="Soylent")
        self.endpoint._fi_dispatch()
        job = self.env["queue.job"].sudo().search([("uuid", "=", message.job_uuid)])
        job.write({"state": "failed"})
        self.env.cr.execute(
            "UPDATE fi_message SET write_date = write_date - interval '2 hours' "
            "WHERE id = %s",
            (message.id,),
        )
        self.env["fi.message"]._cron_fi_watchdog()
        message.invalidate_recordset()
        self.assertEqual(message.state, "dead")
        self.assertEqual(message.exception_ids.reason_code, "job_lost")
