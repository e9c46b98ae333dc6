# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Period close and finance KPIs: what the tax connector adds through core's
hooks (issue 12)."""

from datetime import date
from decimal import Decimal

from odoo.tests import tagged
from odoo.tools.safe_eval import safe_eval

from .common import TaxCommon


@tagged("post_install", "-at_install")
class TestTaxCloseAndKpis(TaxCommon):
    def setUp(self):
        super().setUp()
        self.avatax.rate = Decimal("0.10")
        self.customer.fi_einvoicing = False

    def readiness(self):
        readiness = self.env["fi.close.readiness"].create(
            {
                "company_id": self.env.company.id,
                "date_from": date(2026, 3, 1),
                "date_to": date(2026, 3, 31),
            }
        )
        readiness.action_check()
        return readiness

    def tax_lines(self, readiness, code):
        return readiness.line_ids.filtered(lambda line: line.code == code)

    def test_uncommitted_tax_blocks_the_period_until_the_commit_job_ran(self):
        committed = self.invoice()
        committed.action_post()
        self.run_jobs()
        self.assertEqual(committed.fi_tax_state, "committed")
        waiting = self.invoice()
        waiting.action_post()
        self.assertEqual(waiting.fi_tax_state, "calculated")
        outside = self.invoice(date="2026-04-02")
        outside.action_post()
        self.assertEqual(outside.fi_tax_state, "calculated")

        blockers = self.endpoint._fi_close_blockers(date(2026, 3, 1), date(2026, 3, 31))
        (blocker,) = [b for b in blockers if b["code"] == "tax_not_committed"]
        self.assertTrue(blocker["blocking"])
        self.assertEqual(blocker["count"], 1)
        listed = self.env["account.move"].search(blocker["domain"])
        self.assertEqual(listed, waiting, "the domain lists exactly that invoice")
        (line,) = self.tax_lines(self.readiness(), "tax_not_committed")
        self.assertEqual(line.count, 1)
        opened = line.action_open()
        self.assertEqual(
            self.env[opened["res_model"]].search(safe_eval(opened["domain"])),
            waiting,
            "Open lists that invoice",
        )

        self.run_jobs()
        self.assertEqual(waiting.fi_tax_state, "committed")
        blockers = self.endpoint._fi_close_blockers(date(2026, 3, 1), date(2026, 3, 31))
        self.assertFalse([b for b in blockers if b["code"].startswith("tax_")])
        self.assertFalse(self.tax_lines(self.readiness(), "tax_not_committed"))

    def test_a_difference_to_review_blocks_the_period(self):
        self.env.company.fi_tax_mismatch_policy = "block"
        self.env.company.fi_tax_unavailable_policy = "contingency"
        self.avatax.down = True
        move = self.invoice()
        move.action_post()
        self.assertEqual(move.fi_tax_state, "provisional")
        blockers = self.endpoint._fi_close_blockers(None, date(2026, 3, 31))
        (blocker,) = [b for b in blockers if b["code"] == "tax_not_committed"]
        self.assertEqual(self.env["account.move"].search(blocker["domain"]), move)
        move.sudo().write({"fi_tax_state": "mismatch"})
        blockers = self.endpoint._fi_close_blockers(None, date(2026, 3, 31))
        codes = {b["code"]: b["count"] for b in blockers}
        self.assertEqual(codes, {"tax_difference": 1})

    def test_commit_rate_counts_the_invoices_of_the_period(self):
        for _n in range(3):
            self.invoice().action_post()
        self.run_jobs()
        self.invoice().action_post()  # calculated, not committed yet
        (kpi,) = [
            k
            for k in self.endpoint._fi_kpis(date(2026, 3, 1), date(2026, 3, 31))
            if k["code"] == "tax_commit_rate"
        ]
        self.assertEqual(kpi["value"], "75.0 % (3 / 4)")
        self.assertFalse(
            self.platform._fi_kpis(date(2026, 3, 1), date(2026, 3, 31)),
            "the clearance platform reports no tax commit rate",
        )
