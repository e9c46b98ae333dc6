# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The batched creation of imported statement lines books exactly what Odoo's
own ``create`` books: every stored column of the statement lines, their moves
and journal items, whatever installed module added it."""

import re
from datetime import date
from unittest.mock import patch

from odoo.tests import tagged

from .common import BankCommon

#: columns that necessarily differ between two imports of the same lines
DIFFERENT = {"id", "create_date", "write_date", "move_id", "statement_line_id"}
DIFFERENT_PER_TABLE = {
    "account_move": {"sequence_number"},
    "account_bank_statement_line": {"statement_id"},
    "account_move_line": {"statement_id"},
    "account_bank_statement": {"name"},
}


@tagged("post_install", "-at_install")
class TestBatchedLines(BankCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Line = cls.env["account.bank.statement.line"].with_context(
            tracking_disable=True, mail_notrack=True, mail_create_nolog=True
        )

    def line_vals(self, prefix, statement):
        """Import-like values: both signs, unsorted dates over two sequence
        periods (a year end), optional texts, as ``_fi_line_vals`` builds."""
        days = [date(2026, 1, 7), date(2025, 12, 30), date(2026, 1, 5)]
        return [
            {
                "statement_id": statement.id,
                "journal_id": self.journal.id,
                "date": days[i % 3],
                "amount": (-1) ** i * (10 + i * 7.33),
                "payment_ref": f"Payment {i}",
                "partner_name": f"Partner {i}" if i % 2 else False,
                "account_number": "DE89370400440532013000" if i % 3 else False,
                "transaction_type": "PMNT/RCDT/ESCT",
                "fi_import_id": f"{prefix}-{i}",
                "fi_entry_key": f"{prefix}-entry-{i}",
                "fi_bank_ref": f"REF{i}",
                "fi_end_to_end_id": f"E2E{i}" if i % 2 else False,
                "fi_creditor_ref": False,
                "fi_counterparty_vat": False,
                "fi_value_date": days[(i + 1) % 3],
                "fi_reversal": i == 4,
                "fi_charges": 0.5 if i == 3 else 0.0,
                "fi_location": f"entry {i:04d}",
                "fi_correlation_id": "corr-1",
            }
            for i in range(9)
        ]

    def statement(self, name):
        """A statement as the import creates it: both balances given, stored
        before its lines are created."""
        statement = self.env["account.bank.statement"].create(
            {
                "name": name,
                "journal_id": self.journal.id,
                "balance_start": 5.0,
                "balance_end_real": 44.32,
            }
        )
        self.env.flush_all()
        return statement

    def rows(self, statement):
        """The stored rows of a statement's lines, moves and journal items,
        in the lines' file order, normalised where two imports must differ."""
        self.env.flush_all()
        cr = self.env.cr
        queries = {
            "account_bank_statement_line": "SELECT l.* FROM "
            "account_bank_statement_line l WHERE l.statement_id = %s "
            "ORDER BY l.fi_location",
            "account_move": "SELECT m.* FROM account_move m JOIN "
            "account_bank_statement_line l ON l.move_id = m.id "
            "WHERE l.statement_id = %s ORDER BY l.fi_location",
            "account_bank_statement": "SELECT s.* FROM account_bank_statement s "
            "WHERE s.id = %s",
            "account_move_line": "SELECT a.* FROM account_move_line a JOIN "
            "account_bank_statement_line l ON a.move_id = l.move_id "
            "WHERE l.statement_id = %s ORDER BY l.fi_location, a.id",
        }
        out = {}
        for table, query in queries.items():
            cr.execute(query, (statement.id,))
            rows = []
            for row in cr.dictfetchall():
                for column in DIFFERENT | DIFFERENT_PER_TABLE[table]:
                    row.pop(column, None)
                for column in ("name", "move_name"):  # the number differs
                    if row.get(column) and table != "account_bank_statement_line":
                        row[column] = re.sub(r"\d+$", "<n>", row[column])
                for column in ("fi_import_id", "fi_entry_key"):
                    if row.get(column):
                        row[column] = row[column].split("-", 1)[1]
                for column in ("internal_index", "first_line_index"):
                    if row.get(column):  # date + sequence + id
                        row[column] = row[column][:18]
                rows.append(row)
            out[table] = rows
        return out

    def test_batched_lines_store_every_column_as_odoo_create(self):
        odoo_st, batch_st = self.statement("odoo"), self.statement("batch")
        odoo_vals = self.line_vals("odoo", odoo_st)
        batch_vals = self.line_vals("batch", batch_st)
        self.assertIsNone(self.Line._fi_batch_refusal(batch_vals))
        # Odoo's create, in the import's chunks (as the addon did before)
        odoo_lines = self.Line.browse()
        for start in range(0, len(odoo_vals), 4):
            odoo_lines |= self.Line.create(odoo_vals[start : start + 4])
            self.env.flush_all()
        # the import's path: chunks of 4, 4 and 1 (the last through Odoo's
        # create), the statement's totals computed after the last
        Line = type(self.Line)
        with patch.object(
            Line,
            "_fi_copy_prototype",
            autospec=True,
            side_effect=Line._fi_copy_prototype,
        ) as copy:
            self.Files.with_context(fi_chunk=4)._fi_create_lines(batch_st, batch_vals)
        # per chunk and period one prototype: 4 of the 9 lines are copies
        self.assertEqual(sum(len(c.args[2]) for c in copy.call_args_list), 4)
        batch_lines = batch_st.line_ids.sorted("fi_location")
        self.assertEqual(
            batch_lines.mapped("fi_location"), [v["fi_location"] for v in batch_vals]
        )
        for line in batch_lines:  # the links the comparison leaves out
            self.assertEqual(line.move_id.statement_line_id, line)
            self.assertEqual(line.move_id.line_ids.statement_line_id, line)
            self.assertEqual(len(line.move_id.line_ids), 2)
        expected, got = self.rows(odoo_st), self.rows(batch_st)
        differences = []
        for table, rows in expected.items():
            self.assertEqual(len(got[table]), len(rows), table)
            self.assertTrue(rows, table)
            for index, (want, have) in enumerate(zip(rows, got[table], strict=True)):
                self.assertEqual(set(want), set(have), table)
                differences += [
                    f"{table}[{index}].{column}: Odoo {want[column]!r}, "
                    f"batch {have[column]!r}"
                    for column in want
                    if want[column] != have[column]
                ]
        self.assertFalse(differences, "\n".join(differences))
        # numbered as Odoo numbers a batch: per period, by date then file order
        for lines in (odoo_lines, batch_lines):
            self.assertEqual(len(set(lines.move_id.mapped("name"))), len(lines))
        rank = [
            sorted(
                lines,
                key=lambda li: (li.move_id.sequence_prefix, li.move_id.sequence_number),
            ).index(line)
            for lines in (odoo_lines, batch_lines)
            for line in lines
        ]
        self.assertEqual(rank[: len(odoo_lines)], rank[len(odoo_lines) :])
        # and the journal's next entry is numbered after the copies
        more = self.Line.create(self.line_vals("more", batch_st)[:1])
        self.assertGreater(
            more.move_id.sequence_number,
            max(
                batch_lines.filtered(lambda li: li.date.year == 2026).mapped(
                    "move_id.sequence_number"
                )
            ),
        )

    def test_hashed_journal_and_foreign_currency_use_odoo_create(self):
        statement = self.statement("fallback")
        vals = self.line_vals("fb", statement)
        self.journal.restrict_mode_hash_table = True
        self.assertIn("hashed", self.Line._fi_batch_refusal(vals))
        self.journal.restrict_mode_hash_table = False
        foreign = [
            dict(v, foreign_currency_id=self.setup_other_currency("EUR").id)
            for v in vals
        ]
        self.assertIn("values other", self.Line._fi_batch_refusal(foreign))
        zero = [dict(v, amount=0.0) for v in vals]
        self.assertIn("zero", self.Line._fi_batch_refusal(zero))
        lines = self.Line._fi_create_batched(zero)
        self.assertEqual(len(lines), len(vals))
        self.assertTrue(all(lines.mapped("is_reconciled")))
