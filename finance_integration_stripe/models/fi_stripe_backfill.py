# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import _, fields, models
from odoo.exceptions import UserError

from odoo.addons.finance_integration_core.lib.errors import (
    FiBusinessError,
    FiTransientError,
)

from ..lib.money import minor_to_decimal


class FiStripeBackfill(models.TransientModel):
    """First-run backfill or catch-up beyond 30 days: list the Stripe objects
    created since a date and feed them through intake, or, as a dry run, say
    what that would create."""

    _name = "fi.stripe.backfill"
    _description = "Stripe Backfill"

    endpoint_id = fields.Many2one(
        "fi.endpoint",
        required=True,
        domain=[("provider", "=", "stripe")],
        ondelete="cascade",
    )
    since = fields.Datetime(
        "Created Since",
        required=True,
        help="Cut-over date: Stripe objects created from then on are listed.",
    )
    dry_run = fields.Boolean(
        default=True, help="List what would be created; store nothing."
    )
    opening = fields.Boolean(
        "Opening Balance",
        default=True,
        help="First run: book Stripe's balance at the cut-over (available + "
        "pending, per currency) on the clearing account against the opening "
        "balance account, once per currency (a re-run books nothing again).",
    )
    result = fields.Text(readonly=True)

    def action_run(self):
        self.ensure_one()
        try:
            report = self.endpoint_id._fi_stripe_backfill(
                int(self.since.timestamp()), dry_run=self.dry_run, opening=self.opening
            )
        except (FiBusinessError, FiTransientError) as err:
            raise UserError(
                _(
                    "Stripe backfill of %(ep)s: %(err)s",
                    ep=self.endpoint_id.name,
                    err=err,
                )
            ) from None
        lines = []
        for row in report["opening"]:
            if row["move"]:
                state = _("booked in %s", row["move"].name)
            elif not row["minor"]:
                state = _("nothing to book")
            elif self.dry_run:
                state = _("would be booked")
            else:
                state = _("not booked")
            lines.append(
                _(
                    "Opening balance %(cur)s at the cut-over: %(amount)s (Stripe "
                    "now %(now)s, moved since %(moved)s): %(state)s",
                    cur=row["currency"],
                    amount=row["amount"],
                    now=minor_to_decimal(row["now_minor"], row["currency"]),
                    moved=minor_to_decimal(row["moved_minor"], row["currency"]),
                    state=state,
                )
            )
        lines += [
            _(
                "%(seen)s Stripe objects listed, %(known)s already in Odoo, "
                "%(stored)s fed through intake.",
                seen=report["seen"],
                known=report["known"],
                stored=report["stored"],
            )
        ]
        if report["registered"]:
            lines.append(
                _(
                    "%(verb)s %(n)s payouts in the payout register: %(ids)s",
                    verb=_("Would register") if self.dry_run else _("Registered"),
                    n=len(report["registered"]),
                    ids=", ".join(
                        f"{pid} ({state})"
                        for pid, state in sorted(report["registered"].items())
                    ),
                )
            )
        for kind, count in sorted(report["would_create"].items()):
            examples = ", ".join(report["examples"].get(kind, []))
            lines.append(
                _(
                    "Would create %(n)s %(kind)s: %(ids)s",
                    n=count,
                    kind=kind,
                    ids=examples,
                )
            )
        self.result = "\n".join(lines)
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }
