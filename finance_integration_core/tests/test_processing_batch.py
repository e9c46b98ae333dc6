# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Batched processing: a flow's processing batch size and the provider's
``_fi_handle_inbound_batch`` hook."""

import json
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.tests import tagged

from odoo.addons.queue_job.exception import RetryableJobError

from ..lib.errors import FiBusinessError
from .common import FiCommon
from .test_processing import POSTING_CODE


def queued_messages(env, endpoint, flow, count, prefix, **data):
    """``count`` inbound messages of ``flow``, queued with a pending job each
    (as a retry or a replay leaves them)."""
    messages = received_messages(env, endpoint, flow, count, prefix, **data)
    messages._fi_enqueue_processing()
    return messages


def received_messages(env, endpoint, flow, count, prefix, **data):
    """``count`` inbound messages of ``flow`` as intake stores them (new, in
    the outbox, no job yet)."""
    messages = env["fi.message"].sudo()
    for index in range(count):
        name = f"{prefix}{index}"
        payload = {
            "id": f"evt_{name}",
            "type": flow.event_type,
            "data": dict({"customer_id": f"cus_{name}", "name": name}, **data),
        }
        messages |= messages.create(
            {
                "endpoint_id": endpoint.id,
                "flow_id": flow.id,
                "company_id": endpoint.company_id.id,
                "direction": "in",
                "state": "new",
                "event_type": flow.event_type,
                "idempotency_key": f"evt_{name}",
                "payload": json.dumps(payload),
            }
        )
    return messages


@tagged("post_install", "-at_install")
class TestProcessingBatch(FiCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.use_server_action("Create bound customer (batch tests)", POSTING_CODE)

    def queued(self, count, prefix="Batch ", **data):
        return queued_messages(
            self.env, self.endpoint, self.flow, count, prefix, **data
        ).with_user(self.bot)

    def jobs_of(self, messages):
        return (
            self.env["queue.job"]
            .sudo()
            .search([("uuid", "in", messages.mapped("job_uuid"))])
        )

    def partners(self, prefix):
        return self.env["res.partner"].search([("name", "=like", f"{prefix}%")])

    def spy_batches(self):
        """Patch the batch hook with a spy recording the batches it gets."""
        calls = []
        original = type(self.env["fi.endpoint"])._fi_handle_inbound_batch

        def spy(endpoint, messages, documents):
            calls.append(messages.ids)
            return original(endpoint, messages, documents)

        return calls, patch.object(
            type(self.env["fi.endpoint"]), "_fi_handle_inbound_batch", spy
        )

    def test_batch_size_one_processes_only_the_message_of_the_job(self):
        messages = self.queued(3)
        calls, spy = self.spy_batches()
        with spy:
            messages[0]._fi_process()
        self.assertEqual(calls, [], "no batch hook at the default size")
        self.assertEqual(messages.mapped("state"), ["done", "queued", "queued"])
        self.assertEqual(set(self.jobs_of(messages[1:]).mapped("state")), {"pending"})

    def test_job_claims_queued_neighbours_and_marks_their_jobs_done(self):
        self.flow.process_batch_size = 3
        messages = self.queued(5)
        calls, spy = self.spy_batches()
        with spy:
            summary = messages[0]._fi_process()
        self.assertIn("batch of 3", summary)
        # one hook call: its own message and the two newest queued ones
        self.assertEqual(calls, [[messages[0].id, messages[3].id, messages[4].id]])
        claimed = messages[0] | messages[3] | messages[4]
        self.assertEqual(set(claimed.mapped("state")), {"done"})
        self.assertEqual(set(claimed.mapped("attempts")), {1})
        for message in claimed:
            self.assertEqual(message.res_model, "res.partner")
            self.assertGreaterEqual(message.latency_ms, 0)
        self.assertEqual(len(self.partners("Batch ")), 3)
        # the claimed messages' jobs are done: the runner never starts them
        jobs = self.jobs_of(messages[3:])
        self.assertEqual(set(jobs.mapped("state")), {"done"})
        self.assertIn(f"batch of message {messages[0].id}", jobs[0].result)
        # the others keep their jobs and their state
        self.assertEqual((messages[1] | messages[2]).mapped("state"), ["queued"] * 2)
        self.assertEqual(set(self.jobs_of(messages[1:3]).mapped("state")), {"pending"})
        # a claimed message's job, run anyway, finds it done
        self.assertIn("nothing to do", messages[3]._fi_process())
        self.assertEqual(len(self.partners("Batch ")), 3)

    def test_failed_message_in_a_batch_fails_alone_with_its_exception(self):
        self.flow.process_batch_size = 10
        good = self.queued(3, prefix="Good ")
        bad = self.queued(1, prefix="Bad ", blocked=True)
        good[0]._fi_process()
        self.assertEqual(set(good.mapped("state")), {"done"})
        self.assertEqual(bad.state, "failed")
        self.assertEqual(bad.attempts, 1)
        self.assertEqual(bad.exception_ids.state, "new")
        self.assertIn("blocked", bad.error_message)
        self.assertFalse(self.partners("Bad "), "the failed message left nothing")
        self.assertEqual(len(self.partners("Good ")), 3)

    def test_schema_invalid_message_fails_before_the_batch_handler(self):
        self.flow.write(
            {
                "process_batch_size": 4,
                "schema_json": json.dumps(
                    {
                        "type": "object",
                        "required": ["data"],
                        "properties": {
                            "data": {
                                "type": "object",
                                "required": ["customer_id"],
                                "properties": {"name": {"type": "string"}},
                            }
                        },
                    }
                ),
            }
        )
        messages = self.queued(2)
        wrong = self.queued(1, prefix="Wrong ", name=42)
        calls, spy = self.spy_batches()
        with spy:
            messages[0]._fi_process()
        self.assertEqual(calls, [messages.ids], "the invalid one is not handed over")
        self.assertEqual(set(messages.mapped("state")), {"done"})
        self.assertEqual(wrong.state, "failed")
        self.assertEqual(wrong.error_code, "schema_invalid")

    def test_batch_failing_as_a_whole_falls_back_to_one_by_one(self):
        self.flow.process_batch_size = 5
        good = self.queued(3, prefix="Good ")
        bad = self.queued(1, prefix="Bad ", blocked=True)
        endpoint_class = type(self.env["fi.endpoint"])

        def broken(endpoint, messages, documents):
            # writes for every message, then fails for all of them at once
            endpoint.env["res.partner"].create(
                [{"name": "Broken batch"} for _document in documents]
            )
            raise FiBusinessError("the batch posting failed", "batch_failed")

        with patch.object(endpoint_class, "_fi_handle_inbound_batch", broken):
            good[0]._fi_process()
        self.assertFalse(self.partners("Broken batch"), "the batch was rolled back")
        self.assertEqual(set(good.mapped("state")), {"done"})
        self.assertEqual(set(good.mapped("attempts")), {1})
        self.assertEqual(len(self.partners("Good ")), 3)
        self.assertEqual(bad.state, "failed", "only the bad one fails")
        self.assertIn("blocked", bad.error_message)
        self.assertEqual(set(self.jobs_of(good[1:] | bad).mapped("state")), {"done"})

    # ------------------------------------------------------------------
    # groups made by the dispatcher
    # ------------------------------------------------------------------
    def received(self, count, prefix="Group "):
        return received_messages(self.env, self.endpoint, self.flow, count, prefix)

    def test_dispatcher_gives_a_batched_flows_messages_one_job_per_group(self):
        self.flow.process_batch_size = 3
        messages = self.received(7)
        self.endpoint._fi_dispatch()
        self.assertEqual(set(messages.mapped("state")), {"queued"})
        uuids = list(dict.fromkeys(messages.mapped("job_uuid")))
        # in the order received: 3, 3, and the last one alone
        self.assertEqual(len(uuids), 3)
        self.assertEqual(
            messages.mapped("job_uuid"),
            [uuids[0]] * 3 + [uuids[1]] * 3 + [uuids[2]],
        )
        jobs = self.jobs_of(messages)
        self.assertEqual(len(jobs), 3, "one job per group, not one per message")
        self.assertEqual(
            sorted(jobs.mapped("method_name")),
            ["_fi_process", "_fi_process_group", "_fi_process_group"],
        )
        calls, spy = self.spy_batches()
        with spy:
            self.run_jobs()
        # the last one in its own job (a batch of one: nothing left to claim)
        self.assertEqual(
            sorted(calls), [messages[:3].ids, messages[3:6].ids, messages[6:].ids]
        )
        self.assertEqual(set(messages.mapped("state")), {"done"})
        self.assertEqual(set(messages.mapped("attempts")), {1})
        self.assertEqual(len(self.partners("Group ")), 7)
        results = self.jobs_of(messages[:3]).result
        self.assertIn("batch of 3 (3 done)", results)

    def test_dispatcher_gives_a_message_of_an_unbatched_flow_its_own_job(self):
        messages = self.received(2)
        self.endpoint._fi_dispatch()
        self.assertEqual(len(set(messages.mapped("job_uuid"))), 2)
        self.assertEqual(
            set(self.jobs_of(messages).mapped("method_name")), {"_fi_process"}
        )

    def test_group_job_leaves_a_message_retried_meanwhile_to_its_new_job(self):
        self.flow.process_batch_size = 3
        messages = self.received(3, prefix="Moved ")
        self.endpoint._fi_dispatch()
        group_job = self.jobs_of(messages)
        # the third one is replayed into a job of its own before the group runs
        messages[2]._fi_enqueue_processing()
        self.assertNotEqual(messages[2].job_uuid, group_job.uuid)
        calls, spy = self.spy_batches()
        with spy:
            self.run_jobs()
        self.assertIn(messages[:2].ids, calls, "the group processed its two")
        self.assertEqual(
            [ids for ids in calls if messages[2].id in ids],
            [messages[2:].ids],
            "the third alone, by its own job",
        )
        self.assertEqual(set(messages.mapped("state")), {"done"})
        self.assertEqual(set(messages.mapped("attempts")), {1}, "each processed once")
        self.assertEqual(len(self.partners("Moved ")), 3)

    def test_claim_never_takes_a_message_of_a_group_job(self):
        self.flow.process_batch_size = 3
        grouped = self.received(3, prefix="Grouped ")
        self.endpoint._fi_dispatch()
        alone = self.queued(1, prefix="Alone ")
        calls, spy = self.spy_batches()
        with spy:
            summary = alone._fi_process()
        self.assertIn("batch of 1", summary)
        self.assertEqual(calls, [alone.ids])
        self.assertEqual(set(grouped.mapped("state")), {"queued"})
        self.assertEqual(self.jobs_of(grouped).state, "pending")
        self.run_jobs()
        self.assertEqual(set(grouped.mapped("state")), {"done"})
        self.assertEqual(len(self.partners("Grouped ")), 3)

    def test_group_of_a_paused_endpoint_returns_to_the_outbox(self):
        self.flow.process_batch_size = 3
        messages = self.received(2, prefix="Paused ")
        self.endpoint._fi_dispatch()
        self.endpoint.state = "paused"
        self.run_jobs()
        self.assertEqual(set(messages.mapped("state")), {"new"})
        self.assertFalse(any(messages.mapped("job_uuid")))
        self.assertFalse(self.partners("Paused "))
        self.endpoint.state = "active"
        self.endpoint._fi_dispatch()
        self.run_jobs()
        self.assertEqual(set(messages.mapped("state")), {"done"})


@tagged("post_install", "-at_install")
class TestProcessingBatchConcurrency(FiCommon):
    """Two workers with their own cursors claiming at the same time."""

    def test_two_workers_claiming_together_never_process_a_message_twice(self):
        registry = self.registry
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            endpoint = env["fi.endpoint"].create(
                {
                    "name": "Batch concurrency endpoint",
                    "provider": "generic_hmac",
                    "state": "active",
                    "webhook_secret": "whsec_batch_concurrency_0123456789",
                    "signature_header": "X-Signature",
                    "base_url": "http://127.0.0.1:9/",
                }
            )
            flow = env["fi.flow"].create(
                {
                    "name": "batch concurrency",
                    "endpoint_id": endpoint.id,
                    "direction": "in",
                    "event_type": "batch.concurrency",
                    "process_batch_size": 3,
                }
            )
            messages = queued_messages(env, endpoint, flow, 6, "Concurrent ")
            ids, endpoint_id, flow_id = messages.ids, endpoint.id, flow.id
            uuids = messages.mapped("job_uuid")
        self.addCleanup(self._drop, endpoint_id, flow_id, uuids)
        handled = []
        original = type(self.env["fi.endpoint"])._fi_handle_inbound_batch

        def spy(endpoint, batch, documents):
            handled.extend(batch.ids)
            return original(endpoint, batch, documents)

        first = registry.cursor()
        second = registry.cursor()
        try:
            for cr in (first, second):
                cr.execute("SET lock_timeout = '10s'")
            env1 = api.Environment(first, SUPERUSER_ID, {})
            env2 = api.Environment(second, SUPERUSER_ID, {})
            with patch.object(
                type(self.env["fi.endpoint"]), "_fi_handle_inbound_batch", spy
            ):
                # worker 1 claims the two newest and holds them (no commit)
                summary1 = env1["fi.message"].browse(ids[0])._fi_process()
                # worker 2, meanwhile: skips what worker 1 holds
                summary2 = env2["fi.message"].browse(ids[1])._fi_process()
                # a message worker 1 holds cannot be processed by its own job
                with self.assertRaises(RetryableJobError):
                    env2["fi.message"].browse(ids[5])._fi_process()
            first.commit()
            second.commit()
        finally:
            first.close()
            second.close()
        self.assertIn("batch of 3", summary1)
        self.assertIn("batch of 3", summary2)
        self.assertEqual(sorted(handled), sorted(ids), "each message exactly once")
        with registry.cursor() as cr:
            cr.execute(
                "SELECT state, attempts, count(*) FROM fi_message WHERE id IN %s "
                "GROUP BY 1, 2",
                (tuple(ids),),
            )
            self.assertEqual(cr.fetchall(), [("done", 1, 6)])
            cr.execute(
                "SELECT uuid FROM queue_job WHERE uuid IN %s AND state = 'done'",
                (tuple(uuids),),
            )
            done = {row[0] for row in cr.fetchall()}
        # the four claimed messages' jobs are done; the two that ran are
        # their own (performed here without the runner, they stay pending)
        self.assertEqual(done, set(uuids) - {uuids[0], uuids[1]})

    def _drop(self, endpoint_id, flow_id, uuids):
        with self.registry.cursor() as cr:
            cr.execute("DELETE FROM queue_job WHERE uuid IN %s", (tuple(uuids),))
            cr.execute("DELETE FROM fi_message WHERE endpoint_id = %s", (endpoint_id,))
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["fi.flow"].browse(flow_id).unlink()
            env["fi.endpoint"].browse(endpoint_id).unlink()
