# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models


class AccountMove(models.Model):
    _inherit = "account.move"

    fi_correlation_id = fields.Char(
        "Integration Correlation ID",
        copy=False,
        readonly=True,
        index="btree_not_null",
        help="Correlation id of the integration message that created this entry.",
    )
    fi_stripe_hold = fields.Char(
        "Fraud Hold",
        readonly=True,
        copy=False,
        help="Set while a Stripe review or early fraud warning is open on its payment.",
    )


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    fi_stripe_ref = fields.Char(
        "Stripe Reference",
        copy=False,
        readonly=True,
        index="btree_not_null",
        help="Stripe object of a settlement line (the payout id on the transit "
        "line: what the bank statement line is matched by).",
    )


class AccountPayment(models.Model):
    _inherit = "account.payment"

    fi_correlation_id = fields.Char(
        "Integration Correlation ID",
        copy=False,
        readonly=True,
        index="btree_not_null",
    )
    fi_stripe_hold = fields.Char("Fraud Hold", readonly=True, copy=False)
