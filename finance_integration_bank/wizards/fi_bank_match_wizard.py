# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Match an unmatched bank line by hand, from its exception or its form.

The wizard lists the engine's proposals for the line (each with its score, its
reasons and the open items it pays) and lets finance pick one, or choose open
items itself. The match goes through the same rules as an automatic one: a
manual match over the journal's amount, or a write-off over its threshold,
waits for the approval of another user (four eyes).
"""

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError


class FiBankMatchWizard(models.TransientModel):
    _name = "fi.bank.match.wizard"
    _description = "Match a Bank Line"

    line_id = fields.Many2one(
        "account.bank.statement.line", required=True, readonly=True
    )
    currency_id = fields.Many2one(related="line_id.currency_id")
    amount = fields.Monetary(related="line_id.amount")
    payment_ref = fields.Char(related="line_id.payment_ref")
    partner_name = fields.Char(related="line_id.partner_name")
    candidate_ids = fields.One2many(
        "fi.bank.match.wizard.candidate", "wizard_id", "Proposals"
    )
    item_ids = fields.Many2many(
        "account.move.line",
        string="Or Choose Open Items",
        help="Open items to match instead of a proposal.",
    )
    item_domain = fields.Binary(compute="_compute_item_domain")
    result = fields.Char(readonly=True)

    @api.depends("line_id")
    def _compute_item_domain(self):
        for wizard in self:
            wizard.item_domain = (
                wizard.line_id._fi_open_items_domain() if wizard.line_id else []
            )

    @api.model
    def _fi_for_line(self, line):
        """The wizard of ``line`` with the engine's proposals, best first."""
        if line.is_reconciled or line.fi_match_state == "matched":
            raise UserError(_("Bank line %s is already matched.", line.payment_ref))
        proposals = line._fi_propose().get(line.id, [])
        return self.create(
            {
                "line_id": line.id,
                "candidate_ids": [
                    Command.create(
                        {
                            "sequence": rank,
                            "score": proposal.score,
                            "reasons": ", ".join(proposal.reasons),
                            "difference": float(proposal.difference),
                            "partial": proposal.partial,
                            "item_ids": [Command.set(list(proposal.item_ids))],
                        }
                    )
                    for rank, proposal in enumerate(proposals[:20])
                ],
            }
        )

    def _fi_action(self):
        return {
            "type": "ir.actions.act_window",
            "name": _("Match Bank Line"),
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }

    def action_match(self):
        """Match with the chosen proposal, or with the chosen open items."""
        self.ensure_one()
        chosen = self.candidate_ids.filtered("selected")
        if len(chosen) > 1:
            raise UserError(_("Choose one proposal (or open items), not several."))
        if chosen and self.item_ids:
            raise UserError(_("Choose a proposal or open items, not both."))
        user_name = self.env.user.name
        if chosen:
            items, score = chosen.item_ids, chosen.score
            reasons = _("%(r)s; chosen by %(u)s", r=chosen.reasons, u=user_name)
        elif self.item_ids:
            items, score = self.item_ids, 0
            reasons = _("manual match by %s", user_name)
        else:
            raise UserError(_("Choose a proposal or open items to match."))
        if self.line_id.fi_match_state == "to_approve":
            raise UserError(
                _(
                    "Bank line %s already waits for approval of a match.",
                    self.line_id.payment_ref,
                )
            )
        matched = self.line_id._fi_apply(items, score, reasons)
        self.result = (
            _("Reconciled.")
            if matched
            else _("Waiting for the approval of another user (four eyes).")
        )
        return {"type": "ir.actions.act_window_close"}


class FiBankMatchWizardCandidate(models.TransientModel):
    _name = "fi.bank.match.wizard.candidate"
    _description = "Bank Line Match Proposal"
    _order = "sequence, id"

    wizard_id = fields.Many2one(
        "fi.bank.match.wizard", required=True, ondelete="cascade"
    )
    sequence = fields.Integer()
    selected = fields.Boolean("Choose")
    score = fields.Integer(readonly=True)
    reasons = fields.Char(readonly=True)
    currency_id = fields.Many2one(related="wizard_id.currency_id")
    difference = fields.Monetary(readonly=True, help="Bank line amount - open items.")
    partial = fields.Boolean("Partial Payment", readonly=True)
    item_ids = fields.Many2many("account.move.line", string="Open Items", readonly=True)
    item_refs = fields.Char("Items", compute="_compute_item_refs")

    @api.depends("item_ids")
    def _compute_item_refs(self):
        for candidate in self:
            candidate.item_refs = ", ".join(
                f"{item.move_name} ({item.partner_id.name or '-'}, "
                f"{item.amount_residual:.2f})"
                for item in candidate.item_ids
            )
