# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import date
from decimal import Decimal as D

from odoo.addons.account.tests.common import AccountTestInvoicingCommon

from ..lib import writers

IBAN = "NL91ABNA0417164300"


class BankCommon(AccountTestInvoicingCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.journal = cls.company_data["default_journal_bank"]
        cls.company = cls.journal.company_id
        cls.bank_account = cls.env["res.partner.bank"].create(
            {"acc_number": IBAN, "partner_id": cls.company.partner_id.id}
        )
        cls.owner = cls.env["res.users"].create(
            {
                "name": "Bank Owner",
                "login": "fi_bank_owner",
                "email": "bank.owner@example.com",
                "groups_id": [
                    (6, 0, cls.env.user.groups_id.ids),
                    (4, cls.env.ref("finance_integration_core.group_fi_manager").id),
                ],
                "company_ids": [(6, 0, cls.company.ids)],
                "company_id": cls.company.id,
            }
        )
        # the accountant running the tests imports as a finance operator does
        cls.env.user.groups_id += cls.env.ref(
            "finance_integration_core.group_fi_operator"
        )
        cls.writeoff_account = cls.company_data["default_account_expense"]
        cls.journal.write(
            {
                "bank_account_id": cls.bank_account.id,
                "currency_id": False,
                "fi_owner_id": cls.owner.id,
                "fi_writeoff_account_id": cls.writeoff_account.id,
                "fi_tolerance_amount": 1.0,
                "fi_tolerance_percent": 0.0,
                "fi_writeoff_approval_amount": 0.5,
                "fi_manual_approval_amount": 10000.0,
            }
        )
        cls.Files = cls.env["fi.bank.statement.file"]

    def entry(self, amount, text="", ref=None, day=date(2026, 1, 10), **kw):
        return dict(amount=D(amount), date=day, text=text, ref=ref, **kw)

    def camt(self, entries, **kw):
        kw.setdefault("iban", IBAN)
        kw.setdefault("currency", self.company.currency_id.name)
        return writers.camt(entries, **kw)

    def imp(self, name, data):
        return self.Files._fi_import_files(self.journal, [(name, data)])

    def invoice(
        self,
        amount,
        partner=None,
        currency=None,
        day="2026-01-05",
        move_type="out_invoice",
    ):
        move = self.init_invoice(
            move_type,
            partner=partner or self.partner_a,
            invoice_date=day,
            amounts=[amount],
            taxes=self.env["account.tax"],
            currency=currency,
            post=True,
        )
        return move

    def import_lines(self, *entries, name="r.xml"):
        (record,) = self.imp(name, self.camt(list(entries)))
        self.assertEqual(record.state, "done", record.error)
        return record.statement_ids.line_ids.sorted("id")

    def exceptions_of(self, record):
        return (
            self.env["fi.exception"]
            .sudo()
            .search(
                [
                    ("fi_message_id.res_model", "=", record._name),
                    ("fi_message_id.res_id", "in", record.ids),
                ]
            )
        )
