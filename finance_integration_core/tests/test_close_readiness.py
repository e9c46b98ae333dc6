# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import date
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import SECRET, FiCommon


@tagged("post_install", "-at_install")
class TestCloseReadiness(FiCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company2 = cls.env["res.company"].create({"name": "FI Close Company"})
        cls.bot.write({"company_ids": [(4, cls.company2.id)]})
        cls.endpoint2 = cls.env["fi.endpoint"].create(
            {
                "name": "Close endpoint",
                "company_id": cls.company2.id,
                "provider": "generic_hmac",
                "state": "active",
                "webhook_secret": SECRET,
                "signature_header": "X-Signature",
            }
        )
        cls.flow2 = cls.env["fi.flow"].create(
            {"name": "any -> store", "endpoint_id": cls.endpoint2.id}
        )
        cls.today = fields.Date.context_today(cls.env["fi.message"])

    def deliver(self, event_id):
        status, answer = self.receive(self.event(event_id), key=self.endpoint2.key)
        self.assertEqual(status, 200, answer)
        return self.env["fi.message"].browse(answer["message_id"])

    def readiness(self):
        return self.env["fi.close.readiness"].create(
            {
                "company_id": self.company2.id,
                "date_from": date(self.today.year, 1, 1),
                "date_to": self.today,
            }
        )

    def counts(self, readiness):
        return {line.code: line.count for line in readiness.line_ids}

    def test_period_is_blocked_until_the_integrations_are_settled(self):
        pending = self.deliver("evt_c1")
        dead = self.deliver("evt_c2")
        failed = self.deliver("evt_c3")
        self.run_jobs()
        self.assertEqual(pending.state, "done")
        pending.write({"state": "retry"})
        dead.write({"state": "dead"})
        failed.write({"state": "failed"})
        failed._fi_open_exception("business_rule", "Customer on hold")
        readiness = self.readiness()
        readiness.action_check()
        self.assertEqual(readiness.state, "blocked")
        self.assertEqual(
            self.counts(readiness),
            {
                "open_exceptions": 1,
                "pending_messages": 1,
                "dead_letters": 1,
                "failed_messages": 1,
            },
        )
        self.assertEqual(readiness.blocking_count, 4)
        line = readiness.line_ids.filtered(lambda b: b.code == "open_exceptions")
        self.assertEqual(line.endpoint_id, self.endpoint2, "per endpoint")
        action = line.action_open()
        self.assertEqual(
            self.env[action["res_model"]].search(eval(action["domain"])),  # noqa: S307
            failed.exception_ids,
        )

        for message in pending | dead | failed:
            message.write({"state": "done"})
        failed.exception_ids.action_resolve()
        readiness.action_check()
        self.assertEqual(readiness.state, "ready")
        self.assertFalse(readiness.line_ids)

    def test_pending_approvals_warn_without_blocking(self):
        vmap = self.env["fi.value.map"].create(
            {
                "name": "Close map",
                "code": "close_map",
                "company_id": self.company2.id,
                "value_type": "char",
            }
        )
        vmap._fi_new_version().action_submit()
        vmap._fi_new_version()  # a draft waits for nobody
        readiness = self.readiness()
        readiness.action_check()
        self.assertEqual(readiness.state, "ready")
        line = readiness.line_ids
        self.assertEqual(
            (line.code, line.count, line.blocking),
            ("pending_fi_value_map_version", 1, False),
        )
        self.assertEqual(readiness.warning_count, 1)

    def test_connectors_add_their_blockers_through_the_endpoint_hook(self):
        def blockers(endpoint, date_from, date_to):
            if endpoint != self.endpoint2:
                return []
            return [
                {
                    "code": "unreconciled_bank_lines",
                    "name": "Unreconciled bank lines",
                    "count": 7,
                    "blocking": True,
                    "res_model": "fi.endpoint",
                    "domain": [("id", "=", endpoint.id)],
                }
            ]

        Endpoint = type(self.env["fi.endpoint"])
        with patch.object(Endpoint, "_fi_close_blockers", blockers):
            readiness = self.readiness()
            readiness.action_check()
        line = readiness.line_ids
        self.assertEqual((line.code, line.count), ("unreconciled_bank_lines", 7))
        self.assertEqual(line.endpoint_id, self.endpoint2)
        self.assertEqual(readiness.state, "blocked")

    def test_lock_date_is_refused_while_blockers_remain_when_the_company_asks(self):
        message = self.deliver("evt_l1")
        self.run_jobs()
        message._fi_open_exception("business_rule", "Customer on hold")
        with self.assertRaisesRegex(
            UserError, r"(?s)cannot be locked.*- Open exceptions: 1 \(Close endpoint\)"
        ):
            self.env["fi.close.readiness"]._fi_check_before_lock(
                self.company2, self.today
            )
        # without the company setting, lock dates are not checked
        self.company2.write({"fiscalyear_lock_date": date(self.today.year - 2, 12, 31)})
        self.company2.fi_check_close_before_lock = True
        with self.assertRaisesRegex(UserError, "cannot be locked"):
            self.company2.write({"fiscalyear_lock_date": self.today})
        message.exception_ids.action_resolve()
        self.company2.write({"fiscalyear_lock_date": self.today})
        self.assertEqual(self.company2.fiscalyear_lock_date, self.today)

    def test_integration_posting_left_in_draft_blocks_the_close(self):
        company = self.env.company
        journal = self.env["account.journal"].search(
            [("company_id", "=", company.id), ("type", "=", "general")], limit=1
        )
        move = self.env["account.move"].create(
            {"move_type": "entry", "journal_id": journal.id, "date": self.today}
        )
        status, answer = self.receive(self.event("evt_p1"))
        message = self.env["fi.message"].browse(answer["message_id"])
        self.run_jobs()
        message.write({"state": "done", "res_model": "account.move", "res_id": move.id})
        blockers = {
            b["code"]: b
            for b in self.env["fi.close.readiness"]._fi_blockers(
                company, None, self.today
            )
        }
        self.assertIn(message.id, blockers["draft_postings"]["domain"][0][2])
