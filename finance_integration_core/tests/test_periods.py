# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Lock dates: a message dated in a locked period follows its flow's policy."""

from datetime import date

from odoo.tests import tagged

from ..lib.errors import FiBusinessError
from .common import FiCommon

POST_DATED = """
posted_on, note = record.flow_id._fi_accounting_date(
    record.company_id, datetime.date.fromisoformat(document["data"]["date"]))
if note:
    record.endpoint_id.message_post(body=note)
action = env["res.partner"].create(
    {"name": document["data"]["name"], "comment": str(posted_on)})
"""


@tagged("post_install", "-at_install")
class TestLockedPeriods(FiCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.has_account = "fiscalyear_lock_date" in cls.env.company._fields

    def lock(self, day):
        if not self.has_account:
            self.skipTest("account is not installed: no lock dates to test")
        # written directly: account refuses a lock date while the demo data's
        # bank statement lines of that period are unreconciled, which is not
        # what these tests are about
        self.env.cr.execute(
            "UPDATE res_company SET fiscalyear_lock_date = %s WHERE id = %s",
            (day, self.env.company.id),
        )
        self.env.company.invalidate_recordset(["fiscalyear_lock_date"])

    def test_without_lock_dates_every_date_is_open(self):
        if self.has_account:
            self.env.company.fiscalyear_lock_date = False
        self.assertEqual(
            self.flow._fi_accounting_date(self.env.company, date(2020, 1, 1)),
            (date(2020, 1, 1), None),
        )

    def test_locked_date_moves_to_the_first_open_date_with_a_note(self):
        self.lock(date(2026, 6, 30))
        self.flow.locked_period_policy = "next_open"
        posted_on, note = self.flow._fi_accounting_date(
            self.env.company, date(2026, 5, 12)
        )
        self.assertEqual(posted_on, date(2026, 7, 1))
        self.assertIn("locked period", note)
        self.assertEqual(
            self.flow._fi_accounting_date(self.env.company, date(2026, 7, 2)),
            (date(2026, 7, 2), None),
        )

    def test_locked_date_opens_an_exception_not_a_retry(self):
        self.lock(date(2026, 6, 30))
        self.flow.locked_period_policy = "exception"
        with self.assertRaises(FiBusinessError) as caught:
            self.flow._fi_accounting_date(self.env.company, date(2026, 5, 12))
        self.assertEqual(caught.exception.reason_code, "period_locked")
        action = self.env["ir.actions.server"].create(
            {
                "name": "Post dated",
                "model_id": self.env.ref(
                    "finance_integration_core.model_fi_message"
                ).id,
                "state": "code",
                "code": POST_DATED,
            }
        )
        self.flow.write({"action": "server_action", "server_action_id": action.id})
        status, answer = self.receive(
            self.event("evt_locked", date="2026-05-12", name="Locked Co")
        )
        self.run_jobs()
        message = self.env["fi.message"].browse(answer["message_id"])
        self.assertEqual(message.state, "failed")
        self.assertEqual(message.attempts, 1, "never retried")
        self.assertEqual(message.exception_ids.reason_code, "period_locked")
        self.assertEqual(message.exception_ids.category, "business")
