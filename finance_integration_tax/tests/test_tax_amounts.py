# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Amounts sent to the engine: tax-included prices, foreign currencies."""

import json
from decimal import Decimal

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import tagged

from ..lib.money import loads, to_decimal
from .common import TaxCommon


@tagged("post_install", "-at_install")
class TestTaxAmounts(TaxCommon):
    def setUp(self):
        super().setUp()
        self.customer.fi_einvoicing = False
        # any difference of a cent would block: the engine must match exactly
        self.env.company.write(
            {
                "fi_tax_mismatch_policy": "block",
                "fi_tax_tolerance_amount": 0,
                "fi_tax_tolerance_percent": 0,
            }
        )

    def created(self):
        calls = [
            c
            for c in self.avatax.requests
            if c["path"].split("?")[0] == "/api/v2/transactions/create"
        ]
        return [c["body"] for c in calls]

    def test_tax_included_prices_are_sent_as_typed_and_match_to_the_cent(self):
        included = self.tax10_incl
        move = self.invoice(
            [
                {"price_unit": 19.99, "quantity": 3, "discount": 7.5},
                {"price_unit": 0.05, "quantity": 7},
                {"price_unit": 1234.57, "quantity": 1},
                {"price_unit": 42.0, "quantity": 1, "discount": 100},
            ],
            date="2026-03-02",
        )
        move.invoice_line_ids.tax_ids = [Command.set(included.ids)]
        move.action_post()
        self.assertEqual(move.state, "posted")
        (raw,) = self.created()
        model = loads(raw)
        amounts = [line["amount"] for line in model["lines"]]
        # Decimal from the wire: 19.99 x 3 less 7.5 % = 55.47225 -> 55.47
        self.assertEqual(
            amounts,
            [Decimal("55.47"), Decimal("0.35"), Decimal("1234.57"), Decimal("0.00")],
        )
        self.assertIn(b'"amount":55.47,', raw)
        self.assertTrue(all(line["taxIncluded"] for line in model["lines"]))
        # what the customer pays is what was sent: the tax is inside it
        self.assertEqual(to_decimal(move.amount_total), sum(amounts))
        engine = self.avatax.transactions[move.name]
        engine_tax = to_decimal(engine["totalTax"]).quantize(Decimal("0.01"))
        # 5.04 + 0.03 + 112.23: Odoo's own included tax, to the cent
        self.assertEqual(engine_tax, Decimal("117.30"))
        self.assertEqual(to_decimal(move.amount_tax), engine_tax)
        self.assertEqual(to_decimal(move.fi_tax_engine_total), engine_tax)
        self.assertEqual(move.invoice_line_ids.tax_ids, included)
        self.assertEqual(move.fi_tax_state, "calculated")

    def test_engine_rate_applied_to_a_tax_included_line_keeps_its_price(self):
        self.env.company.fi_tax_mismatch_policy = "apply"
        self.avatax.rate = Decimal("0.20")
        move = self.invoice([{"price_unit": 110, "quantity": 1}])
        move.invoice_line_ids.tax_ids = [Command.set(self.tax10_incl.ids)]
        self.assertEqual(move.amount_tax, 10.0)
        move.action_post()
        self.assertEqual(move.state, "posted")
        # the "<rate> incl" entry of the avatax_tax map: an included tax again
        self.assertEqual(move.invoice_line_ids.tax_ids, self.tax20_incl)
        self.assertEqual(move.amount_total, 110.0, "the price the customer saw")
        # 110 - 110 / 1.2 = 18.33, the engine's and now Odoo's
        self.assertEqual(move.amount_tax, 18.33)
        self.assertEqual(move.fi_tax_engine_total, 18.33)

    def foreign_currency(self):
        code = "CHF" if self.env.company.currency_id.name != "CHF" else "JPY"
        # 1 company unit = 0.8 units of it: one unit of it is worth 1.25
        return self.setup_other_currency(code, rates=[("2026-01-01", 0.8)])

    def test_foreign_currency_sends_currency_and_rate_amounts_stay_in_it(self):
        currency = self.foreign_currency()
        company_currency = self.env.company.currency_id
        move = self.invoice(
            [{"price_unit": 100, "quantity": 2}], currency_id=currency.id
        )
        move.action_post()
        self.assertEqual(move.state, "posted")
        (raw,) = self.created()
        model = json.loads(raw)
        self.assertEqual(model["currencyCode"], currency.name)
        self.assertEqual(model["exchangeRateCurrencyCode"], company_currency.name)
        self.assertEqual(model["exchangeRateEffectiveDate"], "2026-03-02")
        self.assertIn(b'"exchangeRate":1.25,', raw)
        # amounts in the invoice currency, as typed, not converted
        self.assertEqual(model["lines"][0]["amount"], 200.0)
        self.assertEqual(move.fi_tax_engine_total, 20.0)
        self.assertEqual(move.fi_tax_odoo_total, 20.0)
        self.assertEqual(move.amount_tax, 20.0)
        self.assertEqual(move.currency_id, currency)
        self.assertAlmostEqual(abs(move.amount_tax_signed), 25.0)
        self.assertEqual(move.fi_tax_state, "calculated")

    def test_company_currency_invoice_sends_no_exchange_rate(self):
        self.invoice().action_post()
        model = json.loads(self.created()[0])
        self.assertEqual(model["currencyCode"], self.env.company.currency_id.name)
        self.assertNotIn("exchangeRate", model)
        self.assertNotIn("exchangeRateCurrencyCode", model)

    def test_an_answer_in_another_currency_is_never_booked(self):
        currency = self.foreign_currency()
        self.avatax.answer_currency = self.env.company.currency_id.name
        move = self.invoice(currency_id=currency.id)
        with self.assertRaisesRegex(UserError, "another currency.*Nothing was booked"):
            move.action_post()
        self.assertEqual(move.state, "draft")
