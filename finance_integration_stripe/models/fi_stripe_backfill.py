# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import _, fields, models


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
    result = fields.Text(readonly=True)

    def action_run(self):
        self.ensure_one()
        report = self.endpoint_id._fi_stripe_backfill(
            int(self.since.timestamp()), dry_run=self.dry_run
        )
        lines = [
            _(
                "%(seen)s Stripe objects listed, %(known)s already in Odoo, "
                "%(stored)s fed through intake.",
                seen=report["seen"],
                known=report["known"],
                stored=report["stored"],
            )
        ]
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
