# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The sealer as a queue job on a capacity-1 channel, enqueued after the
commit of the transactions that append events (real commits and late
committers: test_concurrency)."""

from odoo import sql_db
from odoo.tests import tagged

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.tests.common import trap_jobs

from ..models.fi_audit_event import SEAL_CHANNEL
from .common import AuditCommon


@tagged("post_install", "-at_install")
class TestSealerJob(AuditCommon):
    def test_appending_events_plans_one_seal_job_that_seals_them_in_order(self):
        with trap_jobs() as trap:
            first = self.event(summary="first of the transaction")
            second = self.event(summary="second of the transaction")
            trap.assert_jobs_count(0)  # nothing before the commit
            hooks = self.env.cr.postcommit
            self.assertTrue(hooks.data.get("fi_audit_seal"), "one hook per commit")
            # what the hook runs after the commit (in its own transaction)
            self.assertTrue(self.events._fi_enqueue_seal())
            trap.assert_jobs_count(1, only=self.events._fi_seal_job)
            trap.assert_enqueued_job(
                self.events._fi_seal_job, properties={"channel": SEAL_CHANNEL}
            )
            trap.perform_enqueued_jobs()
        self.assertTrue(first.hash and second.hash)
        self.assertEqual(second.sequence, first.sequence + 1)
        self.assertEqual(second.prev_hash, first.hash)

    def test_seal_channel_runs_one_job_at_a_time(self):
        channel = self.env.ref("finance_integration_audit.channel_fi_audit_seal")
        self.assertEqual((channel.complete_name, channel.capacity), (SEAL_CHANNEL, 1))
        function = self.env.ref("finance_integration_audit.job_function_fi_audit_seal")
        self.assertEqual(function.channel_id, channel)
        self.assertEqual(function.method, "_fi_seal_job")

    def test_seal_job_retries_while_another_sealer_holds_the_chain(self):
        event = self.event(summary="waits for the other sealer")
        other = sql_db.db_connect(self.env.cr.dbname).cursor()
        try:
            other.execute("SET lock_timeout = '10s'")
            other.execute("SELECT 1 FROM fi_audit_sealer WHERE id = 1 FOR UPDATE")
            with self.assertRaises(RetryableJobError):
                self.events._fi_seal_job()
            self.assertFalse(event.hash, "nothing sealed behind the other's back")
        finally:
            other.rollback()
            other.close()
        self.assertIn("events sealed", self.events._fi_seal_job())
        self.assertTrue(event.hash)

    def test_a_waiting_seal_job_is_not_doubled(self):
        self.event()
        self.assertTrue(self.events._fi_enqueue_seal())
        self.assertFalse(self.events._fi_enqueue_seal(), "one is waiting")
        jobs = self.env["queue.job"].sudo().search([("channel", "=", SEAL_CHANNEL)])
        self.assertEqual(len(jobs), 1)
        self.assertEqual(jobs.method_name, "_fi_seal_job")
