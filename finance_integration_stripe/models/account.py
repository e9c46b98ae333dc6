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

    def _reconcile_plan(self, reconciliation_plan):
        """Every reconciliation, whoever makes it (a payment registered by
        hand, the bank reconciliation, the reconcile wizard): a customer
        invoice it pays off withdraws its pending uncollectible write-off at
        once, with the reason. The connector's own payments withdraw theirs
        themselves, naming the message that paid (``fi_stripe_writeoff_deferred``)."""
        result = super()._reconcile_plan(reconciliation_plan)
        if not self.env.context.get("fi_stripe_writeoff_deferred"):
            invoices = _plan_lines(self.browse(), reconciliation_plan).move_id.filtered(
                lambda move: move.move_type == "out_invoice"
            )
            if invoices:
                invoices._fi_stripe_withdraw_paid_writeoffs()
        return result


def _plan_lines(lines, plan):
    """The move lines of a reconciliation plan (lists of lines or of plans)."""
    for item in plan:
        if isinstance(item, models.BaseModel):
            lines |= item
        else:
            lines = _plan_lines(lines, item)
    return lines


class AccountPayment(models.Model):
    _inherit = "account.payment"

    fi_correlation_id = fields.Char(
        "Integration Correlation ID",
        copy=False,
        readonly=True,
        index="btree_not_null",
    )
    fi_stripe_hold = fields.Char("Fraud Hold", readonly=True, copy=False)
