# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Period close and finance KPIs of a Stripe endpoint: unsettled payouts,
variances, pending dispute write-offs, reconciliation differences and the
clearing account block (or warn) the close; the KPIs are exact."""

import time
from datetime import UTC, datetime, timedelta

from odoo.tests import tagged
from odoo.tools.safe_eval import safe_eval

from . import test_fx, test_refunds_payouts
from .common import WHSEC, StripeCommon

DAY = 86400


@tagged("post_install", "-at_install")
class TestStripeCloseAndKpis(StripeCommon):
    def setUp(self):
        super().setUp()
        self.company.partner_id.tz = "UTC"
        self.now = int(time.time())
        self.today = datetime.fromtimestamp(self.now, UTC).date()
        self.old = self.now - 40 * DAY
        self.old_day = datetime.fromtimestamp(self.old, UTC).date()
        # the approver works in accounting
        self.manager_b.groups_id += self.env.ref("account.group_account_manager")

    # -- helpers (the payout and FX fixtures of the addon's other tests) ----
    def payout(self, pid, amount, *, event="payout.reconciliation_completed", **kw):
        kw.setdefault("arrival_date", self.now)
        kw.setdefault("txns", [("charge", "charge", 10000, 290)])
        payout = test_refunds_payouts.TestStripeRefundsPayouts.payout(
            self, pid, amount, **kw
        )
        self.deliver(self.stripe.event(event, payout))
        self.run_jobs()
        return self.env["fi.stripe.payout"].search([("name", "=", pid)])

    def waiting(self, pid, **kw):
        """Paid at Stripe, whose reconciliation Stripe has not completed."""
        kw.setdefault("status", "paid")
        return self.payout(
            pid, 9710, event="payout.paid", reconciliation_status="in_progress", **kw
        )

    def charge(self, amount, minor, pid, created):
        """A charge of ``created`` (Unix time) Odoo has not received."""
        intent = self.intent(self.invoice(amount), minor, id=pid)
        self.stripe.objects[intent["latest_charge"]]["created"] = created
        return intent

    def paid(self, amount, minor, pid):
        intent = self.charge(amount, minor, pid, self.now)
        self.deliver(self.stripe.event("payment_intent.succeeded", intent))
        self.run_jobs()
        payment = self.bound("payment_intent", pid)
        self.assertTrue(payment)
        return intent, payment

    def blockers(self, date_from=None, date_to=None):
        found = self.endpoint._fi_close_blockers(
            date_from or self.today - timedelta(days=5), date_to or self.today
        )
        return {blocker["code"]: blocker for blocker in found}

    def listed(self, blocker):
        return self.env[blocker["res_model"]].search(blocker["domain"])

    # -- close blockers -------------------------------------------------------
    def test_blockers_count_and_list_exactly_what_is_not_settled_in_the_period(self):
        settled = self.payout("po_cl_ok", 9710)
        variance = self.payout("po_cl_var", 9000)
        waiting = self.waiting("po_cl_wait")
        in_transit = self.waiting("po_cl_transit", status="in_transit")
        old = self.waiting("po_cl_old", arrival_date=self.old)
        self.assertEqual(
            (settled + variance + waiting + in_transit + old).mapped("state"),
            ["settled", "variance", "received", "received", "received"],
        )
        # a lost dispute: its write-off waits for approval
        intent, payment = self.paid(30.00, 3000, "pi_cl_dispute")
        dispute = self.stripe.add(
            "dispute",
            id="dp_cl",
            amount=3000,
            currency="usd",
            charge=intent["latest_charge"],
            payment_intent=intent["id"],
            status="lost",
            balance_transactions=[
                {
                    "id": "txn_dp_cl",
                    "object": "balance_transaction",
                    "amount": -3000,
                    "fee": 1500,
                    "net": -4500,
                    "currency": "usd",
                    "created": self.now,
                    "type": "adjustment",
                    "reporting_category": "dispute",
                    "fee_details": [
                        {"amount": 1500, "currency": "usd", "type": "stripe_fee"}
                    ],
                }
            ],
            evidence_details={"due_by": self.now + 7 * DAY},
        )
        self.deliver(self.stripe.event("charge.dispute.closed", dispute))
        self.run_jobs()
        writeoff = self.bound("dispute_writeoff", "dp_cl")
        self.assertEqual(writeoff.fi_stripe_writeoff_state, "proposed")
        # daily reconciliation: a charge of today Odoo never got; another
        # difference on a day before the period
        self.charge(20.00, 2000, "pi_cl_missing", self.now)
        self.charge(30.00, 3000, "pi_cl_old_missing", self.old)
        today_case = self.endpoint._fi_stripe_reconcile_day(self.today)["exception"]
        old_case = self.endpoint._fi_stripe_reconcile_day(self.old_day)["exception"]
        self.assertTrue(today_case and old_case and today_case != old_case)
        _other, other_payment = self.paid(5.00, 500, "pi_cl_other")

        found = self.blockers()
        self.assertEqual(
            {code: (b["count"], b["blocking"]) for code, b in found.items()},
            {
                "stripe_unsettled_payouts": (1, True),
                "stripe_payout_variances": (1, True),
                "stripe_pending_writeoffs": (1, True),
                "stripe_reconciliation_differences": (1, True),
                "stripe_clearing_open": (2, False),
            },
        )
        self.assertEqual(self.listed(found["stripe_unsettled_payouts"]), waiting)
        self.assertEqual(self.listed(found["stripe_payout_variances"]), variance)
        self.assertEqual(self.listed(found["stripe_pending_writeoffs"]), writeoff)
        self.assertEqual(
            self.listed(found["stripe_reconciliation_differences"]), today_case
        )
        self.assertEqual(
            self.listed(found["stripe_clearing_open"]).payment_id,
            payment | other_payment,
        )
        # since the beginning: the old waiting payout and the old day count too
        everything = self.endpoint._fi_close_blockers(None, self.today)
        everything = {b["code"]: b for b in everything}
        self.assertEqual(
            self.listed(everything["stripe_unsettled_payouts"]), waiting | old
        )
        self.assertEqual(
            self.listed(everything["stripe_reconciliation_differences"]),
            today_case | old_case,
        )
        # approving the write-off and settling the variance clear their lines
        writeoff.with_user(self.manager_b).action_fi_stripe_approve_writeoff()
        self.assertEqual(writeoff.state, "posted")
        self.stripe.objects["po_cl_var"]["amount"] = 9710
        variance.fi_message_id.with_user(self.manager_b).action_retry()
        self.run_jobs()
        variance.invalidate_recordset()
        self.assertEqual(variance.state, "settled")
        found = self.blockers()
        self.assertNotIn("stripe_pending_writeoffs", found)
        self.assertNotIn("stripe_payout_variances", found)

    def test_a_settled_period_has_no_blocking_line(self):
        self.paid(10.00, 1000, "pi_cl_settled")
        row = self.payout("po_cl_settled", 9710)
        self.assertEqual(row.state, "settled")
        self.assertEqual(row.move_id, self.bound("payout", "po_cl_settled"))
        self.endpoint._fi_stripe_reconcile_day(self.today)
        found = self.blockers()
        self.assertFalse([code for code, b in found.items() if b["blocking"]], found)
        self.assertEqual(found["stripe_clearing_open"]["count"], 1)
        # another provider's endpoint answers through core's default
        generic = self.env["fi.endpoint"].create(
            {"name": "Generic", "provider": "generic_hmac", "webhook_secret": WHSEC}
        )
        self.assertEqual(generic._fi_close_blockers(None, self.today), [])
        self.assertEqual(generic._fi_kpis(self.today, self.today), [])

    def test_close_readiness_shows_the_stripe_blocker(self):
        waiting = self.waiting("po_cl_ready")
        readiness = self.env["fi.close.readiness"].create(
            {
                "company_id": self.company.id,
                "date_from": self.today - timedelta(days=5),
                "date_to": self.today,
            }
        )
        readiness.action_check()
        self.assertEqual(readiness.state, "blocked")
        line = readiness.line_ids.filtered(
            lambda line: line.code == "stripe_unsettled_payouts"
        )
        self.assertEqual((line.count, line.blocking), (1, True))
        self.assertEqual(line.endpoint_id, self.endpoint)
        action = line.action_open()
        self.assertEqual(action["res_model"], "fi.stripe.payout")
        self.assertEqual(
            self.env["fi.stripe.payout"].search(safe_eval(action["domain"])),
            waiting,
        )

    # -- KPIs ---------------------------------------------------------------
    def test_kpis_sum_variances_per_currency_count_settled_and_fx_exactly(self):
        if self.company.currency_id != self.usd:
            self.skipTest("the FX figures are written for a USD company")
        self.env["res.currency.rate"].create(
            {
                "name": self.today,
                "currency_id": self.eur.id,
                "rate": 0.8,
                "company_id": self.company.id,
            }
        )
        self.payout("po_k_ok", 9710)
        self.payout("po_k_usd", 9000)  # -7.10 USD
        self.payout(
            "po_k_eur", 5000, currency="eur", txns=[("charge", "charge", 5100, 50)]
        )
        self.waiting("po_k_wait")
        self.payout("po_k_old", 9600, arrival_date=self.old)  # outside the period
        fx = test_fx.TestStripeFx
        intent, _payment = fx.paid(self, 100.00, 10000, self.eur)
        # EUR 100 booked at 125.00 USD, Stripe converted at 1.2: 5.00 USD FX loss
        fx.settle(self, "po_k_fx", [(intent["latest_charge"], 12000, 378, 1.2)])
        self.assertEqual(
            self.env["fi.stripe.payout"]
            .search([("name", "=", "po_k_fx")])
            .fx_difference_minor,
            500,
        )
        kpis = self.endpoint._fi_kpis(self.today - timedelta(days=5), self.today)
        self.assertEqual(
            {kpi["code"]: kpi["value"] for kpi in kpis},
            {
                "stripe_settlement_variance": "-0.50 EUR, -7.10 USD",
                "stripe_payouts_settled": "2 / 5",
                "stripe_fx_difference": "5.00 USD",
            },
        )
        # the finance KPIs per company show them (last 30 days)
        row = self.env["fi.finance.kpi.company"].search(
            [("company_id", "=", self.company.id)]
        )
        self.assertIn("Payouts settled / received 2 / 5", row.connector_kpis)
        # a period without payouts shows zero
        empty = self.endpoint._fi_kpis(
            self.today - timedelta(days=100), self.today - timedelta(days=90)
        )
        self.assertEqual(
            [kpi["value"] for kpi in empty], ["0.00 USD", "0 / 0", "0.00 USD"]
        )
