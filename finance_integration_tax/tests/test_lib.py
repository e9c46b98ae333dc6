# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import doctest
import os
from decimal import Decimal

from odoo.tests import BaseCase, tagged

from ..lib import avatax, clearance, money, schematron, svrl, validator
from ..lib import engine as engine_lib
from ..lib.engine import Address, DocumentLine, TaxDocument

SPEC = os.path.join(
    os.path.dirname(__file__),
    "..",
    "..",
    "..",
    "shared",
    "data",
    "avatax",
    "openapi.yaml",
)


@tagged("post_install", "-at_install")
class TestLib(BaseCase):
    def test_doctests_pass(self):
        for module in (avatax, clearance, engine_lib, money, schematron, svrl):
            result = doctest.testmod(module)
            self.assertFalse(result.failed, module.__name__)
            self.assertTrue(result.attempted, module.__name__)

    def document(self):
        return TaxDocument(
            code="INV/2026/00001",
            date="2026-03-02",
            customer_code="C1",
            currency="USD",
            lines=[DocumentLine("1", Decimal("10.10"), Decimal(1), "W-1", "P0000000")],
            ship_from=Address("1 Main", "", "Seattle", "WA", "98101", "US"),
            ship_to=Address("2 Side", "", "Bainbridge", "WA", "98110", "US"),
        )

    def test_create_transaction_request_uses_only_spec_fields(self):
        engine = avatax.AvaTaxEngine("1100", "lk", "ACME", url="http://127.0.0.1:1")
        request = engine.calculate(self.document())
        body = money.loads(request.body)
        self.assertEqual(body["lines"][0]["amount"], Decimal("10.10"))
        self.assertIn(b'"amount":10.10', request.body)
        if os.path.exists(SPEC):
            with open(SPEC, encoding="utf-8") as handle:
                text = handle.read()
            start = text.index("    CreateTransactionModel:")
            section = text[start : text.index("\n    CreateOrAdjust", start)]
            for key in body:
                self.assertIn(f"\n        {key}:", section, key)

    def test_sandbox_and_production_urls(self):
        self.assertTrue(
            avatax.AvaTaxEngine("1", "k", "C")
            .ping()
            .url.startswith("https://sandbox-rest.avatax.com/")
        )
        prod = avatax.AvaTaxEngine("1", "k", "C", environment="production")
        self.assertTrue(prod.ping().url.startswith("https://rest.avatax.com/"))

    def test_error_outcomes(self):
        engine = avatax.AvaTaxEngine("1", "k", "C")
        cases = {
            (400, '{"error":{"code":"CannotModifyLockedTransaction"}}'): "locked",
            (400, '{"error":{"code":"TransactionAlreadyExists"}}'): "already_exists",
            (500, "oops"): "transient",
            (429, ""): "transient",
            (400, '{"error":{"code":"InvalidAddress","message":"no"}}'): "business",
            (401, '{"error":{"code":"AuthenticationException"}}'): "auth",
        }
        for (status, body), outcome in cases.items():
            with self.assertRaises(avatax.EngineError) as caught:
                engine.classify(status, body)
            self.assertEqual(caught.exception.outcome, outcome, (status, body))

    def test_list_and_answer_parsing_in_decimal(self):
        engine = avatax.AvaTaxEngine("1", "k", "C")
        result, more = engine.parse_list(
            200,
            '{"value":[{"code":"A","status":"Committed","totalTax":1.005}],'
            '"@nextLink":"x"}',
        )
        self.assertEqual(result[0].total_tax, Decimal("1.005"))
        self.assertTrue(more)

    def test_invalid_ubl_names_each_rule_location_and_message(self):
        xml = (
            b'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"'
            b' xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:'
            b'CommonBasicComponents-2"><cbc:ID>1</cbc:ID></Invoice>'
        )
        report = validator.validate_ubl(xml)
        self.assertFalse(report.valid)
        ids = {f.rule_id for f in report.errors}
        self.assertIn("BR-03", ids)  # EN 16931
        self.assertIn("PEPPOL-EN16931-R001", ids)  # Peppol BIS 3
        finding = next(f for f in report.errors if f.rule_id == "BR-03")
        self.assertIn("Invoice issue date", finding.message)
        self.assertIn("Invoice", finding.location)
        not_xml = validator.validate_ubl(b"<Invoice")
        self.assertEqual(not_xml.errors[0].rule_id, "XML")

    def test_stylesheets_compiled_once_per_process(self):
        validator._PROCESS.warm_up()
        pid = validator._PROCESS.process.pid
        for _i in range(3):
            report = validator.validate_ubl(b"<Invoice/>")
            self.assertEqual(report.compiled, ())
        self.assertEqual(validator._PROCESS.process.pid, pid)

    def test_tolerance(self):
        self.assertTrue(money.within_tolerance("10", "10.01", "0.01", "0"))
        self.assertFalse(money.within_tolerance("10", "10.02", "0.01", "0"))
        self.assertTrue(money.within_tolerance("10", "10.5", "0", "5"))
