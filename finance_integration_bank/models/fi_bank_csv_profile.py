# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models


class FiBankCsvProfile(models.Model):
    """How a bank's CSV export reads: columns, formats, encoding."""

    _name = "fi.bank.csv.profile"
    _description = "Bank CSV Profile"

    name = fields.Char(required=True)
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company)
    delimiter = fields.Char(default=";", required=True)
    encoding = fields.Char(default="utf-8", required=True)
    skip_rows = fields.Integer("Header Rows to Skip", default=1)
    date_format = fields.Char(default="%d.%m.%Y", required=True)
    decimal_separator = fields.Char(default=",", required=True)
    thousands_separator = fields.Char(default="")
    col_date = fields.Char("Date Column", required=True, default="0")
    col_value_date = fields.Char("Value Date Column")
    col_amount = fields.Char("Signed Amount Column")
    col_debit = fields.Char("Debit Column")
    col_credit = fields.Char("Credit Column")
    col_payment_ref = fields.Char("Text Column")
    col_partner = fields.Char("Counterparty Column")
    col_iban = fields.Char("IBAN Column")
    col_ref = fields.Char("Bank Reference Column")
    col_currency = fields.Char("Currency Column")
    col_vat = fields.Char(
        "Counterparty VAT Column",
        help="Finds the partner by VAT number where the file carries no account.",
    )

    def _fi_profile(self):
        self.ensure_one()

        def col(value):
            if not value:
                return None
            return int(value) if value.strip().isdigit() else value.strip()

        return {
            "delimiter": self.delimiter,
            "encoding": self.encoding,
            "skip_rows": self.skip_rows,
            "date_format": self.date_format,
            "decimal": self.decimal_separator,
            "thousands": self.thousands_separator or "",
            "columns": {
                "date": col(self.col_date),
                "value_date": col(self.col_value_date),
                "amount": col(self.col_amount),
                "debit": col(self.col_debit),
                "credit": col(self.col_credit),
                "payment_ref": col(self.col_payment_ref),
                "counterparty_name": col(self.col_partner),
                "counterparty_iban": col(self.col_iban),
                "bank_ref": col(self.col_ref),
                "currency": col(self.col_currency),
                "counterparty_vat": col(self.col_vat),
            },
        }
