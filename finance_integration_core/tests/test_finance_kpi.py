# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import timedelta
from unittest.mock import patch

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
        # the finance dashboard's card of the flow shows the same figures
        card = self.env["fi.dashboard.flow"].search([("flow_id", "=", self.flow.id)])
        self.assertAlmostEqual(card.kpi_auto_processed_rate, 28.6, places=6)
        self.assertAlmostEqual(card.kpi_resolution_median_hours, 6.0, places=6)
        self.assertEqual(card.kpi_dead_letters, 1)
        self.assertEqual(
            self.env["fi.finance.kpi"].search(card.action_open_kpis()["domain"]), kpi
        )

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

    def test_completeness_in_amounts_per_currency(self):
        eur = self.env.ref("base.EUR")
        jpy = self.env.ref("base.JPY")
        journal = self.env["account.journal"].search(
            [("company_id", "=", self.env.company.id), ("type", "=", "general")],
            limit=1,
        )
        moves = self.env["account.move"].create(
            [{"move_type": "entry", "journal_id": journal.id} for _i in range(2)]
        )
        self.env.flush_all()
        # the view reads the entry's state: posted without lines is enough here
        self.env.cr.execute(
            "UPDATE account_move SET state = 'posted' WHERE id = %s", (moves[0].id,)
        )
        at = self.old_hour
        for state, amount, currency, move in (
            ("done", 12_345, eur, moves[0]),  # posted
            ("done", 655, eur, moves[1]),  # processed, entry in draft
            ("failed", 1_000, eur, None),
            ("done", 5_000_000_000_000, jpy, None),  # beyond 32 bits
            ("dead", 1_000, jpy, None),
        ):
            message = self.make_message(at, state=state)
            message._fi_set_amount(amount, currency)
            if move:
                message.sudo().write({"res_model": "account.move", "res_id": move.id})
        with self.assertRaises(TypeError):
            message._fi_set_amount(10.5, eur)
        self.env.flush_all()
        self.env.invalidate_all()
        rows = {
            row.currency_id: row
            for row in self.env["fi.finance.kpi.amount"].search(
                [("flow_id", "=", self.flow.id)]
            )
        }
        self.assertEqual(set(rows), {eur, jpy})
        self.assertEqual(
            (
                rows[eur].received_minor,
                rows[eur].processed_minor,
                rows[eur].posted_minor,
            ),
            (14_000, 13_000, 12_345),
        )
        self.assertEqual(
            (rows[eur].received_amount, rows[eur].posted_amount),
            ("140.00 EUR", "123.45 EUR"),
        )
        self.assertAlmostEqual(rows[eur].completeness_amount, 100 * 13_000 / 14_000)
        self.assertAlmostEqual(rows[eur].posted_amount_rate, 100 * 12_345 / 14_000)
        self.assertEqual(rows[jpy].received_minor, 5_000_000_001_000)
        self.assertEqual(rows[jpy].processed_amount, "5000000000000 JPY")
        self.assertEqual(rows[jpy].posted_minor, 0)

    def test_connectors_add_their_kpis_through_the_endpoint_hook(self):
        def kpis(endpoint, date_from, date_to):
            if endpoint != self.endpoint:
                return []
            self.assertEqual((date_to - date_from).days, 30)
            return [
                {"code": "reconciliation_rate", "name": "Reconciled", "value": "97.5 %"}
            ]

        with patch.object(type(self.env["fi.endpoint"]), "_fi_kpis", kpis):
            row = self.company_kpi()
            self.assertEqual(
                row.connector_kpis, f"{self.endpoint.name}: Reconciled 97.5 %"
            )
