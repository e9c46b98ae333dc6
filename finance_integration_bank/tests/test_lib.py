# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import doctest
import os
from datetime import date
from decimal import Decimal as D

from odoo.tests import BaseCase, tagged

from ..lib import (
    camt,
    csvprofile,
    kpi,
    linebatch,
    matching,
    model,
    mt940,
    pain,
    statements,
    writers,
)
from ..lib.model import StatementError

SAMPLES = os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "shared", "data", "camt", "samples"
)


def entries():
    es = writers.sample_entries(4)
    es[1]["cref"] = "RF18539007547034"
    es.append(
        {
            "amount": D("30.00"),
            "date": date(2026, 1, 6),
            "ref": "BATCH1",
            "details": [
                {"amount": D("10.00"), "e2e": "A1", "text": "INV/1"},
                {
                    "amount": D("20.00"),
                    "e2e": "A2",
                    "text": "INV/2",
                    "name": "X",
                    "iban": "DE89370400440532013000",
                },
            ],
        }
    )
    es.append(
        {
            "amount": D("-5.00"),
            "date": date(2026, 1, 7),
            "reversal": True,
            "text": "returned",
        }
    )
    return es


def csv_profile(**columns):
    """A semicolon CSV profile with decimal commas, one header row."""
    return {
        "delimiter": ";",
        "decimal": ",",
        "skip_rows": 1,
        "date_format": "%d.%m.%Y",
        "columns": columns,
    }


@tagged("post_install", "-at_install")
class TestParsers(BaseCase):
    def test_doctests_of_the_lib_pass(self):
        for module in (camt, mt940, model, matching, pain, statements, kpi, linebatch):
            result = doctest.testmod(module)
            self.assertEqual(result.failed, 0, module.__name__)

    def test_camt_every_kind_and_version_is_validated_and_read(self):
        for kind in ("camt.053", "camt.052", "camt.054"):
            for version in ("02", "03", "04", "05", "06", "07", "08"):
                with self.subTest(kind=kind, version=version):
                    (stmt,) = statements.parse(
                        writers.camt(entries(), kind=kind, version=version)
                    )
                    self.assertEqual((stmt.kind, stmt.version), (kind, version))
                    self.assertEqual(stmt.account, "NL91ABNA0417164300")
                    statements.check_balances(stmt)
                    whole = statements.assign_ids(
                        statements.parse(
                            writers.camt(entries(), kind=kind, version=version)
                        )[0],
                        split_batches=False,
                    )
                    statements.assign_ids(stmt, split_batches=True)
                    self.assertEqual(len(stmt.lines), 7)  # batch split in 2
                    self.assertEqual(len(whole.lines), 6)
                    self.assertEqual(stmt.lines[1].creditor_ref, "RF18539007547034")
                    self.assertEqual(stmt.lines[0].end_to_end_id, "E2E000000000")
                    self.assertEqual(stmt.lines[0].counterparty_name, "Partner 0")
                    self.assertTrue(stmt.lines[-1].reversal)
                    self.assertEqual(stmt.lines[-1].amount, D("-5.00"))
                    # the batch's detail ids hang on the whole entry's id
                    batch = whole.lines[4]
                    self.assertEqual(stmt.lines[4].import_id, batch.import_id + "/1")
                    self.assertEqual(stmt.lines[4].entry_key, batch.import_id)
                    if kind != "camt.054":
                        self.assertTrue(stmt.balances)

    def test_camt_charges_are_read(self):
        data = writers.camt(entries()[:1]).replace(
            b"</BkTxCd>",
            b'</BkTxCd><Chrgs><Rcrd><Amt Ccy="EUR">1.50</Amt>'
            b"<CdtDbtInd>DBIT</CdtDbtInd></Rcrd></Chrgs>",
            1,
        )
        (stmt,) = statements.parse(data)
        self.assertEqual(stmt.lines[0].charges, D("1.50"))

    def test_camt_line_ids_are_the_same_in_the_report_and_the_statement(self):
        report = statements.assign_ids(
            statements.parse(writers.camt(entries(), kind="camt.052"))[0]
        )
        final = statements.assign_ids(
            statements.parse(writers.camt(entries(), stmt_id="X"))[0]
        )
        self.assertEqual(
            [x.import_id for x in report.lines], [x.import_id for x in final.lines]
        )

    def test_public_samples_are_read(self):
        expected = {
            "camt052.v2.xml": ("camt.052", 1),
            "camt053.v2.minimal.xml": ("camt.053", 1),
            "camt053.v2.multi.statement.xml": ("camt.053", 2),
            "camt053.v4.xml": ("camt.053", 1),
            "camt053.v8.xml": ("camt.053", 1),
            "camt054.v2.xml": ("camt.054", 1),
        }
        for name, (kind, count) in expected.items():
            with open(os.path.join(SAMPLES, name), "rb") as handle:
                parsed = statements.parse(handle.read(), name)
            self.assertEqual(len(parsed), count, name)
            self.assertEqual(parsed[0].kind, kind)
        with open(os.path.join(SAMPLES, "camt053.v8.xml"), "rb") as handle:
            (stmt,) = statements.parse(handle.read())
        line = stmt.lines[0]
        self.assertEqual(line.amount, D("8.85"))
        self.assertEqual(line.end_to_end_id, "MUELL/FINP/RA12345")
        self.assertEqual(line.counterparty_iban, "NL56AGDH9619008421")
        self.assertEqual(line.bank_code, "PMNT/RCDT/BOOK")
        # the public sample does not balance (18.15 + 8.85 != -27.00): refused
        with self.assertRaises(StatementError) as err:
            statements.check_balances(stmt, "camt053.v8.xml")
        self.assertIn("closing", str(err.exception))

    def test_mt940_dialects_and_several_statements(self):
        es = entries()[:4] + entries()[5:]
        for dialect in ("german", "slash", "free"):
            text = writers.mt940(es, dialect=dialect) + writers.mt940(
                es[:1], ref="S2", stmt_no="2/1", opening=D("7.00"), available=D("1")
            )
            parsed = statements.parse(text.encode(), "x.sta")
            self.assertEqual(len(parsed), 2)
            first = parsed[0]
            self.assertEqual(first.sequence, "1/1")
            statements.check_balances(first)
            self.assertEqual(parsed[1].available.amount, D("1"))
            self.assertTrue(first.lines[-1].reversal)
            if dialect != "free":
                self.assertEqual(first.lines[0].end_to_end_id, "E2E000000000")
                self.assertEqual(first.lines[0].counterparty_iban, es[0]["iban"])
                self.assertEqual(first.lines[0].payment_ref, "INV/2026/000000")

    def test_ofx_sgml_and_xml_closing_is_ledgerbal(self):
        for xml in (False, True):
            (stmt,) = statements.parse(
                writers.ofx(entries()[:4], closing=D("500.00"), xml=xml)
            )
            self.assertEqual(stmt.closing.amount, D("500.00"))
            self.assertEqual(
                stmt.opening.amount, D("500.00") - sum(x.amount for x in stmt.lines)
            )

    def test_bai2_control_totals(self):
        (stmt,) = statements.parse(writers.bai2(entries()[:4]))
        statements.check_balances(stmt)
        with self.assertRaises(StatementError) as err:
            statements.parse(writers.bai2(entries()[:4], bad_total=True), "x.bai")
        self.assertIn("49 account control total", str(err.exception))
        self.assertIn("x.bai", str(err.exception))

    def test_csv_profile_signed_and_debit_credit(self):
        profile = csv_profile(
            date=0,
            counterparty_name=1,
            payment_ref=2,
            amount=3,
            counterparty_iban=4,
            bank_ref=5,
        )
        es = entries()[:4]
        (stmt,) = csvprofile.parse(writers.csv_text(es), profile)
        self.assertEqual([x.amount for x in stmt.lines], [e["amount"] for e in es])
        profile["columns"] = {
            "date": "Date",
            "debit": "Debit",
            "credit": "Credit",
            "payment_ref": "Text",
        }
        (stmt,) = csvprofile.parse(writers.csv_text(es, debit_credit=True), profile)
        self.assertEqual([x.amount for x in stmt.lines], [e["amount"] for e in es])
        profile["decimal"] = "."
        with self.assertRaises(StatementError) as err:
            csvprofile.parse(
                writers.csv_text(es, debit_credit=True), profile, "bank.csv"
            )
        self.assertIn("bank.csv, line", str(err.exception))


@tagged("post_install", "-at_install")
class TestRefusals(BaseCase):
    def assertRefused(self, data, *words):
        with self.assertRaises(StatementError) as err:
            (stmt,) = statements.parse(data, "f.xml")
            statements.check_balances(stmt, "f.xml")
        for word in ("f.xml", *words):
            self.assertIn(word, str(err.exception))
        return err.exception

    def test_broken_xml(self):
        data = writers.camt(entries())[:-40]
        err = self.assertRefused(data, "well-formed XML")
        self.assertEqual(err.location, "end of file")
        data = writers.camt(entries()).replace(b"</Ntry>", b"</Ntr>", 1)
        err = self.assertRefused(data, "XML")
        self.assertTrue(err.location.startswith("line "))

    def test_xsd_invalid_camt(self):
        data = writers.camt(entries()).replace(
            b"<CdtDbtInd>CRDT", b"<CdtDbtInd>XXXX", 1
        )
        self.assertRefused(data, "XSD camt.053.001.08", "CdtDbtInd")

    def test_entity_bomb_and_external_entity(self):
        bomb = (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
            b"&lol2;</Document>"
        )
        self.assertRefused(bomb, "DOCTYPE")
        xxe = (
            b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
            b"&x;</Document>"
        )
        self.assertRefused(xxe, "DOCTYPE")

    def test_wrong_balance_names_the_expected_sum(self):
        data = writers.camt(entries(), closing=D("1.00"))
        err = self.assertRefused(data, "balance", "expected opening 1000.00")
        self.assertEqual(err.found, "1.00")
        text = writers.mt940(entries()[:3], closing=D("1.00"))
        with self.assertRaises(StatementError):
            statements.check_balances(mt940.parse(text)[0])

    def test_truncated_mt940(self):
        text = writers.mt940(entries()[:3])
        truncated = text[: text.index(":62F:")]
        with self.assertRaises(StatementError) as err:
            statements.parse(truncated.encode(), "t.sta")
        self.assertIn(":62F:", str(err.exception))
        self.assertIn("t.sta", str(err.exception))

    def test_wrong_account_and_currency(self):
        (stmt,) = statements.parse(writers.camt(entries()))
        with self.assertRaises(StatementError) as err:
            statements.check_account(stmt, "DE89370400440532013000", "EUR", "f.xml")
        self.assertIn("account", str(err.exception))
        with self.assertRaises(StatementError):
            statements.check_account(stmt, "NL91 ABNA 0417 1643 00", "USD", "f.xml")
        statements.check_account(stmt, "nl91 abna 0417 1643 00", "EUR", "f.xml")


@tagged("post_install", "-at_install")
class TestMatchingAndPain(BaseCase):
    def items(self):
        return [
            matching.OpenItem(
                1, D("100.00"), "EUR", date(2026, 1, 1), 7, ("INV/2026/0001",)
            ),
            matching.OpenItem(
                2, D("50.00"), "EUR", date(2026, 1, 1), 7, ("INV/2026/0002",)
            ),
            matching.OpenItem(
                3, D("70.00"), "EUR", date(2026, 1, 2), 8, ("RF18539007547034",)
            ),
            matching.OpenItem(
                4, D("-40.00"), "EUR", date(2026, 1, 3), 9, ("E2E-PAY-1",)
            ),
            matching.OpenItem(
                5, D("333.00"), "EUR", date(2026, 1, 3), 10, ("po_1Abcdefghijk",)
            ),
            matching.OpenItem(6, D("12.00"), "EUR", date(2026, 1, 3), 11, ("BILL-9",)),
            matching.OpenItem(7, D("13.00"), "EUR", date(2026, 1, 3), 11, ("BILL-10",)),
        ]

    def line(self, lid, amount, texts=(), iban="", **kw):
        return matching.BankLine(
            lid, D(amount), "EUR", date(2026, 1, 10), texts, iban, **kw
        )

    def test_stages_scores_and_reasons(self):
        lines = [
            self.line(1, "100.00", ("inv/2026/0001",)),
            self.line(2, "150.00", ("INV/2026/0001 INV/2026/0002",)),
            self.line(3, "70.00", ("RF18 5390 0754 7034",)),
            self.line(4, "-40.00", ("E2E-PAY-1",)),
            self.line(5, "333.00", ("STRIPE PAYOUT po_1Abcdefghijk",)),
            self.line(6, "60.00", ("INV/2026/0001",)),
            self.line(7, "25.00", ("hello",), iban="de89 3704 0044 0532 0130 00"),
            self.line(8, "12.00", ("nothing",), iban="DE89370400440532013000"),
        ]
        props = matching.best(
            matching.match(lines, self.items(), {"DE89370400440532013000": 11})
        )
        self.assertEqual(props[1][0].score, 100)
        self.assertEqual(props[2][0].item_ids, (1, 2))
        self.assertEqual(props[3][0].item_ids, (3,))
        self.assertEqual(props[4][0].item_ids, (4,))
        self.assertEqual(props[5][0].item_ids, (5,))
        self.assertTrue(props[6][0].partial)
        self.assertIn("partial payment", props[6][0].reasons)
        self.assertEqual(set(props[7][0].item_ids), {6, 7})
        self.assertEqual(props[8][0].item_ids, (6,))
        self.assertIn("partner from IBAN", props[8][0].reasons)

    def test_partner_from_vat_where_the_line_carries_no_account(self):
        lines = [self.line(9, "13.00", ("nothing",), vat="be 0477.472.701")]
        props = matching.best(
            matching.match(lines, self.items(), partner_by_vat={"BE0477472701": 11})
        )
        self.assertEqual(props[9][0].item_ids, (7,))
        self.assertEqual(props[9][0].score, 85)
        self.assertIn("partner from VAT", props[9][0].reasons)
        # the same line without the VAT number: amount only, a lower score
        lines = [self.line(9, "13.00", ("nothing",))]
        props = matching.best(
            matching.match(lines, self.items(), partner_by_vat={"BE0477472701": 11})
        )
        self.assertLess(props[9][0].score, 85)

    def test_counterparty_vat_read_from_camt_txid_and_csv(self):
        entry = {
            "amount": D("10.00"),
            "date": date(2026, 1, 5),
            "name": "ACME",
            "vat": "be 0477.472.701",
        }
        for version in ("02", "08"):
            (stmt,) = camt.parse(writers.camt([entry], version=version), "v.xml")
            self.assertEqual(stmt.lines[0].counterparty_vat, "BE0477472701", version)
        data = b"Date;Text;Amount;VAT\n05.01.2026;INV 1;10,00;BE 0477.472.701\n"
        profile = csv_profile(date=0, payment_ref=1, amount=2, counterparty_vat="VAT")
        (stmt,) = csvprofile.parse(data, profile, "v.csv")
        self.assertEqual(stmt.lines[0].counterparty_vat, "BE0477472701")

    def test_pain001_both_versions_valid_with_epc_text(self):
        for schema in pain.SCHEMAS:
            data = pain.write_pain001(
                {
                    "name": "ACME Sàrl",
                    "iban": "DE89370400440532013000",
                    "bic": "COBADEFFXXX",
                },
                [
                    pain.Payment(
                        "E2E-1",
                        12345,
                        "Müller & Søn",
                        "NL91ABNA0417164300",
                        text="Rechnung «12»",
                        execution_date=date(2026, 2, 1),
                    )
                ],
                schema=schema,
                msg_id="PAIN-1",
            )
            pain.validate(data, schema)
            self.assertIn(b"<EndToEndId>E2E-1</EndToEndId>", data)
            self.assertIn(b"Mueller + Son", data)
            self.assertNotIn("«".encode(), data)

    def test_pain002_statuses(self):
        data = pain.write_pain002(
            "PAIN-1", [("E2E-1", "RJCT", "AC04", "Closed"), ("E2E-2", "ACCP", "", "")]
        )
        rejected, accepted = pain.parse_pain002(data)
        self.assertTrue(rejected.rejected)
        self.assertEqual(
            (rejected.reason_code, rejected.reason_text), ("AC04", "Closed")
        )
        self.assertFalse(accepted.rejected)
