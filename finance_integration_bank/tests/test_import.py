# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import base64
import io
import json
import os
import threading
import zipfile
from decimal import Decimal as D
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest.mock import patch

from odoo import Command
from odoo.tests import tagged

from ..lib import writers
from .common import IBAN, BankCommon


@tagged("post_install", "-at_install")
class TestStatementImport(BankCommon):
    def csv_profile(self):
        """The profile of the CSV files ``writers.csv_text`` writes."""
        return (
            self.env["fi.bank.csv.profile"]
            .sudo()
            .create(
                {
                    "name": "Bank CSV",
                    "col_date": "0",
                    "col_partner": "1",
                    "col_payment_ref": "2",
                    "col_amount": "3",
                    "col_iban": "4",
                    "col_ref": "5",
                }
            )
        )

    def test_camt053_imported_with_lines_ids_and_balances(self):
        data = self.camt(
            [self.entry("100.00", "INV A", "R1"), self.entry("-30.00", "FEE", "R2")]
        )
        (record,) = self.imp("jan.xml", data)
        self.assertEqual(record.state, "done", record.error)
        self.assertEqual(record.file_format, "camt.053.001.08")
        statement = record.statement_ids
        self.assertEqual(len(statement.line_ids), 2)
        self.assertEqual(statement.balance_start, 1000.0)
        self.assertEqual(statement.balance_end_real, 1070.0)
        self.assertEqual(statement.fi_state, "ok")
        self.assertEqual(
            sorted(statement.line_ids.mapped("fi_import_id")),
            [f"{IBAN}|R1", f"{IBAN}|R2"],
        )
        self.assertEqual(len(record.sha256), 64)

    def test_same_file_again_is_refused_with_a_link_to_the_first(self):
        data = self.camt([self.entry("100.00", "INV A", "R1")])
        (first,) = self.imp("a.xml", data)
        (second,) = self.imp("a-copy.xml", data)
        self.assertEqual(second.state, "refused")
        self.assertEqual(second.duplicate_of_id, first)
        self.assertIn("already imported", second.error)
        self.assertFalse(second.statement_ids)
        action = second.action_open_first_import()
        self.assertEqual(action["res_id"], first.id)

    def test_resent_statement_with_extra_lines_takes_only_the_new_ones(self):
        lines = [self.entry("100.00", "A", "R1")]
        (first,) = self.imp("a.xml", self.camt(lines))
        more = lines + [self.entry("5.00", "B", "R2")]
        (second,) = self.imp("a2.xml", self.camt(more))
        self.assertEqual(second.state, "done", second.error)
        self.assertIn("1 new lines (1 already imported)", second.result)
        self.assertEqual(len(first.statement_ids.line_ids), 2)
        self.assertEqual(first.statement_ids.balance_end_real, 1105.0)
        # the same statement again, no new line: refused
        (third,) = self.imp("a3.xml", self.camt(more) + b"\n")
        self.assertEqual(third.state, "refused")
        self.assertIn("no new line", third.error)

    def test_wrong_balance_account_or_xml_leaves_nothing_behind(self):
        before = self.env["account.bank.statement.line"].search_count([])
        bad = [
            (
                "balance.xml",
                self.camt([self.entry("1.00", "x", "R1")], closing=D("5.00")),
                "balance",
            ),
            (
                "account.xml",
                writers.camt(
                    [self.entry("1.00", "x", "R1")], iban="DE89370400440532013000"
                ),
                "account",
            ),
            ("broken.xml", self.camt([self.entry("1.00", "x", "R1")])[:-50], "XML"),
            (
                "bomb.xml",
                b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY a "aaaa">]>'
                b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
                b"&a;</Document>",
                "DOCTYPE",
            ),
            (
                "cut.sta",
                writers.mt940([self.entry("1.00", "x", "R1")], account=IBAN)
                .split(":62F:")[0]
                .encode(),
                ":62F:",
            ),
        ]
        for name, data, word in bad:
            (record,) = self.imp(name, data)
            self.assertEqual(record.state, "refused", name)
            self.assertIn(name, record.error)
            self.assertIn(word, record.error)
            self.assertFalse(record.statement_ids)
        self.assertEqual(
            self.env["account.bank.statement.line"].search_count([]), before
        )

    def test_gap_in_sequence_or_balance_holds_the_statement_and_opens_an_exception(
        self,
    ):
        (first,) = self.imp(
            "1.xml", self.camt([self.entry("10.00", "a", "R1")], seq=1, stmt_id="S1")
        )
        # opening 1000 != previous closing 1010, sequence 3 after 1
        (second,) = self.imp(
            "3.xml", self.camt([self.entry("10.00", "b", "R3")], seq=3, stmt_id="S3")
        )
        statement = second.statement_ids
        self.assertEqual(statement.fi_state, "held")
        self.assertIn("sequence 3", statement.fi_held_reason)
        self.assertIn("previous closing", statement.fi_held_reason)
        exception = self.exceptions_of(statement)
        self.assertEqual(len(exception), 1)
        self.assertEqual(exception.user_id, self.owner)
        self.assertTrue(
            statement.activity_ids.filtered(lambda a: a.user_id == self.owner)
        )
        # held lines are not reconciled; a second user releases the statement
        self.assertFalse(statement.line_ids._fi_auto_match())
        statement.with_user(self.owner).action_fi_release()
        self.assertEqual(statement.fi_state, "ok")
        # the next one follows the latest: sequence 4, opening = its closing 1010
        (third,) = self.imp(
            "4.xml",
            self.camt(
                [self.entry("1.00", "c", "R4")],
                seq=4,
                stmt_id="S4",
                opening=D("1010.00"),
            ),
        )
        self.assertEqual(third.statement_ids.fi_state, "ok")

    def test_intraday_report_lines_are_not_doubled_by_the_statement(self):
        lines = [self.entry("100.00", "A", "R1"), self.entry("7.00", "B", None)]
        (report,) = self.imp(
            "intraday.xml", self.camt(lines, kind="camt.052", stmt_id="RPT-1")
        )
        self.assertEqual(report.line_count, 2)
        final = lines + [self.entry("3.00", "C", "R3")]
        (statement,) = self.imp("eod.xml", self.camt(final, stmt_id="STMT-1"))
        self.assertEqual(statement.state, "done", statement.error)
        self.assertEqual(statement.line_count, 1)
        self.assertIn("2 already known", statement.result)

    def test_split_setting_changed_does_not_double_a_batch(self):
        batch = self.entry(
            "30.00",
            "",
            "B1",
            details=[
                {"amount": D("10.00"), "e2e": "A1", "text": "INV/1"},
                {"amount": D("20.00"), "e2e": "A2", "text": "INV/2"},
            ],
        )
        (first,) = self.imp(
            "split.xml", self.camt([batch], kind="camt.052", stmt_id="R")
        )
        self.assertEqual(first.line_count, 2)
        self.journal.fi_split_batches = False
        (second,) = self.imp(
            "whole.xml", self.camt([batch, self.entry("1.00", "x", "Z")], stmt_id="S")
        )
        self.assertEqual(second.line_count, 1)  # only Z: the batch is already there

    def test_every_format_imports_into_odoo(self):
        def es(prefix):
            return [
                self.entry(
                    "100.00",
                    "INV A",
                    f"{prefix}1",
                    e2e="E1",
                    name="P",
                    iban="DE89370400440532013000",
                ),
                self.entry("-30.00", "FEE", f"{prefix}2"),
            ]

        self.journal.fi_csv_profile_id = self.csv_profile()
        ccy = self.company.currency_id.name
        files = {
            "a.sta": writers.mt940(es("M"), account=IBAN, currency=ccy).encode(),
            "a.ofx": writers.ofx(
                es("O"), account=IBAN, closing=D("70.00"), currency=ccy
            ),
            "b.ofx": writers.ofx(
                es("X"),
                account=IBAN,
                closing=D("70.00"),
                xml=True,
                day=writers.date(2026, 2, 28),
                currency=ccy,
            ),
            "a.bai": writers.bai2(es("B"), account=IBAN),  # BAI2 files are in USD
            "a.csv": writers.csv_text(es("C")),
        }
        for name, data in files.items():
            (record,) = self.imp(name, data)
            if name == "a.bai" and ccy != "USD":
                self.assertEqual(record.state, "refused")
                self.assertIn("currency", record.error)
                continue
            self.assertEqual(record.state, "done", f"{name}: {record.error}")
            self.assertEqual(record.line_count, 2, name)
        other = "EUR" if ccy != "EUR" else "CHF"
        (wrong,) = self.imp("eur.xml", self.camt(es("E"), currency=other, stmt_id="C"))
        self.assertEqual(wrong.state, "refused")
        self.assertIn(f"expected the journal's currency {ccy}", wrong.error)

    def test_background_import_shows_lines_done_of_total_while_it_runs(self):
        # the progress is written through a second cursor: in test mode it
        # shares the test transaction, so what it wrote can be read back
        self.registry.enter_test_mode(self.cr)
        self.addCleanup(self.registry.leave_test_mode)
        data = self.camt([self.entry(f"{i}.00", f"p{i}", f"B{i}") for i in range(1, 6)])
        attachment = self.env["ir.attachment"].create(
            {"name": "big.xml", "datas": base64.b64encode(data)}
        )
        run = self.env["fi.bank.import"].create(
            {
                "name": "big.xml",
                "journal_id": self.journal.id,
                "attachment_ids": [Command.set(attachment.ids)],
            }
        )
        Import = type(run)
        report = Import._fi_report_progress
        seen = []

        def spy(record, done, total, state="running", result=None):
            report(record, done, total, state, result)
            self.env.cr.execute(
                "SELECT lines_done, lines_total, state FROM fi_bank_import "
                "WHERE id = %s",
                (record.id,),
            )
            seen.append(self.env.cr.fetchone())

        with patch.object(Import, "_fi_report_progress", spy):
            run.with_context(fi_chunk=2)._fi_run()
            self.assertEqual(
                seen,
                [
                    (0, 0, "running"),
                    (2, 5, "running"),
                    (4, 5, "running"),
                    (5, 5, "running"),
                ],
            )
            # the job's transaction commits: its final state, the same way
            self.env.cr.postcommit.run()
        self.assertEqual(seen[-1], (5, 5, "done"))
        run.invalidate_recordset()
        self.assertEqual((run.state, run.lines_done, run.lines_total), ("done", 5, 5))
        self.assertEqual(run.progress, 100.0)
        self.assertIn("5 lines imported", run.result)
        self.assertEqual(run.file_ids.line_count, 5)
        self.assertEqual(len(run.file_ids.statement_ids.line_ids), 5)

    def test_background_import_from_the_wizard_opens_the_import_form(self):
        self.registry.enter_test_mode(self.cr)
        self.addCleanup(self.registry.leave_test_mode)
        data = self.camt([self.entry("5.00", "p", "B1")])
        attachment = self.env["ir.attachment"].create(
            {"name": "s.xml", "datas": base64.b64encode(data)}
        )
        wizard = self.env["fi.bank.import.wizard"].create(
            {
                "journal_id": self.journal.id,
                "attachment_ids": [Command.set(attachment.ids)],
                "run_as_job": True,
            }
        )
        action = wizard.with_context(queue_job__no_delay=True).action_import()
        self.assertEqual(action["res_model"], "fi.bank.import")
        run = self.env["fi.bank.import"].browse(action["res_id"])
        run.invalidate_recordset()
        self.assertEqual(run.state, "running")  # until the job's commit
        self.env.cr.postcommit.run()
        run.invalidate_recordset()
        self.assertEqual(run.state, "done")
        self.assertEqual(run.file_ids.line_count, 1)

    def test_csv_file_is_previewed_with_the_profile_before_import(self):
        profile = self.journal.fi_csv_profile_id = self.csv_profile()
        entries = [
            self.entry("12.50", "INV 1", "C1", name="Alice"),
            self.entry("-3.20", "FEE", "C2", name="Bank"),
        ]
        attachment = self.env["ir.attachment"].create(
            {"name": "b.csv", "datas": base64.b64encode(writers.csv_text(entries))}
        )
        wizard = self.env["fi.bank.import.wizard"].create(
            {
                "journal_id": self.journal.id,
                "attachment_ids": [Command.set(attachment.ids)],
            }
        )
        rows = wizard.preview.splitlines()
        self.assertEqual(len(rows), 2, wizard.preview)
        self.assertIn("12.50", rows[0])
        self.assertIn("Alice", rows[0])
        self.assertIn("INV 1", rows[0])
        self.assertIn("-3.20", rows[1])
        self.assertFalse(self.Files.search([("journal_id", "=", self.journal.id)]))
        # a profile that does not fit the file: the preview says where and why
        profile.decimal_separator = "."
        wizard.invalidate_recordset(["preview"])
        self.assertIn("b.csv", wizard.preview)
        self.assertIn("line", wizard.preview)

    def test_zip_of_several_files(self):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(
                "1.xml", self.camt([self.entry("1.00", "a", "Z1")], stmt_id="Z1", seq=1)
            )
            archive.writestr(
                "2.xml",
                self.camt(
                    [self.entry("2.00", "b", "Z2")],
                    stmt_id="Z2",
                    seq=2,
                    opening=D("1001.00"),
                ),
            )
        wizard = self.env["fi.bank.import.wizard"].create(
            {
                "journal_id": self.journal.id,
                "attachment_ids": [
                    (0, 0, {"name": "statements.zip", "raw": buffer.getvalue()})
                ],
            }
        )
        wizard.action_import()
        files = self.journal.fi_statement_file_ids
        self.assertEqual(
            sorted(files.mapped("name")),
            ["statements.zip/1.xml", "statements.zip/2.xml"],
        )
        self.assertEqual(set(files.mapped("state")), {"done"})
        self.assertTrue(all(s.fi_state == "ok" for s in files.statement_ids))

    def test_watched_folder_through_the_scheduled_flow_hooks(self):
        import tempfile

        folder = tempfile.mkdtemp()
        with open(os.path.join(folder, "in.xml"), "wb") as handle:
            handle.write(self.camt([self.entry("1.00", "a", "W1")]))
        endpoint = self.journal._fi_bank_endpoint().sudo()
        endpoint.fi_bank_folder = folder
        units = endpoint._fi_batch_units(self.env["fi.flow"])
        self.assertEqual([u["key"] for u in units], ["file:in.xml"])
        result = endpoint._fi_handle_batch_unit(self.env["fi.flow"], units[0])
        self.assertIn("done", result)
        self.assertTrue(os.path.exists(os.path.join(folder, "done", "in.xml")))
        self.assertEqual(self.journal.fi_statement_file_ids.line_count, 1)

    def test_cash_position_shows_the_latest_balances(self):
        self.imp(
            "1.xml",
            self.camt(
                [self.entry("10.00", "a", "R1")],
                seq=1,
                stmt_id="S1",
                available=D("990.00"),
            ),
        )
        position = self.env["account.bank.statement"].search(
            [("journal_id", "=", self.journal.id), ("fi_is_latest", "=", True)]
        )
        self.assertEqual(len(position), 1)
        self.assertEqual(position.balance_end_real, 1010.0)
        self.assertEqual(position.fi_available_balance, 990.0)
        self.assertTrue(position.fi_available_date)


@tagged("post_install", "-at_install")
class TestSourcesAndAudit(BankCommon):
    def test_each_step_is_audited_with_the_file_correlation_id(self):
        events = []
        audit = type(self.env["fi.audit"])
        original = audit._fi_event

        def record(model, event_type, summary, **kw):
            events.append((event_type, kw.get("correlation_id"), kw.get("record")))
            return original(model, event_type, summary, **kw)

        invoice = self.invoice(100.0)
        with patch.object(audit, "_fi_event", record):
            (first,) = self.imp(
                "a.xml", self.camt([self.entry("100.00", invoice.name, "R1")])
            )
            first.statement_ids.line_ids._fi_auto_match()
            self.imp(
                "a-again.xml", self.camt([self.entry("100.00", invoice.name, "R1")])
            )
        kinds = [e[0] for e in events]
        self.assertEqual(
            kinds,
            [
                "statement.file.received",
                "statement.imported",
                "line.reconciled",
                "statement.file.refused",
            ],
        )
        line = first.statement_ids.line_ids
        self.assertEqual(events[2][1], first.fi_correlation_id)
        self.assertEqual(line.fi_correlation_id, first.fi_correlation_id)
        self.assertEqual(first.statement_ids.fi_correlation_id, first.fi_correlation_id)

    def test_bank_api_pull_through_the_endpoint(self):
        body = json.dumps(
            {
                "files": [
                    {
                        "name": "api.xml",
                        "content": base64.b64encode(
                            self.camt([self.entry("5.00", "api", "A1")])
                        ).decode(),
                    }
                ]
            }
        ).encode()
        seen = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                seen.append((self.path, self.headers.get("Authorization")))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            endpoint = self.journal._fi_bank_endpoint().sudo()
            endpoint.write(
                {
                    "base_url": f"http://127.0.0.1:{server.server_address[1]}/",
                    "fi_bank_api_path": "statements/new",
                }
            )
            units = endpoint._fi_batch_units(self.env["fi.flow"])
            self.assertEqual(len(units), 1)
            result = endpoint._fi_handle_batch_unit(self.env["fi.flow"], units[0])
        finally:
            server.shutdown()
            server.server_close()
        self.assertEqual(seen[0][0], "/statements/new")
        self.assertIn("api.xml done", result)
        files = self.journal.fi_statement_file_ids
        self.assertEqual((files.source, files.line_count), ("api", 1))
