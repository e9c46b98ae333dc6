# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Sixteen writers committing for real while the sealer runs: one gap-free
chain, rolled-back events absent."""

import threading
import time
from unittest.mock import patch

from odoo import SUPERUSER_ID, api, sql_db
from odoo.modules.registry import Registry
from odoo.tests import BaseCase, tagged

from ..lib.chain import first_break
from ..models import fi_audit_verification as verification
from ..models.fi_audit_event import HASHED_SQL, SEAL_CHANNEL

WRITERS = 16
TRANSACTIONS = 12


@tagged("post_install", "-at_install")
class TestConcurrency(BaseCase):
    """Real transactions on their own connections (a TransactionCase would
    hold everything in one); everything written is removed at the end."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        from odoo.tests.common import get_db_name

        cls.dbname = get_db_name()
        cls.db = sql_db.db_connect(cls.dbname)
        # taken here: Registry() in a thread would wait for the registry lock
        # the test runner holds
        cls.registry_ = Registry(cls.dbname)
        with cls.db.cursor() as cr:
            env = cls.env_of(cr)
            cls.company_id = env["res.company"].create({"name": "Audit concurrency"}).id
            cls.late_company_id = (
                env["res.company"].create({"name": "Audit late committer"}).id
            )
            cls.split_company_id = (
                env["res.company"].create({"name": "Audit long chain"}).id
            )

    @classmethod
    def env_of(cls, cr):
        cr.transaction = api.Transaction(cls.registry_)
        return api.Environment(cr, SUPERUSER_ID, {})

    @classmethod
    def tearDownClass(cls):
        with cls.db.cursor() as cr:
            # the seal jobs the committing writers enqueued (no job runner here)
            cr.execute("DELETE FROM queue_job WHERE channel = %s", (SEAL_CHANNEL,))
            cr.execute("ALTER TABLE fi_audit_event DISABLE TRIGGER USER")
            companies = (cls.company_id, cls.late_company_id, cls.split_company_id)
            cr.execute(
                "DELETE FROM fi_audit_event WHERE company_id IN %s", (companies,)
            )
            cr.execute("ALTER TABLE fi_audit_event ENABLE TRIGGER USER")
            env = cls.env_of(cr)
            for company_id in companies:
                try:
                    with cr.savepoint():
                        env["res.company"].browse(company_id).unlink()
                except Exception:  # noqa: BLE001 - a company may keep references
                    env["res.company"].browse(company_id).active = False
        super().tearDownClass()

    def writer(self, index, errors):
        try:
            for number in range(TRANSACTIONS):
                with self.db.cursor() as cr:
                    env = self.env_of(cr)
                    company = env["res.company"].browse(self.company_id)
                    rollback = number % 4 == 3
                    for step in range(2):
                        env["fi.audit"]._fi_event(
                            "test.rolled_back" if rollback else "test.concurrent",
                            f"writer {index} tx {number} step {step}",
                            company=company,
                            facts={"writer": index, "tx": number, "step": step},
                        )
                    env.flush_all()
                    if rollback:
                        cr.rollback()
                    else:
                        cr.commit()
        except Exception as err:  # noqa: BLE001 - reported by the test
            errors.append(err)

    def seal_once(self):
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            count = env["fi.audit.event"]._fi_seal()
            cr.commit()
            return count

    def test_sixteen_writers_form_one_gap_free_chain_without_rolled_back_events(self):
        errors = []
        threads = [
            threading.Thread(target=self.writer, args=(i, errors))
            for i in range(WRITERS)
        ]
        for thread in threads:
            thread.start()
        # the sealer runs while the writers commit
        deadline = time.monotonic() + 300
        while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
            self.seal_once()
            threads[0].join(timeout=0.05)
        for thread in threads:
            thread.join(timeout=120)
            self.assertFalse(thread.is_alive(), "a writer is stuck")
        self.assertEqual(errors, [])
        self.seal_once()
        with self.db.cursor() as cr:
            cr.execute(
                f"SELECT {HASHED_SQL}, hash FROM fi_audit_event "
                "WHERE company_id = %s ORDER BY sequence",
                (self.company_id,),
            )
            rows = cr.fetchall()
        committed = WRITERS * (TRANSACTIONS - TRANSACTIONS // 4) * 2
        self.assertEqual(len(rows), committed)
        self.assertEqual([r[1] for r in rows], list(range(1, committed + 1)))
        self.assertIsNone(first_break(rows))
        self.assertNotIn("test.rolled_back", {r[4] for r in rows})
        facts = {(r[14]) for r in rows}
        self.assertEqual(len(facts), committed, "every committed event exactly once")

    def run_seal_jobs(self):
        """Run the pending seal jobs as the job runner would; how many ran."""
        from odoo.addons.queue_job.job import Job

        with self.db.cursor() as cr:
            env = self.env_of(cr)
            cr.execute(
                "SELECT uuid FROM queue_job WHERE channel = %s AND state = 'pending' "
                "ORDER BY id",
                (SEAL_CHANNEL,),
            )
            uuids = [row[0] for row in cr.fetchall()]
            for uuid in uuids:
                job = Job.load(env, uuid)
                job.set_started()
                job.store()
                job.perform()
                job.set_done()
                job.store()
            cr.commit()
        return len(uuids)

    def test_seal_job_seals_a_late_committer_after_the_early_one_never_skipping_it(
        self,
    ):
        self.run_seal_jobs()  # whatever an earlier test left
        late = self.db.cursor()
        try:
            late_env = self.env_of(late)
            late_event = late_env["fi.audit"]._fi_event(
                "test.late",
                "id drawn first, committed last",
                company=late_env["res.company"].browse(self.late_company_id),
            )
            late_env.flush_all()
            with self.db.cursor() as early:
                early_env = self.env_of(early)
                early_event = early_env["fi.audit"]._fi_event(
                    "test.early",
                    "id drawn second, committed first",
                    company=early_env["res.company"].browse(self.late_company_id),
                )
                early.commit()  # enqueues a seal job
            self.assertLess(late_event.id, early_event.id)
            self.assertEqual(self.run_seal_jobs(), 1)
            late.commit()  # enqueues a seal job of its own
        finally:
            late.close()
        self.assertEqual(self.run_seal_jobs(), 1)
        with self.db.cursor() as cr:
            cr.execute(
                "SELECT id, sequence FROM fi_audit_event WHERE id IN %s",
                ((late_event.id, early_event.id),),
            )
            sequences = dict(cr.fetchall())
        self.assertEqual(sequences[late_event.id], sequences[early_event.id] + 1)

    def check_company(self, company_id):
        with self.db.cursor() as cr:
            return self.env_of(cr)["fi.audit.verification"]._fi_check_company(
                company_id
            )

    def tamper(self, company_id, sequence):
        with self.db.cursor() as cr:
            cr.execute("ALTER TABLE fi_audit_event DISABLE TRIGGER USER")
            cr.execute(
                "UPDATE fi_audit_event SET summary = 'tampered' "
                "WHERE company_id = %s AND sequence = %s",
                (company_id, sequence),
            )
            cr.execute("ALTER TABLE fi_audit_event ENABLE TRIGGER USER")

    def test_long_chain_is_checked_in_two_halves_that_find_the_first_break(self):
        company_id = self.split_company_id
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            company = env["res.company"].browse(company_id)
            for index in range(40):
                env["fi.audit"]._fi_event(
                    "test.split", f"event {index}", company=company, facts={"i": index}
                )
            env["fi.audit.event"]._fi_seal()
        halves = []
        check_lines = verification.FiAuditVerification._fi_check_lines

        def spy(model, cr, rows, *args):
            halves.append(rows)
            return check_lines(model, cr, rows, *args)

        with (
            patch.object(verification, "SPLIT_MIN_ROWS", 8),
            patch.object(verification.FiAuditVerification, "_fi_check_lines", spy),
        ):
            found = self.check_company(company_id)
            self.assertEqual((found["state"], found["events_checked"]), ("ok", 40))
            self.assertEqual(len(halves), 2, "checked in two halves")
            self.assertIn("sequence <= 20", halves[0] + halves[1])
            self.tamper(company_id, 31)  # in the upper half
            found = self.check_company(company_id)
            self.assertEqual(
                (found["break_sequence"], found["break_kind"]), (31, "changed")
            )
            self.tamper(company_id, 7)  # in the lower half: the first break
            found = self.check_company(company_id)
            self.assertEqual(
                (found["break_sequence"], found["break_kind"]), (7, "changed")
            )
            self.assertEqual(found["events_checked"], 6)
