# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from ast import literal_eval
from datetime import date
from decimal import Decimal as D

from odoo.tests import tagged

from .common import BankCommon

JAN = (date(2026, 1, 1), date(2026, 1, 31))
FEB_DAY = date(2026, 2, 5)


@tagged("post_install", "-at_install")
class TestPeriodClose(BankCommon):
    def setUp(self):
        super().setUp()
        self.endpoint = self.journal._fi_bank_endpoint()
        self.Line = self.env["account.bank.statement.line"]

    def blockers(self, date_from=JAN[0], date_to=JAN[1]):
        return {
            b["code"]: b for b in self.endpoint._fi_close_blockers(date_from, date_to)
        }

    def kpis(self):
        return {k["code"]: k["value"] for k in self.endpoint._fi_kpis(*JAN)}

    def book(self):
        """Seven January lines (3 matched automatically, 1 by hand, 1 waiting
        for a second user, 2 unmatched) and one auto-matched February line."""
        self.journal.fi_manual_approval_amount = 500.0
        a1, a2, a3 = self.invoice(100.0), self.invoice(200.0), self.invoice(300.0)
        manual, approval = self.invoice(41.0), self.invoice(600.0)
        february = self.invoice(70.0)
        lines = self.import_lines(
            self.entry("100.00", f"Payment {a1.name}", "A1"),
            self.entry("200.00", f"Payment {a2.name}", "A2"),
            self.entry("300.00", f"Payment {a3.name}", "A3"),
            self.entry("41.00", "nothing", "M1"),
            self.entry("600.00", "nothing", "T1"),
            self.entry("13.00", "nothing", "U1"),
            self.entry("17.00", "nothing", "U2"),
            self.entry("70.00", f"Payment {february.name}", "F1", day=FEB_DAY),
        )
        lines._fi_auto_match()
        named = {line.fi_bank_ref: line for line in lines}
        items = {
            "M1": manual.line_ids.filtered("account_id.reconcile"),
            "T1": approval.line_ids.filtered("account_id.reconcile"),
        }
        self.assertTrue(named["M1"].action_fi_match_manual(items["M1"]))
        self.assertFalse(named["T1"].action_fi_match_manual(items["T1"]))
        states = {ref: line.fi_match_state for ref, line in named.items()}
        self.assertEqual(
            states,
            {
                "A1": "matched",
                "A2": "matched",
                "A3": "matched",
                "F1": "matched",
                "M1": "matched",
                "T1": "to_approve",
                "U1": "unmatched",
                "U2": "unmatched",
            },
        )
        return named

    def test_blockers_count_the_unreconciled_lines_of_the_period_and_list_them(self):
        named = self.book()
        blockers = self.blockers()
        unreconciled = blockers["bank_unreconciled_lines"]
        self.assertTrue(unreconciled["blocking"])
        self.assertEqual(unreconciled["count"], 3)
        self.assertEqual(unreconciled["res_model"], "account.bank.statement.line")
        self.assertEqual(
            self.Line.search(unreconciled["domain"]),
            named["T1"] | named["U1"] | named["U2"],
        )
        approval = blockers["bank_matches_to_approve"]
        self.assertFalse(approval["blocking"], "a warning")
        self.assertEqual(approval["count"], 1)
        self.assertEqual(self.Line.search(approval["domain"]), named["T1"])
        self.assertNotIn("bank_held_statements", blockers)
        # February's line is reconciled; an unmatched one there blocks February
        named["F1"].action_undo_reconciliation()
        self.assertEqual(self.blockers()["bank_unreconciled_lines"]["count"], 3)
        self.assertEqual(
            self.blockers(None, FEB_DAY)["bank_unreconciled_lines"]["count"], 4
        )

    def test_fully_reconciled_period_has_no_blocking_line(self):
        invoice = self.invoice(100.0)
        line = self.import_lines(self.entry("100.00", f"Payment {invoice.name}", "R1"))
        (later,) = self.imp(
            "2.xml",
            self.camt(
                [self.entry("5.00", "later", "R2", day=FEB_DAY)],
                opening=D("1100.00"),
                seq=2,
                stmt_id="S2",
                day=FEB_DAY,
            ),
        )
        self.assertEqual(later.statement_ids.fi_state, "ok", later.result)
        line._fi_auto_match()
        self.assertTrue(line.is_reconciled)
        self.assertEqual(self.blockers(), {})
        self.assertIn("bank_unreconciled_lines", self.blockers(None, FEB_DAY))

    def test_held_statement_blocks_the_close(self):
        self.imp(
            "1.xml", self.camt([self.entry("10.00", "a", "R1")], seq=1, stmt_id="S1")
        )
        (second,) = self.imp(
            "3.xml", self.camt([self.entry("10.00", "b", "R3")], seq=3, stmt_id="S3")
        )
        self.assertEqual(second.statement_ids.fi_state, "held")
        held = self.blockers()["bank_held_statements"]
        self.assertTrue(held["blocking"])
        self.assertEqual(held["count"], 1)
        self.assertEqual(
            self.env[held["res_model"]].search(held["domain"]), second.statement_ids
        )
        second.statement_ids.with_user(self.owner).action_fi_release()
        self.assertNotIn("bank_held_statements", self.blockers())

    def test_kpis_are_exact_for_the_period(self):
        named = self.book()
        self.assertEqual(
            self.kpis(),
            {
                "bank_reconciliation_rate": "42.9 %",  # 3 of 7
                "bank_manual_matches": "1",
                "bank_unmatched_lines": "3",
            },
        )
        named["A3"].action_undo_reconciliation()
        named["T1"].with_user(self.owner).action_fi_approve()
        self.assertEqual(
            self.kpis(),
            {
                "bank_reconciliation_rate": "28.6 %",  # 2 of 7
                "bank_manual_matches": "2",
                "bank_unmatched_lines": "3",
            },
        )
        other = (
            self.env["fi.endpoint"]
            .sudo()
            .create({"name": "Not a bank", "company_id": self.company.id})
        )
        self.assertEqual(other._fi_kpis(*JAN), [], "guarded by provider")

    def test_close_readiness_shows_the_bank_blocker(self):
        named = self.book()
        readiness = self.env["fi.close.readiness"].create(
            {"company_id": self.company.id, "date_from": JAN[0], "date_to": JAN[1]}
        )
        readiness.action_check()
        self.assertEqual(readiness.state, "blocked")
        line = readiness.line_ids.filtered(
            lambda b: b.code == "bank_unreconciled_lines"
        )
        self.assertEqual(line.count, 3)
        self.assertTrue(line.blocking)
        self.assertEqual(line.endpoint_id, self.endpoint)
        action = line.action_open()
        self.assertEqual(
            # a plain literal, as the web client reads it
            self.env[action["res_model"]].search(literal_eval(action["domain"])),
            named["T1"] | named["U1"] | named["U2"],
        )
        warning = readiness.line_ids.filtered(
            lambda b: b.code == "bank_matches_to_approve"
        )
        self.assertFalse(warning.blocking)
        self.assertEqual(warning.count, 1)

    def test_bank_journal_without_endpoint_blocks_the_close_on_its_own_line(self):
        named = self.book()
        manual = self.env["account.journal"].create(
            {"name": "Petty bank", "code": "PTB", "type": "bank"}
        )
        by_hand = self.env["account.bank.statement.line"].create(
            {
                "journal_id": manual.id,
                "date": "2026-01-20",
                "amount": 25.0,
                "payment_ref": "entered by hand",
            }
        )
        self.env["account.bank.statement.line"].create(
            {
                "journal_id": manual.id,
                "date": "2026-02-20",
                "amount": 9.0,
                "payment_ref": "next period",
            }
        )
        self.assertFalse(manual.fi_endpoint_id)
        readiness = self.env["fi.close.readiness"].create(
            {"company_id": self.company.id, "date_from": JAN[0], "date_to": JAN[1]}
        )
        readiness.action_check()
        lines = readiness.line_ids.filtered(
            lambda b: b.code == "bank_unreconciled_lines"
        )
        self.assertEqual(len(lines), 2, "the endpoint's journal once, the other once")
        carried = lines.filtered("endpoint_id")
        self.assertEqual(carried.count, 3)
        other = lines - carried
        self.assertEqual(other.count, 1)
        self.assertTrue(other.blocking)
        self.assertIn("Petty bank", other.name)
        action = other.action_open()
        self.assertEqual(
            self.env[action["res_model"]].search(literal_eval(action["domain"])),
            by_hand,
        )
        self.assertEqual(
            self.env[carried.res_model].search(literal_eval(carried.domain)),
            named["T1"] | named["U1"] | named["U2"],
        )
