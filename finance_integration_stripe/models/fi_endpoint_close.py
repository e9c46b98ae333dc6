# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Period close and finance KPIs of a Stripe endpoint (core's
``_fi_close_blockers`` and ``_fi_kpis`` hooks): read only, as superuser."""

from odoo import _, fields, models

from ..lib.money import format_totals

OPEN_CASE_STATES = ("new", "in_progress")
PENDING_WRITEOFF_STATES = ("proposed", "first_approved")


class FiEndpoint(models.Model):
    _inherit = "fi.endpoint"

    def _fi_stripe_period(self, field, date_from, date_to):
        """``field`` in the period, dates as text (the readiness line stores
        the domain as text for the web client)."""
        domain = [(field, "<=", fields.Date.to_string(date_to))]
        if date_from:
            domain.insert(0, (field, ">=", fields.Date.to_string(date_from)))
        return domain

    def _fi_close_blockers(self, date_from, date_to):
        if self.provider != "stripe":
            return super()._fi_close_blockers(date_from, date_to)
        self.ensure_one()
        env = self.sudo().env
        mine = [("endpoint_id", "=", self.id)]
        arrival = self._fi_stripe_period("arrival_date", date_from, date_to)
        candidates = [
            (
                "stripe_unsettled_payouts",
                _("Stripe payouts paid but not settled in Odoo"),
                True,
                "fi.stripe.payout",
                mine
                + arrival
                + [("stripe_status", "=", "paid"), ("state", "=", "received")],
            ),
            (
                "stripe_payout_variances",
                _("Stripe payouts with a settlement variance not booked"),
                True,
                "fi.stripe.payout",
                mine + arrival + [("state", "=", "variance")],
            ),
        ]
        for code, name, kind in (
            (
                "stripe_pending_writeoffs",
                _("Stripe dispute write-offs waiting for approval"),
                [("fi_stripe_writeoff_kind", "!=", "uncollectible")],
            ),
            (
                "stripe_pending_bad_debts",
                _("Write-offs of uncollectible Stripe invoices waiting for approval"),
                [("fi_stripe_writeoff_kind", "=", "uncollectible")],
            ),
        ):
            candidates.append(
                (
                    code,
                    name,
                    True,
                    "account.move",
                    [
                        ("fi_stripe_endpoint_id", "=", self.id),
                        ("fi_stripe_writeoff_state", "in", PENDING_WRITEOFF_STATES),
                        ("state", "=", "draft"),
                    ]
                    + kind
                    + self._fi_stripe_period("date", date_from, date_to),
                )
            )
        days = env["fi.binding"].search(
            mine
            + [
                ("external_type", "=", "reconciliation"),
                ("res_model", "=", "fi.exception"),
                ("external_id", "<=", date_to.isoformat()),
            ]
            + ([("external_id", ">=", date_from.isoformat())] if date_from else [])
        )
        cases = env["fi.exception"].search(
            [
                ("id", "in", days.mapped("res_id")),
                ("state", "in", OPEN_CASE_STATES),
            ]
        )
        candidates.append(
            (
                "stripe_reconciliation_differences",
                _("Stripe days with open reconciliation differences"),
                True,
                "fi.exception",
                [("id", "in", cases.ids)],
            )
        )
        clearing = [
            ("account_id", "in", self._fi_stripe_clearing_accounts().ids),
            ("company_id", "=", self.company_id.id),
            ("reconciled", "=", False),
            ("payment_id", "!=", False),
        ] + self._fi_stripe_period("date", date_from, date_to)
        candidates += [
            (
                "stripe_clearing_draft",
                _("Stripe payments of the period on the clearing account, in draft"),
                True,
                "account.move.line",
                clearing + [("parent_state", "=", "draft")],
            ),
            (
                "stripe_clearing_open",
                _("Stripe payments of the period still on the clearing account"),
                False,
                "account.move.line",
                clearing + [("parent_state", "=", "posted")],
            ),
        ]
        return self.env["fi.close.readiness"]._fi_count_blockers(
            (model, domain, code, name, blocking)
            for code, name, blocking, model, domain in candidates
        )

    def _fi_kpis(self, date_from, date_to):
        if self.provider != "stripe":
            return super()._fi_kpis(date_from, date_to)
        self.ensure_one()
        Payout = self.env["fi.stripe.payout"].sudo()
        Payout.flush_model()
        self.env["res.currency"].flush_model(["name"])
        self.env.cr.execute(
            """
            SELECT lower(c.name), sum(p.variance_minor) FILTER
                       (WHERE p.state IN ('settled', 'variance')),
                   count(*) FILTER (WHERE p.state = 'settled'),
                   count(*) FILTER (WHERE p.state <> 'failed'),
                   sum(p.fx_difference_minor) FILTER (WHERE p.state = 'settled')
              FROM fi_stripe_payout p
              JOIN res_currency c ON c.id = p.currency_id
             WHERE p.endpoint_id = %s AND p.arrival_date <= %s
               AND (%s::date IS NULL OR p.arrival_date >= %s::date)
             GROUP BY 1
            """,
            (self.id, date_to, date_from, date_from),
        )
        variances, fx_total, settled, received = {}, 0, 0, 0
        for code, variance, n_settled, n_received, fx in self.env.cr.fetchall():
            variances[code] = int(variance or 0)
            settled += n_settled
            received += n_received
            fx_total += int(fx or 0)
        company_code = self.company_id.currency_id.name
        return [
            {
                "code": "stripe_settlement_variance",
                "name": _("Settlement variance of the payouts"),
                "value": format_totals(variances, company_code),
            },
            {
                "code": "stripe_payouts_settled",
                "name": _("Payouts settled / received"),
                "value": f"{settled} / {received}",
            },
            {
                "code": "stripe_fx_difference",
                "name": _("FX difference (booked vs settled)"),
                "value": format_totals({company_code: fx_total}),
            },
        ]
