# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Statement lines: their bank identity, matching and reconciliation.

Odoo 18 Community books every statement line as a move with a liquidity line and
a suspense line; reconciling replaces the suspense line with counterparts on the
open items' accounts (and a write-off line within tolerance) and reconciles
each counterpart with its item, as OCA ``account_reconcile_oca`` does. A line in
another currency than the item is booked at the statement line's rate; Odoo's
full reconciliation then posts the exchange difference.
"""

from datetime import timedelta
from decimal import Decimal

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError

from ..lib import matching
from ..lib.model import normalize_vat

MATCH_STATES = [
    ("unmatched", "Unmatched"),
    ("proposed", "Proposed"),
    ("to_approve", "Waiting Approval"),
    ("matched", "Matched"),
]


class AccountBankStatementLine(models.Model):
    _inherit = "account.bank.statement.line"

    fi_import_id = fields.Char("Import ID", readonly=True, copy=False)
    fi_entry_key = fields.Char(readonly=True, copy=False, index="btree_not_null")
    fi_bank_ref = fields.Char("Bank Reference", readonly=True)
    fi_end_to_end_id = fields.Char("EndToEndId", readonly=True, index="btree_not_null")
    fi_creditor_ref = fields.Char("Creditor Reference", readonly=True)
    fi_counterparty_vat = fields.Char("Counterparty VAT", readonly=True)
    fi_value_date = fields.Date("Value Date", readonly=True)
    fi_reversal = fields.Boolean("Reversal", readonly=True)
    fi_charges = fields.Monetary("Charges", readonly=True)
    fi_location = fields.Char("Position in File", readonly=True)
    fi_correlation_id = fields.Char("Correlation ID", readonly=True)
    fi_match_state = fields.Selection(
        MATCH_STATES, "Bank Match", default="unmatched", readonly=True, index=True
    )
    fi_auto_matched = fields.Boolean(
        "Matched Automatically",
        readonly=True,
        copy=False,
        help="Reconciled by the automatic matching, without a user choosing or "
        "approving the items (the reconciliation rate counts these lines).",
    )
    fi_score = fields.Integer("Match Score", readonly=True)
    fi_reasons = fields.Char("Match Reasons", readonly=True)
    fi_candidate_ids = fields.Many2many(
        "account.move.line", string="Candidates", readonly=True, copy=False
    )
    fi_proposed_by_id = fields.Many2one("res.users", "Proposed By", readonly=True)
    fi_writeoff_amount = fields.Monetary("Write-off", readonly=True)
    fi_alerted_at = fields.Datetime("Unmatched Alert Sent", readonly=True)
    fi_history_ids = fields.One2many(
        "fi.bank.match.history", "line_id", "Match History"
    )
    fi_statement_state = fields.Selection(related="statement_id.fi_state")

    _sql_constraints = [
        (
            "fi_import_id_unique",
            "unique(journal_id, fi_import_id)",
            "A bank transaction can be imported only once per journal.",
        )
    ]

    # ------------------------------------------------------------------
    # matching
    # ------------------------------------------------------------------
    def _fi_open_items_domain(self):
        journal = self[:1].journal_id
        accounts = self.env["account.account"].search(
            [
                ("company_ids", "child_of", journal.company_id.root_id.id),
                ("reconcile", "=", True),
            ]
        )
        return [
            ("display_type", "not in", ("line_section", "line_note")),
            ("parent_state", "=", "posted"),
            ("company_id", "child_of", journal.company_id.id),
            ("reconciled", "=", False),
            ("account_id", "in", accounts.ids),
            (
                "account_id",
                "not in",
                (journal.suspense_account_id | journal.default_account_id).ids,
            ),
            ("statement_line_id", "=", False),
        ]

    def _fi_open_items(self):
        """The open items as lib OpenItems (one SQL read, no ORM record per item)."""
        journal = self[:1].journal_id
        ccy = journal.fi_currency_id
        rows = self.env["account.move.line"].search_read(
            self._fi_open_items_domain(),
            [
                "amount_residual",
                "amount_residual_currency",
                "currency_id",
                "date",
                "partner_id",
                "move_name",
                "ref",
                "move_id",
                "payment_id",
                "name",
            ],
        )
        moves = {}
        move_ids = list({r["move_id"][0] for r in rows})
        for chunk in range(0, len(move_ids), 20000):
            for m in self.env["account.move"].search_read(
                [("id", "in", move_ids[chunk : chunk + 20000])],
                ["payment_reference", "ref"],
            ):
                moves[m["id"]] = m
        payments = {}
        pay_ids = [r["payment_id"][0] for r in rows if r["payment_id"]]
        if pay_ids:
            for p in self.env["account.payment"].search_read(
                [("id", "in", pay_ids)], ["fi_end_to_end_id", "memo"]
            ):
                payments[p["id"]] = p
        currencies = {c.id: c.name for c in self.env["res.currency"].search([])}
        items = []
        for r in rows:
            cur = r["currency_id"][0] if r["currency_id"] else ccy.id
            amount = (
                r["amount_residual_currency"] if cur != ccy.id else r["amount_residual"]
            )
            move = moves.get(r["move_id"][0], {})
            pay = payments.get(r["payment_id"][0], {}) if r["payment_id"] else {}
            refs = tuple(
                x
                for x in (
                    r["move_name"],
                    r["ref"],
                    move.get("payment_reference"),
                    move.get("ref"),
                    pay.get("fi_end_to_end_id"),
                    pay.get("memo"),
                )
                if x
            )
            items.append(
                matching.OpenItem(
                    r["id"],
                    Decimal(str(amount)).quantize(Decimal("0.01")),
                    currencies.get(cur, ""),
                    r["date"],
                    r["partner_id"][0] if r["partner_id"] else None,
                    refs,
                )
            )
        return items

    def _fi_bank_lines(self):
        out = []
        for line in self:
            ccy = line.foreign_currency_id or line.journal_id.fi_currency_id
            amount = line.amount_currency if line.foreign_currency_id else line.amount
            out.append(
                matching.BankLine(
                    line.id,
                    Decimal(str(amount)).quantize(Decimal("0.01")),
                    ccy.name,
                    line.date,
                    texts=tuple(
                        x
                        for x in (
                            line.payment_ref,
                            line.fi_creditor_ref,
                            line.fi_end_to_end_id,
                            line.fi_bank_ref,
                        )
                        if x
                    ),
                    iban=line.account_number or "",
                    partner_name=line.partner_name or "",
                    partner_id=line.partner_id.id or None,
                    vat=line.fi_counterparty_vat or "",
                )
            )
        return out

    def _fi_partner_maps(self):
        """{IBAN: partner}, {name: partner}, {VAT: partner} for the lines."""
        banks = self.env["res.partner.bank"].search_read(
            [], ["acc_number", "partner_id"]
        )
        by_iban = {
            b["acc_number"]: b["partner_id"][0] for b in banks if b["partner_id"]
        }
        names = [n for n in set(self.mapped("partner_name")) if n]
        by_name = {}
        if names:
            for p in self.env["res.partner"].search_read(
                [("name", "in", names)], ["name"]
            ):
                by_name[p["name"]] = p["id"]
        by_vat = {}
        vats = {normalize_vat(v) for v in self.mapped("fi_counterparty_vat") if v}
        if vats:
            # Odoo stores VAT numbers compacted (BE0477472701); compared
            # normalised, a company before its contacts
            found = self.env["res.partner"].search_read(
                [("vat", "in", list(vats))], ["vat", "parent_id"], order="id"
            )
            for p in sorted(found, key=lambda p: (bool(p["parent_id"]), p["id"])):
                by_vat.setdefault(normalize_vat(p["vat"]), p["id"])
        return by_iban, by_name, by_vat

    def _fi_propose(self):
        """{line id: proposals best first} for the lines."""
        if not self:
            return {}
        items = self._fi_open_items()
        by_iban, by_name, by_vat = self._fi_partner_maps()
        window = self[:1].journal_id.fi_date_window or 30
        return matching.best(
            matching.match(
                self._fi_bank_lines(),
                items,
                by_iban,
                by_name,
                date_window=window,
                partner_by_vat=by_vat,
            )
        )

    def _fi_auto_match(self):
        """Reconcile the lines with a unique proposal at or above the journal's
        score; the others get their candidates and an unmatched exception."""
        lines = self.filtered(
            lambda line: (
                line.fi_match_state in ("unmatched", "proposed")
                and line.statement_id.fi_state != "held"
                and not line.is_reconciled
            )
        )
        proposals = lines._fi_propose()
        AML = self.env["account.move.line"]
        done = self.browse()
        for line in lines:
            props = proposals.get(line.id, [])
            journal = line.journal_id
            top = props[0] if props else None
            unique = top is not None and (len(props) == 1 or props[1].score < top.score)
            if top and unique and top.score >= journal.fi_auto_reconcile_score:
                items = AML.browse(top.item_ids)
                if line._fi_apply(items, top.score, ", ".join(top.reasons), auto=True):
                    done |= line
                continue
            candidate_ids = [i for p in props for i in p.item_ids][:20]
            line.write(
                {
                    "fi_match_state": "proposed" if props else "unmatched",
                    "fi_score": top.score if top else 0,
                    "fi_reasons": ", ".join(top.reasons) if top else _("no candidate"),
                    "fi_candidate_ids": [Command.set(candidate_ids)],
                }
            )
            journal._fi_open_exception(
                line,
                "bank.line.unmatched",
                _(
                    "Unmatched bank line %(ref)s (%(amount)s on %(date)s): "
                    "%(n)s candidates%(best)s",
                    ref=line.payment_ref,
                    amount=line.amount,
                    date=line.date,
                    n=len(candidate_ids),
                    best=_(
                        ", best %(s)s (%(r)s)", s=top.score, r=", ".join(top.reasons)
                    )
                    if top
                    else "",
                ),
                line.fi_correlation_id,
            )
        return done

    # ------------------------------------------------------------------
    # reconciliation
    # ------------------------------------------------------------------
    def _fi_tolerance(self, amount):
        journal = self.journal_id
        percent = abs(amount) * (journal.fi_tolerance_percent or 0.0) / 100.0
        return (
            min(journal.fi_tolerance_amount or 0.0, percent)
            if journal.fi_tolerance_percent
            else journal.fi_tolerance_amount
        )

    def _fi_plan(self, items, writeoff=True):
        """The counterparts (item, amount in transaction currency), what is
        left of the line, and the amount to write off: the items are paid in
        full when the difference is within tolerance, else in turn up to the
        line's amount (a partial payment; an excess stays on suspense)."""
        self.ensure_one()
        trans_ccy = self.foreign_currency_id or self.journal_id.fi_currency_id
        amount = self.amount_currency if self.foreign_currency_id else self.amount
        residuals = []
        for item in items:
            if item.currency_id == trans_ccy:
                residual = item.amount_residual_currency
            else:
                residual = item.company_currency_id._convert(
                    item.amount_residual, trans_ccy, self.company_id, self.date
                )
            residuals.append((item, residual))
        total = sum(r for _i, r in residuals)
        diff = trans_ccy.round(amount - total)
        if (
            writeoff
            and diff
            and self.journal_id.fi_writeoff_account_id
            and (amount > 0) == (total > 0)
            and abs(diff) <= self._fi_tolerance(abs(total))
        ):
            return residuals, diff, diff
        plan = []
        remaining = amount
        for item, residual in residuals:
            if trans_ccy.is_zero(remaining):
                break
            apply = residual if abs(residual) <= abs(remaining) else remaining
            plan.append((item, apply))
            remaining = trans_ccy.round(remaining - apply)
        return plan, remaining, 0.0

    def _fi_apply(self, items, score=0, reasons="", auto=False, writeoff=True):
        """Match the line with ``items``; returns True when reconciled, False
        when it waits for approval."""
        self.ensure_one()
        if self.statement_id.fi_state == "held":
            raise UserError(
                _("Statement %s is held: release it first.", self.statement_id.name)
            )
        plan, remaining, wo_amount = self._fi_plan(items, writeoff)
        journal = self.journal_id
        trans_ccy = self.foreign_currency_id or journal.fi_currency_id
        needs_approval = (
            abs(wo_amount) > (journal.fi_writeoff_approval_amount or 0.0)
        ) or (
            not auto and abs(self.amount) > (journal.fi_manual_approval_amount or 0.0)
        )
        if needs_approval and not self.env.context.get("fi_approved"):
            self.write(
                {
                    "fi_match_state": "to_approve",
                    "fi_candidate_ids": [Command.set(items.ids)],
                    "fi_writeoff_amount": wo_amount,
                    "fi_score": score,
                    "fi_reasons": reasons,
                    "fi_proposed_by_id": self.env.user.id,
                }
            )
            self._fi_log("proposed", items, _("waiting for approval (%s)", reasons))
            return False
        self._fi_book(plan, remaining, wo_amount, trans_ccy)
        self.write(
            {
                "fi_match_state": "matched",
                "fi_auto_matched": auto,
                "fi_score": score,
                "fi_reasons": reasons,
                "fi_writeoff_amount": wo_amount,
                "fi_candidate_ids": [Command.set(items.ids)],
                "fi_alerted_at": False,
            }
        )
        self._fi_log("matched", items, reasons)
        self.env["fi.audit"]._fi_event(
            "line.reconciled",
            _(
                "Bank line %(l)s reconciled with %(i)s",
                l=self.payment_ref,
                i=", ".join(items.mapped("move_name")),
            ),
            record=self,
            correlation_id=self.fi_correlation_id,
            facts={
                "amount": str(self.amount),
                "items": items.ids,
                "score": score,
                "write_off": str(wo_amount),
                "auto": auto,
            },
        )
        self._fi_close_exceptions()
        return True

    def _fi_book(self, plan, remaining, wo_amount, trans_ccy):
        _liquidity, suspense, _other = self._seek_for_lines()
        if not suspense:
            raise UserError(_("Bank line %s is already reconciled.", self.payment_ref))
        vals = []
        for item, apply in plan:
            amounts = self._prepare_counterpart_amounts_using_st_line_rate(
                trans_ccy, None, -apply
            )
            vals.append(
                {
                    "name": item.move_name or self.payment_ref,
                    "account_id": item.account_id.id,
                    "partner_id": item.partner_id.id,
                    "currency_id": trans_ccy.id,
                    "amount_currency": amounts["amount_currency"],
                    "balance": amounts["balance"],
                }
            )
        rest = remaining - wo_amount
        if wo_amount:
            amounts = self._prepare_counterpart_amounts_using_st_line_rate(
                trans_ccy, None, -wo_amount
            )
            vals.append(
                {
                    "name": _("Write-off %s", self.payment_ref),
                    "account_id": self.journal_id.fi_writeoff_account_id.id,
                    "partner_id": plan[0][0].partner_id.id if plan else False,
                    "currency_id": trans_ccy.id,
                    "amount_currency": amounts["amount_currency"],
                    "balance": amounts["balance"],
                }
            )
        commands = [Command.delete(suspense.id)]
        if not trans_ccy.is_zero(rest):
            amounts = self._prepare_counterpart_amounts_using_st_line_rate(
                trans_ccy, None, -rest
            )
            vals.append(
                {
                    "name": self.payment_ref,
                    "account_id": suspense.account_id.id,
                    "partner_id": suspense.partner_id.id,
                    "currency_id": trans_ccy.id,
                    "amount_currency": amounts["amount_currency"],
                    "balance": amounts["balance"],
                }
            )
        # rounding: the move must balance to the cent in company currency
        liquidity_balance = sum(_liquidity.mapped("balance"))
        total = sum(v["balance"] for v in vals)
        diff = self.company_id.currency_id.round(-liquidity_balance - total)
        if diff and vals:
            vals[0]["balance"] += diff
        old = self.move_id.line_ids
        self.move_id.with_context(
            skip_account_move_synchronization=True,
            force_delete=True,
            skip_readonly_check=True,
        ).write({"line_ids": commands + [Command.create(v) for v in vals]})
        new_lines = (self.move_id.line_ids - old).sorted("id")
        for (item, _apply), counterpart in zip(plan, new_lines, strict=False):
            (counterpart | item).reconcile()
        if plan and not self.partner_id:
            self.with_context(skip_account_move_synchronization=True).partner_id = plan[
                0
            ][0].partner_id

    def action_fi_match_manual(self, items):
        """Finance matches the line with chosen open items (from the exception)."""
        self.ensure_one()
        return self._fi_apply(items, 0, _("manual match by %s", self.env.user.name))

    def action_fi_open_match(self):
        """The matching wizard: the proposals with scores and reasons, or
        open items chosen by hand."""
        self.ensure_one()
        return self.env["fi.bank.match.wizard"]._fi_for_line(self)._fi_action()

    def action_fi_accept_proposal(self):
        for line in self:
            if line.fi_match_state != "proposed" or not line.fi_candidate_ids:
                raise UserError(_("Line %s has no proposal.", line.payment_ref))
            line._fi_apply(line.fi_candidate_ids, line.fi_score, line.fi_reasons)

    def action_fi_approve(self):
        """Four eyes: the approver is neither the importer nor the proposer."""
        for line in self:
            if line.fi_match_state != "to_approve":
                raise UserError(_("Line %s waits for no approval.", line.payment_ref))
            if self.env.user in (line.fi_proposed_by_id | line.create_uid):
                raise UserError(
                    _(
                        "Line %s: the match must be approved by another user "
                        "than the one who imported or proposed it.",
                        line.payment_ref,
                    )
                )
            items = line.fi_candidate_ids
            line.with_context(fi_approved=True)._fi_apply(
                items, line.fi_score, line.fi_reasons
            )
            if line.fi_writeoff_amount:
                self.env["fi.audit"]._fi_event(
                    "writeoff.approved",
                    _(
                        "Write-off %(a)s on %(l)s approved",
                        a=line.fi_writeoff_amount,
                        l=line.payment_ref,
                    ),
                    record=line,
                    correlation_id=line.fi_correlation_id,
                    facts={
                        "amount": str(line.fi_writeoff_amount),
                        "proposed_by": line.fi_proposed_by_id.id,
                    },
                )

    def action_undo_reconciliation(self):
        """Back to unmatched, with the history kept."""
        matched = self.filtered(lambda line: line.fi_match_state == "matched")
        res = super(
            AccountBankStatementLine, self.with_context(fi_undoing=True)
        ).action_undo_reconciliation()
        for line in matched:
            line.write(
                {
                    "fi_match_state": "unmatched",
                    "fi_auto_matched": False,
                    "fi_writeoff_amount": 0.0,
                }
            )
            line._fi_log("undone", line.fi_candidate_ids, _("reconciliation undone"))
            self.env["fi.audit"]._fi_event(
                "line.unreconciled",
                _("Bank line %s back to unmatched", line.payment_ref),
                record=line,
                correlation_id=line.fi_correlation_id,
            )
        return res

    def _fi_log(self, action, items, note):
        self.env["fi.bank.match.history"].create(
            {
                "line_id": self.id,
                "action": action,
                "item_refs": ", ".join(items.mapped("move_name"))[:500]
                if items
                else False,
                "note": note,
            }
        )

    def _fi_close_exceptions(self):
        exceptions = (
            self.env["fi.exception"]
            .sudo()
            .search(
                [
                    ("fi_message_id.res_model", "=", self._name),
                    ("fi_message_id.res_id", "in", self.ids),
                    ("state", "in", ("new", "in_progress")),
                ]
            )
        )
        if exceptions:
            exceptions.action_resolve()

    # ------------------------------------------------------------------
    @api.model
    def _cron_fi_unmatched_alerts(self):
        """One alert per line per breach: unmatched longer than the journal's days."""
        today = fields.Date.context_today(self)
        lines = self.search(
            [
                ("fi_match_state", "in", ("unmatched", "proposed")),
                ("fi_alerted_at", "=", False),
                ("fi_import_id", "!=", False),
                ("is_reconciled", "=", False),
            ]
        )
        alerted = self.browse()
        for line in lines:
            days = line.journal_id.fi_unmatched_alert_days
            if (
                days
                and line.date <= today - timedelta(days=days)
                and line.journal_id.fi_owner_id
            ):
                line.journal_id._fi_alert_owner(
                    line.statement_id,
                    _("Bank line unmatched for %s days", days),
                    _(
                        "%(ref)s, %(amount)s on %(date)s",
                        ref=line.payment_ref,
                        amount=line.amount,
                        date=line.date,
                    ),
                )
                alerted |= line
        alerted.write({"fi_alerted_at": fields.Datetime.now()})
        return alerted


class AccountPartialReconcile(models.Model):
    _inherit = "account.partial.reconcile"

    def unlink(self):
        """A reconciliation removed elsewhere (invoice reset, reversed) brings
        the bank line it involved back to unmatched."""
        if self.env.context.get("fi_undoing"):
            return super().unlink()
        lines = (self.debit_move_id | self.credit_move_id).statement_line_id.filtered(
            lambda line: line.fi_match_state == "matched"
        )
        res = super().unlink()
        if lines:
            lines.with_context(fi_undoing=True).action_undo_reconciliation()
        return res


class FiException(models.Model):
    _inherit = "fi.exception"

    def action_fi_match_bank_line(self):
        """From an "unmatched bank line" exception: its candidates, to pick."""
        self.ensure_one()
        if self.res_model != "account.bank.statement.line" or not self.res_id:
            raise UserError(_("Exception %s is not about a bank line.", self.name))
        line = self.env["account.bank.statement.line"].browse(self.res_id).exists()
        if not line:
            raise UserError(_("The bank line of %s no longer exists.", self.name))
        return line.action_fi_open_match()


class FiBankMatchHistory(models.Model):
    _name = "fi.bank.match.history"
    _description = "Bank Line Match History"
    _order = "id desc"

    line_id = fields.Many2one(
        "account.bank.statement.line", required=True, index=True, ondelete="cascade"
    )
    action = fields.Selection(
        [("proposed", "Proposed"), ("matched", "Matched"), ("undone", "Undone")],
        required=True,
    )
    item_refs = fields.Char("Items")
    note = fields.Char()
    user_id = fields.Many2one("res.users", default=lambda self: self.env.user)
    date = fields.Datetime(default=fields.Datetime.now)
