# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The daily reconciliation register: per endpoint, day and currency, what
Stripe billed, collected and refunded against what Odoo booked, and how many
objects differ. Written by each reconciliation of a day (a run again replaces
that day's rows); finance reads it in Operations, differences first."""

from odoo import api, fields, models

from ..lib.money import minor_to_decimal

#: kind of Stripe object (reconciliation key) -> the register's column prefix
KIND_COLUMNS = {"invoice": "billed", "payment_intent": "paid", "refund": "refunded"}


class FiStripeReconciliation(models.Model):
    _name = "fi.stripe.reconciliation"
    _description = "Stripe Daily Reconciliation"
    _order = "day desc, endpoint_id, currency_id"
    _rec_name = "day"

    endpoint_id = fields.Many2one(
        "fi.endpoint", required=True, readonly=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one("res.company", required=True, readonly=True)
    day = fields.Date(
        required=True, readonly=True, index=True, help="In the company's time zone."
    )
    currency_id = fields.Many2one("res.currency", required=True, readonly=True)
    billed_stripe = fields.Monetary(
        "Billed in Stripe", readonly=True, help="Stripe invoices finalized that day."
    )
    billed_odoo = fields.Monetary(
        "Invoiced in Odoo", readonly=True, help="Their Odoo invoices, posted."
    )
    paid_stripe = fields.Monetary(
        "Paid in Stripe", readonly=True, help="Charges captured that day."
    )
    paid_odoo = fields.Monetary(
        "Payments in Odoo", readonly=True, help="Their Odoo payments, posted."
    )
    refunded_stripe = fields.Monetary(
        "Refunded in Stripe", readonly=True, help="Refunds of that day."
    )
    refunded_odoo = fields.Monetary(
        "Refunds in Odoo", readonly=True, help="Their Odoo refund payments."
    )
    difference_count = fields.Integer(
        "Differences",
        readonly=True,
        help="Objects of that currency missing on one side or of another amount.",
    )
    state = fields.Selection(
        [("matched", "Matched"), ("different", "Different")],
        required=True,
        readonly=True,
        index=True,
    )
    exception_id = fields.Many2one(
        "fi.exception",
        "Exception",
        readonly=True,
        help="The day's reconciliation exception, listing every difference.",
    )

    _sql_constraints = [
        (
            "day_unique",
            "UNIQUE(endpoint_id, day, currency_id)",
            "A day is registered once per endpoint and currency.",
        ),
    ]

    @api.model
    def _fi_record_day(self, endpoint, day, result, case):
        """Replace the rows of ``day`` of ``endpoint`` with ``result``
        (``lib.reconcile.compare``); ``case`` is the day's exception, if
        any. Returns the rows."""
        rows = self.sudo()
        rows.search([("endpoint_id", "=", endpoint.id), ("day", "=", day)]).unlink()
        differences = {}
        for entry in (
            result.missing_in_odoo + result.missing_in_stripe + result.different
        ):
            differences[entry[1]] = differences.get(entry[1], 0) + 1
        currencies = self.env["res.currency"].with_context(active_test=False)
        values = []
        for code, kinds in result.totals.items():
            row = {
                "endpoint_id": endpoint.id,
                "company_id": endpoint.company_id.id,
                "day": day,
                "currency_id": currencies.search(
                    [("name", "=", code.upper())], limit=1
                ).id,
                "difference_count": differences.get(code, 0),
                "state": "different" if differences.get(code) else "matched",
                "exception_id": case.id if case and differences.get(code) else False,
            }
            for kind, sides in kinds.items():
                column = KIND_COLUMNS[kind]
                sign = -1 if kind == "refund" else 1
                for side, amount in sides.items():
                    # Odoo's monetary fields are floats: assigned, never summed here
                    row[f"{column}_{side}"] = float(
                        minor_to_decimal(sign * amount, code)
                    )
            values.append(row)
        return rows.create(values)
