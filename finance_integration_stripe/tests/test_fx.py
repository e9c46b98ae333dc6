# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""FX: a charge in another currency than the payout's settles at what Odoo
booked, the difference with Stripe's settled amount on the FX account."""

import time
from decimal import Decimal

from odoo import fields
from odoo.tests import tagged

from .common import StripeCommon


def dec(value, digits=2):
    """An Odoo float amount as the Decimal it stands for."""
    return Decimal(f"{value:.{digits}f}")


@tagged("post_install", "-at_install")
class TestStripeFx(StripeCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if cls.company.currency_id != cls.usd:
            cls.skipTest(cls, "the FX figures are written for a USD company")
        today = fields.Date.today()
        for currency, rate in ((cls.eur, 0.8), (cls.jpy, 150.0)):
            cls.env["res.currency.rate"].create(
                {
                    "name": today,
                    "currency_id": currency.id,
                    "rate": rate,
                    "company_id": cls.company.id,
                }
            )

    def paid(self, amount, minor, currency):
        invoice = self.invoice(amount, currency=currency)
        intent = self.intent(invoice, minor, currency=currency.name.lower())
        self.deliver(self.stripe.event("payment_intent.succeeded", intent))
        self.run_jobs()
        payment = self.bound("payment_intent", intent["id"])
        self.assertTrue(payment)
        self.assertIn(invoice.payment_state, ("in_payment", "paid"))
        return intent, payment

    def clearing_line(self, payment):
        return payment.move_id.line_ids.filtered(
            lambda line: line.account_id == self.clearing
        )

    def settle(self, pid, txns):
        """A USD payout of ``txns`` (source, amount, fee, exchange_rate)."""
        for index, (source, amount, fee, rate) in enumerate(txns):
            self.stripe.add(
                "balance_transaction",
                id=f"txn_{pid}_{index}",
                type="charge" if amount > 0 else "refund",
                reporting_category="charge" if amount > 0 else "refund",
                amount=amount,
                fee=fee,
                net=amount - fee,
                currency="usd",
                exchange_rate=rate,
                fee_details=[{"amount": fee, "currency": "usd", "type": "stripe_fee"}]
                if fee
                else [],
                source=source,
                _payout=pid,
            )
        net = sum(amount - fee for _s, amount, fee, _r in txns)
        payout = self.stripe.add(
            "payout",
            id=pid,
            amount=net,
            currency="usd",
            status="paid",
            automatic=True,
            reconciliation_status="completed",
            arrival_date=int(time.time()),
        )
        event = self.stripe.event("payout.reconciliation_completed", payout)
        self.deliver(event)
        self.run_jobs()
        message = self.message_of(event)
        self.assertEqual(message.state, "done", message.error_message)
        move = self.bound("payout", pid)
        self.assertEqual(move.state, "posted")
        return move, net

    def total(self, move, account, field="balance"):
        return sum(
            (
                dec(line[field], line.currency_id.decimal_places)
                if field == "amount_currency"
                else dec(line[field])
            )
            for line in move.line_ids
            if line.account_id == account
        )

    def test_eur_charge_settled_in_usd_books_the_fx_loss_to_the_cent(self):
        intent, payment = self.paid(100.00, 10000, self.eur)
        booked = self.clearing_line(payment)
        self.assertEqual(dec(booked.balance), Decimal("125.00"), "EUR 100 at 0.8")
        # Stripe converted at 1.2: USD 120.00, fee USD 3.78
        move, net = self.settle(
            "po_fx_loss", [(intent["latest_charge"], 12000, 378, 1.2)]
        )
        self.assertEqual(self.total(move, self.fx), Decimal("5.00"))
        self.assertEqual(self.total(move, self.fees), Decimal("3.78"))
        self.assertEqual(self.total(move, self.transit), Decimal("116.22"))
        self.assertEqual(Decimal(net).scaleb(-2), Decimal("116.22"))
        self.assertEqual(self.total(move, self.clearing), Decimal("-125.00"))
        self.assertEqual(
            self.total(move, self.clearing, "amount_currency"), Decimal("-100.00")
        )
        euro_line = move.line_ids.filtered(
            lambda line: line.account_id == self.clearing
        )
        self.assertEqual(euro_line.currency_id, self.eur)
        # the clearing account holds nothing of this payment any more, in EUR
        # and in USD
        lines = self.env["account.move.line"].search(
            [
                ("account_id", "=", self.clearing.id),
                ("move_id", "in", (move | payment.move_id).ids),
            ]
        )
        self.assertEqual(sum(dec(x.balance) for x in lines), Decimal("0.00"))
        self.assertEqual(sum(dec(x.amount_currency) for x in lines), Decimal("0.00"))
        self.assertEqual(sum(dec(x.balance) for x in move.line_ids), Decimal("0.00"))

    def test_fx_gain_and_refund_and_jpy_net_to_the_cent(self):
        eur_intent, _eur = self.paid(100.00, 10000, self.eur)
        jpy_intent, jpy = self.paid(10000, 10000, self.jpy)
        # JPY 10,000 at 150: USD 66.67 booked (whole yen, never 100x)
        self.assertEqual(dec(self.clearing_line(jpy).balance), Decimal("66.67"))
        self.assertEqual(
            dec(self.clearing_line(jpy).amount_currency, 0), Decimal("10000")
        )
        refund = self.stripe.add(
            "refund",
            id="re_fx_eur",
            amount=2000,
            currency="eur",
            charge=eur_intent["latest_charge"],
            payment_intent=eur_intent["id"],
            status="succeeded",
        )
        self.deliver(self.stripe.event("refund.created", refund))
        self.run_jobs()
        refunded = self.bound("refund", "re_fx_eur")
        self.assertEqual(dec(self.clearing_line(refunded).balance), Decimal("-25.00"))
        move, _net = self.settle(
            "po_fx_mixed",
            [
                # EUR 100 settled at 1.3: USD 130.00 for 125.00 booked (gain 5.00)
                (eur_intent["latest_charge"], 13000, 407, 1.3),
                # EUR 20 refunded at 1.3: USD 26.00 for 25.00 booked (loss 1.00)
                ("re_fx_eur", -2600, 0, 1.3),
                # JPY 10,000 at 0.0066: USD 66.00 for 66.67 booked (loss 0.67)
                (jpy_intent["latest_charge"], 6600, 230, 0.0066),
            ],
        )
        self.assertEqual(
            self.total(move, self.fx),
            Decimal("-5.00") + Decimal("1.00") + Decimal("0.67"),
        )
        self.assertEqual(self.total(move, self.fees), Decimal("6.37"))
        self.assertEqual(self.total(move, self.transit), Decimal("163.63"))
        by_currency = {}
        for line in move.line_ids.filtered(lambda x: x.account_id == self.clearing):
            by_currency[line.currency_id.name] = (
                dec(line.amount_currency, line.currency_id.decimal_places),
                dec(line.balance),
            )
        self.assertEqual(
            by_currency,
            {
                "EUR": (Decimal("-80.00"), Decimal("-100.00")),
                "JPY": (Decimal("-10000"), Decimal("-66.67")),
            },
        )
        self.assertEqual(sum(dec(x.balance) for x in move.line_ids), Decimal("0.00"))

    def test_per_currency_journal_and_clearing_account(self):
        eur_clearing = self.env["account.account"].create(
            {
                "code": "S1011",
                "name": "Stripe clearing EUR",
                "account_type": "asset_current",
                "reconcile": True,
            }
        )
        eur_journal = self.env["account.journal"].create(
            {
                "name": "Stripe EUR",
                "code": "STEU",
                "type": "bank",
                "currency_id": self.eur.id,
            }
        )
        (
            eur_journal.inbound_payment_method_line_ids
            | eur_journal.outbound_payment_method_line_ids
        ).payment_account_id = eur_clearing
        self.endpoint.write(
            {
                "stripe_currency_ids": [
                    (
                        0,
                        0,
                        {
                            "currency_id": self.eur.id,
                            "journal_id": eur_journal.id,
                            "clearing_account_id": eur_clearing.id,
                        },
                    )
                ]
            }
        )
        intent, payment = self.paid(100.00, 10000, self.eur)
        self.assertEqual(payment.journal_id, eur_journal)
        self.assertEqual(payment.outstanding_account_id, eur_clearing)
        _usd_intent, usd_payment = self.paid(10.00, 1000, self.usd)
        self.assertEqual(usd_payment.journal_id, self.journal)
        # Stripe's balance per currency against each currency's clearing account
        saved = self.stripe.balance
        self.addCleanup(setattr, self.stripe, "balance", saved)
        self.stripe.balance = {
            "object": "balance",
            "available": [{"amount": 10000, "currency": "eur"}],
            "pending": [{"amount": 1000, "currency": "usd"}],
        }
        # (in a window of Stripe time with no balance transaction in it)
        self.endpoint.stripe_balance_watermark = 1_950_000_000
        result = self.endpoint._fi_stripe_check_balance(until=1_950_000_001)
        self.assertEqual(result["EUR"]["difference"], Decimal("0.00"))
        self.assertEqual(result["USD"]["difference"], Decimal("0.00"))
        # the payout takes the EUR payment off the EUR clearing account
        move, _net = self.settle(
            "po_fx_eur", [(intent["latest_charge"], 12000, 378, 1.2)]
        )
        self.assertEqual(self.total(move, eur_clearing), Decimal("-125.00"))
        self.assertEqual(self.total(move, self.clearing), Decimal("0"))
        self.assertEqual(self.total(move, self.fx), Decimal("5.00"))
