# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Sixteen writers committing for real while the sealer runs: one gap-free
chain, rolled-back events absent."""

import threading
import time

from odoo import SUPERUSER_ID, api, sql_db
from odoo.modules.registry import Registry
from odoo.tests import BaseCase, tagged

from ..lib.chain import first_break
from ..models.fi_audit_event import HASHED_SQL

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

    @classmethod
    def env_of(cls, cr):
        cr.transaction = api.Transaction(cls.registry_)
        return api.Environment(cr, SUPERUSER_ID, {})

    @classmethod
    def tearDownClass(cls):
        with cls.db.cursor() as cr:
            cr.execute("ALTER TABLE fi_audit_event DISABLE TRIGGER USER")
            cr.execute(
                "DELETE FROM fi_audit_event WHERE company_id = %s", (cls.company_id,)
            )
            cr.execute("ALTER TABLE fi_audit_event ENABLE TRIGGER USER")
            env = cls.env_of(cr)
            try:
                with cr.savepoint():
                    env["res.company"].browse(cls.company_id).unlink()
            except Exception:  # noqa: BLE001 - a company may keep references
                env["res.company"].browse(cls.company_id).active = False
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
