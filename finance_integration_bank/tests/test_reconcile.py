# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import date, timedelta

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from ..lib import pain
from .common import BankCommon


@tagged("post_install", "-at_install")
class TestReconciliation(BankCommon):
    def test_reference_and_amount_reconcile_automatically(self):
        invoice = self.invoice(100.0)
        line = self.import_lines(self.entry("100.00", f"Payment {invoice.name}", "R1"))
        line._fi_auto_match()
        self.assertEqual(line.fi_match_state, "matched")
        self.assertTrue(line.is_reconciled)
        self.assertEqual(invoice.payment_state, "paid")
        self.assertEqual(line.fi_score, 100)
        self.assertIn("reference", line.fi_reasons)
        self.assertEqual(line.fi_history_ids.action, "matched")

    def test_small_difference_written_off_within_tolerance(self):
        self.journal.fi_writeoff_approval_amount = 5.0
        invoice = self.invoice(100.0)
        line = self.import_lines(self.entry("99.40", invoice.name, "R1"))
        self.journal.fi_auto_reconcile_score = 80
        line._fi_auto_match()
        self.assertEqual(line.fi_match_state, "matched", line.fi_reasons)
        self.assertEqual(invoice.payment_state, "paid")
        writeoff = line.move_id.line_ids.filtered(
            lambda aml: aml.account_id == self.writeoff_account
        )
        self.assertAlmostEqual(writeoff.balance, 0.60)

    def test_writeoff_above_threshold_waits_for_another_user(self):
        invoice = self.invoice(100.0)
        self.journal.fi_auto_reconcile_score = 80
        line = self.import_lines(self.entry("99.20", invoice.name, "R1"))
        line._fi_auto_match()
        self.assertEqual(line.fi_match_state, "to_approve")
        self.assertFalse(line.is_reconciled)
        with self.assertRaises(UserError):
            line.action_fi_approve()  # the importer
        line.with_user(self.owner).action_fi_approve()
        self.assertEqual(line.fi_match_state, "matched")
        self.assertEqual(invoice.payment_state, "paid")

    def test_partial_payment_leaves_the_invoice_open(self):
        invoice = self.invoice(100.0)
        self.journal.fi_auto_reconcile_score = 80
        line = self.import_lines(self.entry("40.00", invoice.name, "R1"))
        line._fi_auto_match()
        self.assertEqual(line.fi_match_state, "matched")
        self.assertEqual(invoice.payment_state, "partial")
        self.assertAlmostEqual(invoice.amount_residual, 60.0)

    def test_one_line_paying_two_invoices(self):
        one, two = self.invoice(100.0), self.invoice(50.0)
        line = self.import_lines(self.entry("150.00", f"{one.name} {two.name}", "R1"))
        line._fi_auto_match()
        self.assertEqual(line.fi_match_state, "matched")
        self.assertEqual((one | two).mapped("payment_state"), ["paid", "paid"])

    def test_unmatched_line_opens_an_exception_with_candidates_matched_from_there(
        self,
    ):
        invoice = self.invoice(100.0)
        line = self.import_lines(self.entry("100.00", "no reference", "R1"))
        line._fi_auto_match()
        self.assertEqual(line.fi_match_state, "proposed")  # amount only: score 50
        self.assertIn(
            invoice.line_ids.filtered("account_id.reconcile"), line.fi_candidate_ids
        )
        exception = self.exceptions_of(line)
        self.assertEqual(len(exception), 1)
        self.assertIn("Unmatched bank line", exception.name + exception.detail)
        line.action_fi_accept_proposal()
        self.assertEqual(line.fi_match_state, "matched")
        self.assertEqual(exception.state, "resolved")

    def test_manual_match_over_the_amount_needs_a_second_user(self):
        self.journal.fi_manual_approval_amount = 50.0
        invoice = self.invoice(100.0)
        line = self.import_lines(self.entry("100.00", "nothing", "R1"))
        items = invoice.line_ids.filtered("account_id.reconcile")
        self.assertFalse(line.action_fi_match_manual(items))
        self.assertEqual(line.fi_match_state, "to_approve")
        line.with_user(self.owner).action_fi_approve()
        self.assertEqual(invoice.payment_state, "paid")

    def test_undo_and_invoice_reset_bring_the_line_back_with_history(self):
        invoice = self.invoice(100.0)
        line = self.import_lines(self.entry("100.00", invoice.name, "R1"))
        line._fi_auto_match()
        with self.assertRaises(UserError):
            line.statement_id.unlink()
        line.action_undo_reconciliation()
        self.assertEqual(line.fi_match_state, "unmatched")
        self.assertFalse(line.is_reconciled)
        self.assertEqual(invoice.payment_state, "not_paid")
        self.assertEqual(line.fi_history_ids.mapped("action"), ["undone", "matched"])
        line._fi_auto_match()
        self.assertEqual(line.fi_match_state, "matched")
        # the invoice's payment removed from the invoice side
        invoice.line_ids.remove_move_reconcile()
        self.assertEqual(line.fi_match_state, "unmatched")
        self.assertTrue(
            line.move_id.line_ids.filtered(
                lambda aml: aml.account_id == self.journal.suspense_account_id
            )
        )

    def test_foreign_invoice_reconciles_at_the_booked_rate_without_suspense_residual(
        self,
    ):
        other = self.setup_other_currency(
            "USD" if self.company.currency_id.name != "USD" else "CHF",
            rates=[("2026-01-01", 2.0), ("2026-01-09", 2.5)],
        )
        invoice = self.invoice(
            200.0, currency=other, day="2026-01-05"
        )  # 100 in company currency
        self.env[
            "account.bank.statement.line"
        ]  # line in company currency with the foreign amount
        line = self.import_lines(self.entry("90.00", invoice.name, "R1"))
        line.write({"foreign_currency_id": other.id, "amount_currency": 200.0})
        line._fi_auto_match()
        self.assertEqual(line.fi_match_state, "matched", line.fi_reasons)
        self.assertEqual(invoice.payment_state, "paid")
        suspense = line.move_id.line_ids.filtered(
            lambda aml: aml.account_id == self.journal.suspense_account_id
        )
        self.assertFalse(suspense)
        exchange = (
            invoice.line_ids.matched_credit_ids.exchange_move_id
            | invoice.line_ids.matched_debit_ids.exchange_move_id
        )
        self.assertTrue(
            exchange, "the 10.00 difference went to an exchange difference entry"
        )

    def test_reversed_invoice_brings_the_line_back_to_unmatched(self):
        invoice = self.invoice(100.0)
        line = self.import_lines(self.entry("100.00", invoice.name, "R1"))
        line._fi_auto_match()
        self.assertEqual(line.fi_match_state, "matched")
        reversal = invoice._reverse_moves(cancel=True)
        self.assertEqual(reversal.state, "posted")
        self.assertEqual(line.fi_match_state, "unmatched")
        self.assertFalse(line.is_reconciled)
        self.assertEqual(line.fi_history_ids.mapped("action"), ["undone", "matched"])
        self.assertTrue(
            line.move_id.line_ids.filtered(
                lambda aml: aml.account_id == self.journal.suspense_account_id
            ),
            "the line is back on the suspense account",
        )
        # the reversed invoice is no open item any more: not matched again
        line._fi_auto_match()
        self.assertNotEqual(line.fi_match_state, "matched")

    def test_rate_imported_after_the_line_leaves_no_suspense_residual(self):
        other = self.setup_other_currency(
            "USD" if self.company.currency_id.name != "USD" else "CHF",
            rates=[("2026-01-01", 2.0)],
        )
        invoice = self.invoice(200.0, currency=other, day="2026-01-05")  # 100.00
        line = self.import_lines(
            self.entry("80.00", invoice.name, "R1", day=date(2026, 1, 12))
        )
        line.write({"foreign_currency_id": other.id, "amount_currency": 200.0})
        # the rate of the line's day arrives late, after the line was booked
        self.env["res.currency.rate"].create(
            {
                "currency_id": other.id,
                "name": "2026-01-12",
                "rate": 2.5,
                "company_id": self.company.id,
            }
        )
        line._fi_auto_match()
        self.assertEqual(line.fi_match_state, "matched", line.fi_reasons)
        self.assertEqual(invoice.payment_state, "paid")
        self.assertTrue(invoice.currency_id.is_zero(invoice.amount_residual))
        suspense = line.move_id.line_ids.filtered(
            lambda aml: aml.account_id == self.journal.suspense_account_id
        )
        self.assertFalse(suspense, "nothing left on the suspense account")
        exchange = (
            invoice.line_ids.matched_credit_ids.exchange_move_id
            | invoice.line_ids.matched_debit_ids.exchange_move_id
        )
        self.assertEqual(
            abs(
                sum(
                    exchange.line_ids.filtered("account_id.reconcile").mapped("balance")
                )
            ),
            20.0,
            "booked at the line's own rate (80 for 200): 20.00 exchange difference",
        )

    def test_partner_found_by_vat_when_the_file_carries_no_account(self):
        self.partner_a.vat = "BE0477472701"
        invoice = self.invoice(100.0)
        self.invoice(100.0, partner=self.env["res.partner"].create({"name": "Other"}))
        line = self.import_lines(
            self.entry(
                "100.00", "no ref", "R1", name="A. N. Other", vat="be 0477 472 701"
            )
        )
        self.assertEqual(line.fi_counterparty_vat, "BE0477472701")
        line._fi_auto_match()
        self.assertIn("partner from VAT", line.fi_reasons)
        self.assertEqual(line.fi_score, 85)
        self.assertEqual(
            line.fi_candidate_ids, invoice.line_ids.filtered("account_id.reconcile")
        )

    def test_exception_opens_the_candidates_and_the_chosen_one_reconciles(self):
        invoice, other = self.invoice(100.0), self.invoice(100.0)
        line = self.import_lines(self.entry("100.00", "no reference", "R1"))
        line._fi_auto_match()
        self.assertEqual(line.fi_match_state, "proposed")
        exception = self.exceptions_of(line)
        action = exception.action_fi_match_bank_line()
        wizard = self.env[action["res_model"]].browse(action["res_id"])
        self.assertEqual(wizard.line_id, line)
        self.assertGreaterEqual(len(wizard.candidate_ids), 2)
        for candidate in wizard.candidate_ids:
            self.assertTrue(candidate.score and candidate.reasons, candidate.item_refs)
        target = invoice.line_ids.filtered("account_id.reconcile")
        chosen = wizard.candidate_ids.filtered(lambda c: c.item_ids == target)
        self.assertEqual(len(chosen), 1)
        self.assertIn(invoice.name, chosen.item_refs)
        with self.assertRaises(UserError):  # nothing chosen
            wizard.action_match()
        chosen.selected = True
        wizard.action_match()
        self.assertEqual(line.fi_match_state, "matched")
        self.assertIn("chosen by", line.fi_reasons)
        self.assertEqual(invoice.payment_state, "paid")
        self.assertEqual(other.payment_state, "not_paid")
        self.assertEqual(exception.state, "resolved")
        with self.assertRaises(UserError):  # matched lines have no wizard
            line.action_fi_open_match()

    def test_match_chosen_above_the_amount_waits_for_another_user(self):
        self.journal.fi_manual_approval_amount = 50.0
        invoice = self.invoice(100.0)
        line = self.import_lines(self.entry("100.00", "nothing", "R1"))
        line._fi_auto_match()
        action = line.action_fi_open_match()
        wizard = self.env[action["res_model"]].browse(action["res_id"])
        # open items chosen by hand instead of a proposal
        wizard.item_ids = invoice.line_ids.filtered("account_id.reconcile")
        wizard.action_match()
        self.assertEqual(line.fi_match_state, "to_approve")
        self.assertEqual(invoice.payment_state, "not_paid")
        with self.assertRaises(UserError):  # the proposer cannot approve
            line.action_fi_approve()
        line.with_user(self.owner).action_fi_approve()
        self.assertEqual(line.fi_match_state, "matched")
        self.assertEqual(invoice.payment_state, "paid")

    def test_unmatched_alert_once_per_breach(self):
        line = self.import_lines(self.entry("12.34", "nothing", "R1"))
        line._fi_auto_match()
        line.date = fields.Date.today() - timedelta(days=10)
        Line = self.env["account.bank.statement.line"]
        self.assertEqual(Line._cron_fi_unmatched_alerts(), line)
        self.assertFalse(Line._cron_fi_unmatched_alerts())


@tagged("post_install", "-at_install")
class TestPaymentFiles(BankCommon):
    def vendor_payment(self, amount):
        bank = self.env["res.partner.bank"].create(
            {"acc_number": "DE89370400440532013000", "partner_id": self.partner_b.id}
        )
        payment = self.env["account.payment"].create(
            {
                "payment_type": "outbound",
                "partner_type": "supplier",
                "partner_id": self.partner_b.id,
                "amount": amount,
                "journal_id": self.journal.id,
                "partner_bank_id": bank.id,
                "memo": "Bill Müller «1»",
            }
        )
        payment.action_post()
        return payment

    def test_export_is_valid_idempotent_and_needs_approval_above_threshold(self):
        self.journal.fi_payment_approval_amount = 100.0
        payment = self.vendor_payment(250.0)
        Orders = self.env["fi.bank.payment.order"]
        order = Orders._fi_create_for(payment, self.journal)
        order.action_submit()
        self.assertEqual(order.state, "to_approve")
        with self.assertRaises(UserError):
            order.action_export()
        order.with_user(self.owner).action_approve()
        order.action_export()
        data = __import__("base64").b64decode(order.file_data)
        pain.validate(data, "pain.001.001.09")
        self.assertIn(payment.fi_end_to_end_id.encode(), data)
        self.assertIn(b"Bill Mueller 1", data)
        with self.assertRaises(UserError):
            Orders._fi_create_for(payment, self.journal)  # not exported twice
        # pain.002: rejected -> exception on the payment
        report = pain.write_pain002(
            order.name, [(payment.fi_end_to_end_id, "RJCT", "AC04", "Account closed")]
        )
        (record,) = self.imp("status.xml", report)
        self.assertEqual(record.state, "done", record.error)
        self.assertEqual(payment.fi_bank_status, "rejected")
        self.assertIn("AC04", payment.fi_bank_reason)
        self.assertEqual(len(self.exceptions_of(payment)), 1)

    def test_statement_line_with_the_end_to_end_id_reconciles_the_payment(self):
        self.journal.fi_payment_approval_amount = 1000.0
        payment = self.vendor_payment(80.0)
        order = self.env["fi.bank.payment.order"]._fi_create_for(payment, self.journal)
        order.action_submit()
        order.action_export()
        line = self.import_lines(
            self.entry("-80.00", "", "R9", e2e=payment.fi_end_to_end_id)
        )
        line._fi_auto_match()
        self.assertEqual(line.fi_match_state, "matched", line.fi_reasons)
