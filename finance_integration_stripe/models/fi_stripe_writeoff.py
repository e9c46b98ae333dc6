# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Proposed write-offs, posted only once approved: a lost dispute (dispute
account -> dispute loss account) and an invoice Stripe marked uncollectible
(receivable -> bad-debt account). One approval path for both: the entry is a
draft nobody can post around it; up to the endpoint's threshold of its kind
one approver, above it two different ones (four eyes), never the user who
proposed it (segregation of duties); posting resolves its finance case."""

from odoo import _, fields, models
from odoo.exceptions import AccessError, UserError

from odoo.addons.finance_integration_core.models.fi_exception import OPEN_STATES

PENDING_STATES = ("proposed", "first_approved")

#: kind -> (group that approves, endpoint threshold field, audit event prefix)
WRITEOFF_RULES = {
    "dispute": (
        "finance_integration_core.group_fi_manager",
        "stripe_dispute_threshold",
        "stripe.dispute_writeoff",
    ),
    "uncollectible": (
        "finance_integration_core.group_fi_user",
        "stripe_uncollectible_threshold",
        "stripe.uncollectible_writeoff",
    ),
}


class FiEndpoint(models.Model):
    _inherit = "fi.endpoint"

    def _fi_stripe_writeoff_approvals(self, kind, company_amount):
        """Approvals a write-off of ``kind`` of ``company_amount`` needs."""
        threshold = self[WRITEOFF_RULES[kind][1]]
        return 2 if company_amount > threshold else 1

    def _fi_stripe_propose_writeoff(
        self, kind, message, ref, lines, case, facts, invoice=None
    ):
        """A draft entry of ``lines`` (``Command.create`` values) on the
        settlement journal, waiting for approval; the case gets a note, the
        audit trail an event. Returns the entry."""
        writeoff = self.env["account.move"].create(
            {
                "move_type": "entry",
                "journal_id": self.stripe_settlement_journal_id.id,
                "date": fields.Date.context_today(self),
                "ref": ref,
                "company_id": self.company_id.id,
                "line_ids": lines,
                "fi_correlation_id": message.correlation_id if message else False,
                "fi_stripe_writeoff_kind": kind,
                "fi_stripe_writeoff_state": "proposed",
                "fi_stripe_endpoint_id": self.id,
                "fi_stripe_case_id": case.id,
                "fi_stripe_proposer_id": self.env.user.id,
                "fi_stripe_writeoff_invoice_id": invoice.id if invoice else False,
            }
        )
        approvers = self._fi_stripe_writeoff_approvals(
            kind, writeoff._fi_stripe_writeoff_amount()
        )
        case.sudo().message_post(
            body=_(
                "Write-off %(move)s of %(amount)s %(cur)s proposed; it posts after "
                "%(n)s approval(s).",
                move=writeoff.display_name,
                amount=writeoff._fi_stripe_writeoff_amount(),
                cur=self.company_id.currency_id.name,
                n=approvers,
            )
        )
        self._fi_stripe_audit(
            f"{WRITEOFF_RULES[kind][2]}_proposed",
            _("Write-off %(ref)s proposed", ref=ref),
            writeoff,
            message,
            dict(facts, approvals_needed=approvers),
        )
        return writeoff


class AccountMove(models.Model):
    _inherit = "account.move"

    fi_stripe_writeoff_kind = fields.Selection(
        [("dispute", "Lost Dispute"), ("uncollectible", "Uncollectible Invoice")],
        "Write-off Kind",
        readonly=True,
        copy=False,
    )
    fi_stripe_writeoff_state = fields.Selection(
        [
            ("proposed", "Proposed"),
            ("first_approved", "First Approval"),
            ("approved", "Approved"),
            ("cancelled", "Cancelled"),
        ],
        "Write-off Approval",
        readonly=True,
        copy=False,
    )
    fi_stripe_endpoint_id = fields.Many2one("fi.endpoint", readonly=True, copy=False)
    fi_stripe_case_id = fields.Many2one("fi.exception", readonly=True, copy=False)
    fi_stripe_proposer_id = fields.Many2one(
        "res.users",
        "Write-off Proposed By",
        readonly=True,
        copy=False,
        help="Who proposed the write-off: never one of its approvers.",
    )
    fi_stripe_first_approver_id = fields.Many2one(
        "res.users", "First Approver", readonly=True, copy=False
    )
    fi_stripe_approver_id = fields.Many2one(
        "res.users", "Approved By", readonly=True, copy=False
    )
    fi_stripe_writeoff_invoice_id = fields.Many2one(
        "account.move",
        "Written-off Invoice",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="The invoice whose open amount this write-off clears.",
    )
    fi_stripe_writeoff_note = fields.Char(
        "Write-off Note", readonly=True, copy=False, help="Why it was cancelled."
    )

    def _post(self, soft=True):
        pending = self.filtered(lambda m: m.fi_stripe_writeoff_state in PENDING_STATES)
        if pending and not self.env.context.get("fi_stripe_writeoff_approved"):
            raise UserError(
                _(
                    "%s is a Stripe write-off waiting for approval: approve it, it "
                    "posts then.",
                    pending[0].display_name,
                )
            )
        return super()._post(soft=soft)

    def _fi_stripe_writeoff_amount(self):
        """The write-off in company currency (what the threshold compares)."""
        return abs(
            sum(self.line_ids.filtered(lambda x: x.balance > 0).mapped("balance"))
        )

    def _fi_stripe_writeoff_obsolete(self):
        """Why the write-off is no longer due (a reason), or None."""
        if self.fi_stripe_writeoff_kind != "uncollectible":
            return None
        invoice = self.fi_stripe_writeoff_invoice_id
        currency = invoice.currency_id
        if invoice.state != "posted":
            return _("invoice %s is no longer posted", invoice.name)
        if currency.is_zero(invoice.amount_residual):
            return _("invoice %s was paid in the meantime", invoice.name)
        proposed = sum(
            self.line_ids.filtered(
                lambda x: x.account_id.account_type == "asset_receivable"
            ).mapped("amount_currency")
        )
        if currency.compare_amounts(invoice.amount_residual, -proposed):
            return _(
                "the open amount of invoice %(inv)s changed from %(was)s to %(now)s",
                inv=invoice.name,
                was=-proposed,
                now=invoice.amount_residual,
            )
        return None

    def _fi_stripe_cancel_writeoff(self, reason, message=None):
        """Withdraw pending write-offs (the invoice got paid, voided): the
        draft is cancelled with ``reason``, its case resolved."""
        for move in self.filtered(
            lambda m: m.fi_stripe_writeoff_state in PENDING_STATES
        ):
            move = move.sudo()
            move.write(
                {
                    "fi_stripe_writeoff_state": "cancelled",
                    "fi_stripe_writeoff_note": reason,
                }
            )
            move.button_cancel()
            move.message_post(body=_("Write-off cancelled: %s", reason))
            move._fi_stripe_close_case(
                _(
                    "Write-off %(move)s cancelled: %(why)s",
                    move=move.display_name,
                    why=reason,
                )
            )
            self.env["fi.audit"]._fi_event(
                f"{WRITEOFF_RULES[move.fi_stripe_writeoff_kind][2]}_cancelled",
                _(
                    "Write-off %(move)s cancelled: %(why)s",
                    move=move.display_name,
                    why=reason,
                ),
                record=move,
                message=message,
                endpoint=move.fi_stripe_endpoint_id,
                correlation_id=message.correlation_id
                if message
                else move.fi_correlation_id,
                facts={"move": move.display_name, "reason": reason},
            )
        return True

    def _fi_stripe_withdraw_paid_writeoffs(self, messages=None):
        """Cancel the pending uncollectible write-offs of these invoices that
        are no longer due (paid since: a Stripe payment posted on them), with
        the reason, as soon as it happens rather than at approval.
        ``messages``: {invoice id: the message that paid it}."""
        messages = messages or {}
        pending = self.sudo().search(
            [
                ("fi_stripe_writeoff_invoice_id", "in", self.ids),
                ("fi_stripe_writeoff_kind", "=", "uncollectible"),
                ("fi_stripe_writeoff_state", "in", PENDING_STATES),
            ]
        )
        for writeoff in pending:
            reason = writeoff._fi_stripe_writeoff_obsolete()
            if reason:
                writeoff._fi_stripe_cancel_writeoff(
                    reason, messages.get(writeoff.fi_stripe_writeoff_invoice_id.id)
                )
        return pending

    def _fi_stripe_close_case(self, note):
        case = self.fi_stripe_case_id.sudo()
        if case.state in OPEN_STATES:
            case.write(
                {
                    "state": "resolved",
                    "date_closed": fields.Datetime.now(),
                    "resolution_note": note,
                }
            )
            case.activity_ids.action_feedback(feedback=note)

    def _fi_stripe_writeoff_posted(self):
        """After posting: an uncollectible invoice's receivable is reconciled
        with the write-off, the invoice is paid off."""
        if self.fi_stripe_writeoff_kind != "uncollectible":
            return
        invoice = self.fi_stripe_writeoff_invoice_id
        receivable = self.line_ids.filtered(
            lambda x: x.account_id.account_type == "asset_receivable"
        ).account_id
        (self.line_ids | invoice.line_ids).filtered(
            lambda x: x.account_id in receivable and not x.reconciled
        ).reconcile()

    def action_fi_stripe_approve_writeoff(self):
        """Approve a proposed write-off: one approver up to the endpoint's
        threshold of its kind, two different ones above it, never its
        proposer; a write-off no longer due (its invoice paid or voided in
        the meantime) is cancelled with the reason instead."""
        cancelled = []
        for move in self:
            kind = move.fi_stripe_writeoff_kind or "dispute"
            group = WRITEOFF_RULES[kind][0]
            if not self.env.user.has_group(group):
                raise AccessError(
                    _(
                        "Only members of %(group)s approve %(kind)s write-offs.",
                        group=self.env.ref(group).sudo().full_name,
                        kind=dict(self._fields["fi_stripe_writeoff_kind"].selection)[
                            kind
                        ],
                    )
                )
            if move.fi_stripe_writeoff_state not in PENDING_STATES:
                raise UserError(_("%s is not waiting for approval.", move.display_name))
            if move.fi_stripe_proposer_id == self.env.user:
                raise UserError(
                    _(
                        "Segregation of duties: %s proposed this write-off and "
                        "cannot approve it.",
                        self.env.user.name,
                    )
                )
            reason = move._fi_stripe_writeoff_obsolete()
            if reason:
                move._fi_stripe_cancel_writeoff(reason)
                cancelled.append(move.display_name)
                continue
            endpoint = move.fi_stripe_endpoint_id
            needed = endpoint._fi_stripe_writeoff_approvals(
                kind, move._fi_stripe_writeoff_amount()
            )
            if move.fi_stripe_writeoff_state == "first_approved":
                if move.fi_stripe_first_approver_id == self.env.user:
                    raise UserError(
                        _(
                            "Four eyes: %s approved this write-off already; another "
                            "user must approve it.",
                            self.env.user.name,
                        )
                    )
            elif needed == 2:
                move.sudo().write(
                    {
                        "fi_stripe_writeoff_state": "first_approved",
                        "fi_stripe_first_approver_id": self.env.user.id,
                    }
                )
                move.sudo().message_post(
                    body=_("First approval by %s.", self.env.user.name)
                )
                continue
            move.sudo().write(
                {
                    "fi_stripe_writeoff_state": "approved",
                    "fi_stripe_approver_id": self.env.user.id,
                }
            )
            move.sudo().with_context(fi_stripe_writeoff_approved=True).action_post()
            move.sudo()._fi_stripe_writeoff_posted()
            move._fi_stripe_close_case(
                _("Write-off %s approved and posted.", move.name)
            )
            self.env["fi.audit"]._fi_event(
                f"{WRITEOFF_RULES[kind][2]}_posted",
                _("Stripe write-off %s approved and posted", move.name),
                record=move,
                endpoint=endpoint,
                correlation_id=move.fi_correlation_id,
                facts={
                    "move": move.name,
                    "kind": kind,
                    "invoice": move.fi_stripe_writeoff_invoice_id.name or None,
                    "proposer": move.fi_stripe_proposer_id.login or None,
                    "first_approver": move.fi_stripe_first_approver_id.login or None,
                    "approver": self.env.user.login,
                },
            )
        if cancelled:
            return {
                "type": "ir.actions.client",
                "tag": "display_notification",
                "params": {
                    "title": _("Write-off cancelled"),
                    "message": _("No longer due, cancelled: %s", ", ".join(cancelled)),
                    "type": "warning",
                },
            }
        return True
