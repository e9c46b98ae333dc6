# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json
from datetime import timedelta
from decimal import Decimal

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import TaxCommon


@tagged("post_install", "-at_install")
class TestTaxEngine(TaxCommon):
    def setUp(self):
        super().setUp()
        self.avatax.requests.clear()
        self.avatax.down = False
        self.avatax.rate = Decimal("0.10")
        self.customer.fi_einvoicing = False

    def created(self):
        calls = [
            c
            for c in self.avatax.requests
            if c["path"].split("?")[0] == "/api/v2/transactions/create"
        ]
        return [json.loads(c["body"]) for c in calls]

    def test_every_line_sent_and_commit_only_after_post_in_a_job(self):
        move = self.invoice(
            [
                {"price_unit": 100, "quantity": 2},
                {"price_unit": 0, "quantity": 1},
                {"price_unit": 50, "quantity": 1, "discount": 100},
            ]
        )
        move.action_post()
        self.assertEqual(move.state, "posted")
        self.assertEqual(move.name, "INV/2026/00001")
        (model,) = self.created()
        self.assertEqual(model["type"], "SalesInvoice")
        self.assertEqual(model["code"], "INV/2026/00001")
        self.assertFalse(model["commit"])
        self.assertEqual(model["customerCode"], "CUST-1")
        self.assertEqual([line["amount"] for line in model["lines"]], [200.0, 0.0, 0.0])
        self.assertTrue(model["lines"][2]["discounted"])
        self.assertEqual(model["lines"][0]["itemCode"], "W-1")
        self.assertEqual(model["addresses"]["shipTo"]["postalCode"], "1367")
        self.assertEqual(model["addresses"]["shipFrom"]["city"], "Bruxelles")
        self.assertEqual(move.fi_tax_state, "calculated")
        # not committed inside Odoo's transaction: a job does it afterwards
        self.assertFalse(self.avatax.calls("/commit"))
        self.run_jobs()
        (commit,) = self.avatax.calls("/commit")
        # the spec's escape of "/" in a transaction code, not %2F
        self.assertIn(
            "/transactions/INV_-ava2f-_2026_-ava2f-_00001/commit", commit["path"]
        )
        self.assertIn("documentType=SalesInvoice", commit["path"])
        self.assertEqual(
            self.avatax.transactions["INV/2026/00001"]["status"], "Committed"
        )
        self.assertEqual(move.fi_tax_state, "committed")
        self.assertTrue(move.fi_correlation_id)
        self.assertEqual(
            self.messages("tax.commit", move).correlation_id, move.fi_correlation_id
        )

    def test_commit_resends_the_invoice_when_the_code_holds_another_calculation(self):
        move = self.invoice()
        move.action_post()
        # a concurrent validation numbered its draft alike, asked the engine
        # with the same code and was rolled back: the engine holds its lines
        stray = self.avatax.transactions[move.name]
        stray["customerCode"] = "C-OTHER"
        for line in stray["lines"]:
            line["lineNumber"] = "999999"
        self.run_jobs()
        (adjust,) = self.avatax.calls("/createoradjust")
        model = json.loads(adjust["body"])["createTransactionModel"]
        self.assertTrue(model["commit"])
        self.assertEqual(
            [line["number"] for line in model["lines"]],
            [str(line.id) for line in move.invoice_line_ids],
        )
        engine = self.avatax.transactions[move.name]
        self.assertEqual(engine["status"], "Committed")
        self.assertEqual(engine["customerCode"], "CUST-1")
        self.assertEqual(move.fi_tax_state, "committed")

    def test_rolled_back_validation_commits_nothing(self):
        move = self.invoice()
        with self.assertRaises(UserError), self.env.cr.savepoint():
            move.action_post()
            raise UserError("rolled back after the engine answered")
        self.assertEqual(len(self.created()), 1)
        self.assertFalse(self.pending_jobs())
        self.assertFalse(self.avatax.calls("/commit"))

    def test_engine_down_block_refuses_validation(self):
        self.env.company.fi_tax_unavailable_policy = "block"
        self.avatax.down = True
        move = self.invoice()
        with self.assertRaisesRegex(UserError, "unavailable.*was not validated"):
            move.action_post()
        self.assertEqual(move.state, "draft")

    def test_engine_down_queue_holds_then_validates_when_it_answers(self):
        self.env.company.fi_tax_unavailable_policy = "queue"
        self.avatax.down = True
        move = self.invoice()
        move.action_post()
        self.assertEqual(move.state, "draft")
        self.assertEqual(move.fi_tax_state, "pending")
        (message,) = self.messages("tax.calculate", move)
        message._fi_process()  # still down: retried, nothing lost
        self.assertEqual(message.state, "retry")
        self.assertEqual(move.state, "draft")
        self.avatax.down = False
        message._fi_process()
        self.assertEqual(message.state, "done")
        self.assertEqual(move.state, "posted")
        self.assertEqual(move.fi_tax_state, "calculated")
        self.run_jobs()
        self.assertEqual(move.fi_tax_state, "committed")

    def test_engine_down_queue_escalates_after_max_hold(self):
        self.env.company.write(
            {"fi_tax_unavailable_policy": "queue", "fi_tax_max_hold_hours": 2}
        )
        self.avatax.down = True
        move = self.invoice()
        move.action_post()
        (message,) = self.messages("tax.calculate", move)
        move.fi_tax_pending_since = fields.Datetime.now() - timedelta(hours=3)
        message._fi_process()
        self.assertEqual(message.state, "retry")
        (item,) = self.exceptions(move, "tax_pending_overdue")
        self.assertIn("held as tax pending", item.detail)

    def test_engine_down_contingency_then_difference_proposes_a_note(self):
        self.env.company.fi_tax_unavailable_policy = "contingency"
        self.avatax.down = True
        move = self.invoice()
        move.action_post()
        self.assertEqual(move.state, "posted")
        self.assertEqual(move.fi_tax_state, "provisional")
        self.assertEqual(move.amount_tax, 10.0)
        self.avatax.down = False
        self.avatax.rate = Decimal("0.12")
        (message,) = self.messages("tax.calculate", move)
        message._fi_process()
        self.assertEqual(move.fi_tax_state, "mismatch")
        (item,) = self.exceptions(move, "tax_contingency_difference")
        self.assertIn("debit note of 2.00", item.detail)
        self.assertFalse(self.avatax.calls("/commit"))

    def test_engine_down_contingency_commits_when_engine_agrees(self):
        self.env.company.fi_tax_unavailable_policy = "contingency"
        self.avatax.down = True
        move = self.invoice()
        move.action_post()
        self.avatax.down = False
        self.messages("tax.calculate", move)._fi_process()
        self.assertEqual(move.fi_tax_state, "committed")
        self.assertEqual(len(self.avatax.calls("/commit")), 1)

    def test_mismatch_applies_engine_result_through_the_rate_map(self):
        self.avatax.rate = Decimal("0.20")
        move = self.invoice()
        move.action_post()
        self.assertEqual(move.state, "posted")
        self.assertEqual(move.invoice_line_ids.tax_ids, self.tax20)
        self.assertEqual(move.amount_tax, 20.0)
        self.assertEqual(move.fi_tax_engine_total, 20.0)

    def test_mismatch_blocks_when_company_says_so(self):
        self.env.company.fi_tax_mismatch_policy = "block"
        self.avatax.rate = Decimal("0.20")
        move = self.invoice()
        with self.assertRaisesRegex(UserError, "Odoo 10.00.*20.00.*blocked"):
            move.action_post()
        self.assertEqual(move.state, "draft")

    def test_difference_within_percentage_tolerance_is_accepted(self):
        self.env.company.write(
            {"fi_tax_mismatch_policy": "block", "fi_tax_tolerance_percent": 25}
        )
        self.avatax.rate = Decimal("0.12")
        move = self.invoice()
        move.action_post()
        self.assertEqual(move.state, "posted")
        self.assertEqual(move.invoice_line_ids.tax_ids, self.tax10)

    def test_billing_platform_invoice_not_recomputed_difference_opens_exception(self):
        self.avatax.rate = Decimal("0.20")
        move = self.invoice(fi_billing_system_of_record=True)
        move.action_post()
        self.assertEqual(move.state, "posted")
        self.assertEqual(move.amount_tax, 10.0)
        self.assertEqual(move.invoice_line_ids.tax_ids, self.tax10)
        self.assertEqual(move.fi_tax_state, "mismatch")
        (item,) = self.exceptions(move, "tax_mismatch")
        self.assertIn("billing platform", item.detail)
        self.run_jobs()
        self.assertEqual(len(self.avatax.calls("/commit")), 1)

    def test_edited_invoice_posted_again_adjusts_the_transaction(self):
        move = self.invoice()
        move.action_post()
        self.run_jobs()
        move.button_draft()
        move.invoice_line_ids.price_unit = 300
        move.action_post()
        adjust = self.avatax.calls("/createoradjust")
        self.assertEqual(len(adjust), 1)
        body = json.loads(adjust[0]["body"])
        self.assertEqual(body["createTransactionModel"]["lines"][0]["amount"], 300.0)
        self.assertEqual(len(self.created()), 1)

    def test_locked_transaction_goes_the_credit_note_way(self):
        move = self.invoice()
        move.action_post()
        self.run_jobs()
        self.avatax.locked.add(move.name)
        move.button_draft()
        with self.assertRaisesRegex(UserError, "tax return.*credit note"):
            move.action_post()

    def test_already_existing_transaction_is_adjusted_not_duplicated(self):
        self.avatax.transactions["INV/2026/00001"] = {
            "status": "Committed",
            "code": "INV/2026/00001",
        }
        move = self.invoice()
        move.action_post()
        self.assertEqual(move.state, "posted")
        self.assertEqual(len(self.avatax.calls("/createoradjust")), 1)

    def test_credit_note_is_a_return_with_the_original_tax_date(self):
        move = self.invoice(date="2026-02-10")
        move.action_post()
        wizard = (
            self.env["account.move.reversal"]
            .with_context(active_model="account.move", active_ids=move.ids)
            .create(
                {
                    "date": fields.Date.to_date("2026-03-05"),
                    "journal_id": move.journal_id.id,
                }
            )
        )
        refund = self.env["account.move"].browse(wizard.refund_moves()["res_id"])
        refund.invoice_date = "2026-03-05"
        refund.action_post()
        model = self.created()[-1]
        self.assertEqual(model["type"], "ReturnInvoice")
        self.assertEqual(model["taxOverride"]["taxDate"], "2026-02-10")
        self.assertEqual(model["referenceCode"], move.name)
        self.assertEqual(model["lines"][0]["amount"], -100.0)
        self.assertEqual(refund.fi_tax_state, "calculated")
        self.run_jobs()
        commit = [c for c in self.avatax.calls("/commit") if "RINV" in c["path"]]
        self.assertIn("documentType=ReturnInvoice", commit[0]["path"])

    def test_cancel_voids_after_checking_state_and_lock_dates(self):
        move = self.invoice()
        move.action_post()
        self.run_jobs()
        move.button_cancel()
        self.run_jobs()
        (void,) = self.avatax.calls("/void")
        self.assertIn("INV_-ava2f-_2026_-ava2f-_00001/void", void["path"])
        self.assertEqual(move.fi_tax_state, "voided")

    def test_void_refused_in_a_locked_period(self):
        move = self.invoice()
        move.action_post()
        self.run_jobs()
        move.button_cancel()
        self.env.company.sudo().tax_lock_date = "2026-03-31"
        self.run_jobs()
        self.assertFalse(self.avatax.calls("/void"))
        (item,) = self.exceptions(move)
        self.assertIn("locked period", item.detail)

    def test_exemption_certificate_of_the_region_is_sent(self):
        self.env["fi.tax.exemption"].create(
            {
                "partner_id": self.customer.id,
                "country_id": self.env.ref("base.be").id,
                "number": "EX-2026-7",
                "date_from": "2026-01-01",
                "date_to": "2026-12-31",
            }
        )
        self.env["fi.tax.exemption"].create(
            {
                "partner_id": self.customer.id,
                "country_id": self.env.ref("base.be").id,
                "number": "EX-OLD",
                "date_from": "2020-01-01",
                "date_to": "2020-12-31",
            }
        )
        self.invoice().action_post()
        self.assertEqual(self.created()[0]["exemptionNo"], "EX-2026-7")

    def test_item_tax_code_comes_from_the_value_map(self):
        self._value_map("avatax_tax_code", None, {"W-1": "SW054000"})
        self.invoice().action_post()
        self.assertEqual(self.created()[0]["lines"][0]["taxCode"], "SW054000")

    def test_product_missing_from_the_tax_code_map_blocks_with_its_code(self):
        self._value_map("avatax_tax_code", None, {"OTHER": "P0000000"})
        with self.assertRaisesRegex(UserError, 'no entry for code "W-1"'):
            self.invoice().action_post()

    def test_reconciliation_finds_missing_different_and_uncommitted(self):
        committed = self.invoice()
        committed.action_post()
        uncommitted = self.invoice()
        uncommitted.action_post()
        self.run_jobs()
        self.avatax.transactions[uncommitted.name]["status"] = "Saved"
        self.avatax.transactions[committed.name]["totalTax"] = 11.0
        self.avatax.transactions["INV/2026/09999"] = {
            "code": "INV/2026/09999",
            "status": "Committed",
            "totalTax": 5.0,
        }
        result = self.env["account.move"]._fi_tax_reconcile(
            self.endpoint,
            fields.Date.to_date("2026-03-01"),
            fields.Date.to_date("2026-03-31"),
        )
        self.assertIn("3 differences", result)
        self.assertTrue(self.exceptions(committed, "tax_reconciliation"))
        self.assertTrue(self.exceptions(uncommitted, "tax_reconciliation"))
        self.assertTrue(self.exceptions(self.endpoint, "tax_reconciliation"))

    def test_test_connection_pings_with_basic_auth(self):
        summary = self.endpoint._fi_test_connection()
        self.assertIn("authenticated as account 1100", summary)
        (ping,) = self.avatax.calls("/api/v2/utilities/ping")
        self.assertTrue(ping["headers"]["Authorization"].startswith("Basic "))
        self.endpoint.credential = "wrong"
        with self.assertRaisesRegex(UserError, "AuthenticationException"):
            self.endpoint._fi_test_connection()

    def test_license_key_is_never_readable(self):
        self.assertFalse(self.endpoint.read(["credential"])[0]["credential"])
        self.assertNotIn("lk_test", str(self.endpoint.sudo().read()))
        self.assertIn("fi_avatax_account_id", self.endpoint._fi_governed_fields())

    def test_address_validated_only_where_the_engine_supports_it(self):
        us = self.us_partner()
        us.action_fi_validate_address()
        self.assertEqual(us.street, "100 RAVINE LANE")
        self.assertEqual(us.zip, "98110-1234")
        self.assertTrue(us.fi_address_validated)
        calls = len(self.avatax.requests)
        result = self.customer.action_fi_validate_address()
        self.assertEqual(result["params"]["type"], "info")
        self.assertEqual(len(self.avatax.requests), calls)
