# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from .dashboard_common import DashboardCommon


@tagged("post_install", "-at_install")
class TestFinanceKpi(DashboardCommon):
    def resolved_exception(self, message, opened_at, hours):
        item = message._fi_open_exception("business_rule", "Customer on hold")
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE fi_exception SET state = 'resolved', date_opened = %s, "
            "date_closed = %s WHERE id = %s",
            (opened_at, opened_at + timedelta(hours=hours), item.id),
        )
        return item

    def kpi(self):
        self.env["fi.message.stat"]._fi_refresh(full=True)
        self.env.invalidate_all()
        return self.env["fi.finance.kpi"].search([("flow_id", "=", self.flow.id)])

    def company_kpi(self):
        self.env["fi.message.stat"]._fi_refresh(full=True)
        self.env.invalidate_all()
        return self.env["fi.finance.kpi.company"].search(
            [("company_id", "=", self.env.company.id)]
        )

    def test_flow_kpis_equal_their_definitions_on_known_data(self):
        at = self.old_hour
        now = fields.Datetime.now()
        done = [self.make_message(at + timedelta(minutes=i)) for i in range(3)]
        self.make_message(at, state="dead")
        failed = self.make_message(at, state="failed")
        self.make_message(now - timedelta(days=40))  # outside the window
        self.resolved_exception(done[0], at, 2)
        self.resolved_exception(failed, at, 10)
        self.open_exception(opened_at=now - timedelta(hours=30))
        self.open_exception(opened_at=now - timedelta(days=4))

        kpi = self.kpi()
        # 5 messages an hour-30 ago, 2 failed ones now (the open items')
        self.assertEqual(
            (kpi.received, kpi.processed, kpi.failed, kpi.dead_letters), (7, 3, 3, 1)
        )
        self.assertAlmostEqual(kpi.completeness, 100 * 3 / 7, places=6)
        # one processed message needed a person (its exception)
        self.assertEqual(kpi.auto_processed, 2)
        self.assertAlmostEqual(kpi.auto_processed_rate, 100 * 2 / 7, places=6)
        self.assertEqual(
            (kpi.open_exceptions, kpi.exceptions_aged_1d, kpi.exceptions_aged_3d),
            (2, 2, 1),
        )
        self.assertEqual(kpi.resolved, 2)
        self.assertAlmostEqual(kpi.resolution_median_hours, 6.0, places=6)
        self.assertAlmostEqual(kpi.resolution_p90_hours, 9.2, places=6)

    def test_flow_without_traffic_has_no_rate(self):
        kpi = self.kpi()
        self.assertEqual(kpi.received, 0)
        self.assertFalse(kpi.completeness)
        self.assertFalse(kpi.auto_processed_rate)
        self.assertFalse(kpi.resolution_median_hours)

    def test_company_kpis_count_failed_postings_and_pending_approvals(self):
        before = self.company_kpi()
        failed, pending = before.failed_postings, before.pending_approvals
        self.make_message(self.old_hour, state="dead")
        self.make_message(self.old_hour, state="failed")
        self.make_message(self.old_hour)
        vmap = self.env["fi.value.map"].create(
            {"name": "KPI map", "code": "kpi_map", "value_type": "char"}
        )
        vmap._fi_new_version().action_submit()
        vmap._fi_new_version()  # a draft waits for nobody
        after = self.company_kpi()
        self.assertEqual(after.failed_postings, failed + 2)
        self.assertEqual(after.pending_approvals, pending + 1)
