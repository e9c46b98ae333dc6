# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""First-run backfill: the opening balance of the clearing account (Stripe's
balance at the cut-over, per currency), listed by the dry run, booked once."""

import time
from datetime import UTC, datetime

from odoo import Command
from odoo.tests import HttpCase, tagged

from odoo.addons.finance_integration_core.tests.common import browser_js_screenshot

from .common import StripeCommon

DAY = 86400


@tagged("post_install", "-at_install")
class TestStripeBackfillOpening(StripeCommon):
    def setUp(self):
        super().setUp()
        now = int(time.time())
        self.cutover = now - 10 * DAY
        self.stripe.balance = {
            "object": "balance",
            "livemode": False,
            "available": [
                {"amount": 150000, "currency": "usd", "source_types": {"card": 150000}},
                {"amount": 5000, "currency": "jpy", "source_types": {"card": 5000}},
            ],
            "pending": [
                {"amount": 25000, "currency": "usd", "source_types": {"card": 25000}},
                {"amount": 12340, "currency": "kwd", "source_types": {"card": 12340}},
            ],
            "connect_reserved": [{"amount": 0, "currency": "usd"}],
        }
        # since the cut-over: a charge (net 28.83) and a payout (-100.00) moved
        # the USD balance; before it, a charge that is part of the opening
        for tid, net, created in (
            ("txn_ob_charge", 2883, self.cutover + DAY),
            ("txn_ob_payout", -10000, self.cutover + 2 * DAY),
        ):
            self.stripe.add(
                "balance_transaction",
                id=tid,
                amount=net,
                fee=0,
                net=net,
                currency="usd",
                created=created,
                fee_details=[],
            )
        # a charge before the cut-over (net 70.00 of 73.00), paid out after it
        self.stripe.add(
            "balance_transaction",
            id="txn_ob_before",
            type="charge",
            reporting_category="charge",
            amount=7300,
            fee=300,
            net=7000,
            currency="usd",
            created=self.cutover - DAY,
            fee_details=[{"amount": 300, "currency": "usd", "type": "stripe_fee"}],
            _payout="po_ob",
        )
        self.events = self.record_audit()

    def openings(self):
        return self.env["account.move"].search(
            [("ref", "like", "Stripe opening balance%"), ("state", "=", "posted")]
        )

    def on_account(self, account, currency):
        lines = self.env["account.move.line"].search(
            [
                ("account_id", "=", account.id),
                ("currency_id", "=", currency.id),
                ("parent_state", "=", "posted"),
                ("move_id.ref", "like", "Stripe opening balance%"),
            ]
        )
        return round(sum(lines.mapped("amount_currency")), currency.decimal_places)

    def wizard(self, dry_run):
        wizard = self.env["fi.stripe.backfill"].create(
            {
                "endpoint_id": self.endpoint.id,
                "since": datetime.fromtimestamp(self.cutover, UTC).replace(tzinfo=None),
                "dry_run": dry_run,
            }
        )
        wizard.action_run()
        return wizard

    def test_dry_run_lists_the_opening_balance_per_currency_and_books_nothing(self):
        wizard = self.wizard(dry_run=True)
        # USD: 1,500.00 + 250.00 now, less 28.83 - 100.00 moved since
        self.assertIn(
            "Opening balance USD at the cut-over: 1821.17 (Stripe now 1750.00, "
            "moved since -71.17): would be booked",
            wizard.result,
        )
        self.assertIn("Opening balance JPY at the cut-over: 5000 ", wizard.result)
        self.assertIn("Opening balance KWD at the cut-over: 12.340 ", wizard.result)
        self.assertFalse(self.openings())
        self.assertFalse(self.bound("opening_balance", "USD"))
        self.assertNotIn("stripe.opening_balance", [t for t, _kw in self.events])

    def test_real_run_books_one_opening_entry_per_currency_exactly_once(self):
        report = self.endpoint._fi_stripe_backfill(self.cutover, opening=True)
        moves = self.openings()
        self.assertEqual(len(moves), 3)
        self.assertEqual(
            {row["currency"]: str(row["amount"]) for row in report["opening"]},
            {"USD": "1821.17", "JPY": "5000", "KWD": "12.340"},
        )
        self.assertEqual(self.on_account(self.clearing, self.usd), 1821.17)
        self.assertEqual(self.on_account(self.opening, self.usd), -1821.17)
        self.assertEqual(self.on_account(self.clearing, self.jpy), 5000)
        self.assertEqual(self.on_account(self.clearing, self.kwd), 12.340)
        self.assertEqual(
            self.bound("opening_balance", "JPY").line_ids.currency_id, self.jpy
        )
        self.assertEqual(
            set(moves.mapped("date")),
            {datetime.fromtimestamp(self.cutover, UTC).date()},
        )
        booked = [kw for t, kw in self.events if t == "stripe.opening_balance"]
        self.assertEqual(
            sorted(kw["facts"]["currency"] for kw in booked), ["JPY", "KWD", "USD"]
        )
        self.assertEqual(
            {kw["correlation_id"] for kw in booked},
            set(moves.mapped("fi_correlation_id")),
        )
        # re-running (the wizard, the API, another cut-over) never books again
        wizard = self.wizard(dry_run=False)
        self.assertIn(
            f"booked in {self.bound('opening_balance', 'USD').name}", wizard.result
        )
        self.endpoint._fi_stripe_backfill(self.cutover - DAY, opening=True)
        self.assertEqual(self.openings(), moves)
        self.assertEqual(self.on_account(self.clearing, self.usd), 1821.17)
        self.assertEqual(self.endpoint.stripe_opening_cutover, self.cutover)

    def test_payout_after_the_cut_over_moves_the_net_of_earlier_transactions(self):
        self.endpoint._fi_stripe_backfill(self.cutover, opening=True)
        fees_before = self.balance(self.fees)
        clearing_before = self.balance(self.clearing)
        payout = self.stripe.add(
            "payout",
            id="po_ob",
            amount=7000,
            currency="usd",
            status="paid",
            automatic=True,
            reconciliation_status="completed",
            created=self.cutover + 3 * DAY,
            arrival_date=self.cutover + 3 * DAY,
        )
        event = self.stripe.event("payout.reconciliation_completed", payout)
        self.deliver(event)
        self.run_jobs()
        self.assertEqual(self.message_of(event).state, "done")
        self.assertEqual(self.bound("payout", "po_ob").state, "posted")
        # its fee is in the opening balance already (Stripe's balance is net)
        self.assertAlmostEqual(self.balance(self.clearing) - clearing_before, -70.00)
        self.assertAlmostEqual(self.balance(self.fees) - fees_before, 0.0)
        self.assertAlmostEqual(self.balance(self.transit), 70.00)

    def balance(self, account):
        lines = self.env["account.move.line"].search(
            [("account_id", "=", account.id), ("parent_state", "=", "posted")]
        )
        return round(sum(lines.mapped("balance")), 2)


@tagged("post_install", "-at_install")
class TestStripeBackfillPayouts(StripeCommon):
    """Payouts settled before the payout register existed: the backfill (and
    the catch-up by objects) lists them and adds the missing rows."""

    def setUp(self):
        super().setUp()
        now = int(time.time())
        self.cutover = now - 40 * DAY
        self.events = self.record_audit()
        # settled by an earlier version: an entry carrying the payout id on
        # its transit line, no binding, no register row
        self.legacy = self.env["account.move"].create(
            {
                "move_type": "entry",
                "journal_id": self.misc.id,
                "ref": "po_reg_settled",
                "line_ids": [
                    Command.create(
                        {
                            "account_id": self.transit.id,
                            "name": "Stripe payout po_reg_settled",
                            "balance": 50.0,
                            "fi_stripe_ref": "po_reg_settled",
                        }
                    ),
                    Command.create(
                        {
                            "account_id": self.fx.id,
                            "name": "Stripe payout po_reg_settled: FX difference",
                            "balance": 0.37,
                        }
                    ),
                    Command.create(
                        {
                            "account_id": self.clearing.id,
                            "name": "Stripe payout po_reg_settled: balance",
                            "balance": -50.37,
                        }
                    ),
                ],
            }
        )
        self.legacy.action_post()
        for pid, status, reconciliation, amount in (
            ("po_reg_settled", "paid", "completed", 5000),
            ("po_reg_failed", "failed", "not_applicable", 1200),
            ("po_reg_transit", "in_transit", "in_progress", 3300),
        ):
            self.stripe.add(
                "payout",
                id=pid,
                amount=amount,
                currency="usd",
                status=status,
                automatic=True,
                reconciliation_status=reconciliation,
                created=self.cutover + DAY,
                arrival_date=self.cutover + 2 * DAY,
            )
        # before the cut-over: not listed
        self.stripe.add(
            "payout",
            id="po_reg_old",
            amount=100,
            currency="usd",
            status="paid",
            automatic=True,
            reconciliation_status="completed",
            created=self.cutover - DAY,
        )

    def rows(self):
        return self.env["fi.stripe.payout"].search(
            [("endpoint_id", "=", self.endpoint.id)]
        )

    def settlements(self, pid):
        return self.env["account.move.line"].search_count(
            [("fi_stripe_ref", "=", pid), ("account_id", "=", self.transit.id)]
        )

    def test_register_shows_amounts_in_their_currency_never_100x(self):
        shown = {}
        for pid, currency, minor in (
            ("po_show_usd", self.usd, 94100),
            ("po_show_jpy", self.jpy, 5000),
            ("po_show_kwd", self.kwd, 1234),
        ):
            row = self.env["fi.stripe.payout"]._fi_note(
                self.endpoint,
                pid,
                {"currency_id": currency.id, "amount_minor": minor},
            )
            shown[currency.name] = row.amount
        self.assertEqual(shown, {"USD": 941.0, "JPY": 5000.0, "KWD": 1.234})

    def test_dry_run_lists_the_payouts_the_register_lacks_and_stores_nothing(self):
        report = self.endpoint._fi_stripe_backfill(self.cutover, dry_run=True)
        self.assertEqual(
            report["registered"],
            {
                "po_reg_settled": "settled",
                "po_reg_failed": "failed",
                "po_reg_transit": "received",
            },
        )
        self.assertNotIn(
            "po_reg_settled", report["examples"]["payout"], "settled already"
        )
        self.assertFalse(self.rows())
        self.assertFalse(self.bound("payout", "po_reg_settled"))

    def test_backfill_registers_missing_payouts_once_without_a_second_settlement(
        self,
    ):
        report = self.endpoint._fi_stripe_backfill(self.cutover)
        self.assertEqual(len(report["registered"]), 3)
        rows = {row.name: row for row in self.rows()}
        self.assertEqual(
            {name: row.state for name, row in rows.items()},
            {
                "po_reg_settled": "settled",
                "po_reg_failed": "failed",
                "po_reg_transit": "received",
            },
        )
        settled = rows["po_reg_settled"]
        self.assertEqual(settled.move_id, self.legacy)
        self.assertEqual((settled.amount_minor, settled.variance_minor), (5000, 0))
        self.assertEqual((settled.amount, settled.variance), (50.0, 0.0))
        self.assertEqual(settled.fx_difference, 0.37)
        # the FX difference its entry booked (KPIs sum it)
        self.assertEqual(settled.fx_difference_minor, 37)
        self.assertEqual(settled.stripe_status, "paid")
        self.assertEqual(rows["po_reg_failed"].stripe_status, "failed")
        self.assertEqual(self.bound("payout", "po_reg_settled"), self.legacy)
        self.assertEqual(
            sorted(
                kw["facts"]["payout"]
                for t, kw in self.events
                if t == "stripe.payout_registered"
            ),
            ["po_reg_failed", "po_reg_settled", "po_reg_transit"],
        )
        # the payouts' events, fed by the same run, settle nothing again
        self.run_jobs()
        self.assertEqual(self.settlements("po_reg_settled"), 1)
        self.assertEqual(self.settlements("po_reg_transit"), 0)
        self.assertEqual(rows["po_reg_settled"].state, "settled")
        self.assertEqual(rows["po_reg_failed"].state, "failed")
        # again (the catch-up by objects runs the same listing): nothing new
        report = self.endpoint._fi_stripe_backfill(self.cutover)
        self.assertEqual(report["registered"], {})
        self.run_jobs()
        self.assertEqual(len(self.rows()), 3)
        self.assertEqual(self.settlements("po_reg_settled"), 1)

    def test_catch_up_by_objects_registers_the_missing_payouts(self):
        # the last event seen is older than /v1/events keeps: objects listed
        self.endpoint.sudo().stripe_last_event_created = self.cutover
        self.endpoint._fi_stripe_catch_up()
        self.assertEqual(
            sorted(self.rows().mapped("name")),
            ["po_reg_failed", "po_reg_settled", "po_reg_transit"],
        )
        self.run_jobs()
        self.assertEqual(self.settlements("po_reg_settled"), 1)


@tagged("post_install", "-at_install")
class TestStripePayoutList(HttpCase):
    def test_payout_list_shows_amounts_in_their_currency(self):
        endpoint = self.env["fi.endpoint"].create(
            {"name": "Stripe payout list endpoint", "provider": "stripe"}
        )
        payouts = self.env["fi.stripe.payout"]
        payouts.search([]).unlink()  # the demo's payout, when there is one
        for pid, code, minor, variance in (
            ("po_list_usd", "base.USD", 94100, -710),
            ("po_list_jpy", "base.JPY", 5000, 0),
        ):
            currency = self.env.ref(code)
            currency.active = True
            payouts._fi_note(
                endpoint,
                pid,
                {
                    "currency_id": currency.id,
                    "amount_minor": minor,
                    "variance_minor": variance,
                    "state": "variance" if variance else "received",
                },
            )
        action = self.env.ref("finance_integration_stripe.fi_stripe_payout_action")
        code = """
            const rows = [...document.querySelectorAll(".o_list_view .o_data_row")]
                .map((row) => row.innerText);
            const usd = rows.find((text) => text.includes("po_list_usd")) || "";
            const jpy = rows.find((text) => text.includes("po_list_jpy")) || "";
            if (!usd.includes("941.00") || !usd.includes("-7.10")) {
                throw new Error("USD payout not in dollars: " + usd);
            }
            if (!jpy.includes("5,000") || jpy.includes("50.00")) {
                throw new Error("JPY payout not in whole yen: " + jpy);
            }
            console.log("test successful");
        """
        browser_js_screenshot(
            self,
            "fi_stripe_payouts_",
            f"/odoo/action-{action.id}",
            code,
            ready='!!document.querySelector(".o_list_view .o_data_row")',
        )
