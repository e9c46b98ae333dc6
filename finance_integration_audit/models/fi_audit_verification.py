# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Verification runs: recompute every hash and signature of a chain, record
the first broken link and alert the company's audit owner.

The rows are not read through the ORM nor decoded into Python values:
PostgreSQL streams each row as its event line (lib/pgcopy.py, COPY) and the
offline verifier's own check (lib/chain.py EventChecker, core's sha256_hex)
hashes the lines while PostgreSQL builds the next ones."""

import time

from odoo import _, api, fields, models

from ..lib.chain import GENESIS, Break, EventChecker, describe
from ..lib.export import check_checkpoints
from ..lib.pgcopy import CopySink, copy_sql
from .fi_audit_checkpoint import trusted_public_keys

#: lines hashed per batch (PostgreSQL builds the next ones meanwhile)
BATCH = 10000


class FiAuditVerification(models.Model):
    _name = "fi.audit.verification"
    _description = "Finance Integration Audit Verification"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "id desc"
    _rec_name = "summary"

    company_id = fields.Many2one(
        "res.company", required=True, readonly=True, index=True
    )
    state = fields.Selection(
        [("ok", "Intact"), ("broken", "Broken")], required=True, readonly=True
    )
    events_checked = fields.Integer(readonly=True)
    checkpoints_checked = fields.Integer(readonly=True)
    first_sequence = fields.Integer(readonly=True)
    last_sequence = fields.Integer(readonly=True)
    signed_sequence = fields.Integer("Signed Up To", readonly=True)
    break_sequence = fields.Integer("Broken At Sequence", readonly=True)
    break_kind = fields.Char(readonly=True)
    expected = fields.Char(readonly=True)
    found = fields.Char(readonly=True)
    summary = fields.Char(readonly=True)
    duration_ms = fields.Integer("Duration (ms)", readonly=True)

    @api.model
    def _fi_check_company(self, company_id):
        """Verify one company's chain; returns a dict of the findings."""
        started = time.monotonic()
        checkpoints = (
            self.env["fi.audit.checkpoint"]
            .sudo()
            .search([("company_id", "=", company_id)], order="sequence")
        )
        signed, brk = check_checkpoints(
            [cp._fi_as_dict() for cp in checkpoints], trusted_public_keys(), company_id
        )
        cr = self.env.cr
        cr.execute(
            "SELECT min(sequence), max(sequence) FROM fi_audit_event "
            "WHERE company_id = %s AND sequence IS NOT NULL",
            (company_id,),
        )
        first, last = cr.fetchone()
        checked = 0
        if brk is None and first is not None:
            anchor_seq, anchor_hash = first - 1, GENESIS
            if first > 1:
                anchor_hash = signed.get(anchor_seq)
                if anchor_hash is None:
                    brk = Break(
                        first,
                        "anchor",
                        "the genesis or a signed checkpoint",
                        f"first kept sequence {first}",
                    )
            if brk is None:
                brk, checked = self._fi_first_break(
                    company_id, anchor_seq, anchor_hash, signed
                )
        if brk is None and signed and max(signed) > (last or 0):
            brk = Break((last or 0) + 1, "gap", max(signed), last or 0)
        return {
            "company_id": company_id,
            "state": "broken" if brk else "ok",
            "events_checked": checked,
            "checkpoints_checked": len(checkpoints),
            "first_sequence": first or 0,
            "last_sequence": last or 0,
            "signed_sequence": max((s for s in signed if s <= (last or 0)), default=0),
            "break_sequence": brk.sequence if brk else 0,
            "break_kind": brk.kind if brk else False,
            "expected": str(brk.expected) if brk else False,
            "found": str(brk.found) if brk else False,
            "summary": describe(brk) if brk else _("chain intact"),
            "duration_ms": round((time.monotonic() - started) * 1000),
        }

    @api.model
    def _fi_first_break(self, company_id, anchor_seq, anchor_hash, signed):
        """The first Break of a company's sealed rows after the anchor (the
        genesis or a signed checkpoint), or None; and the rows that hold."""
        self.env.flush_all()
        checker = EventChecker(company_id, anchor_seq, anchor_hash, signed)
        sink = CopySink(checker, batch=BATCH)
        self.env.cr.copy_expert(
            copy_sql(f"company_id = {int(company_id)} AND sequence IS NOT NULL"),
            sink,
        )
        sink.flush()
        return checker.brk, checker.count

    @api.model
    def _fi_verify(self, companies=None):
        """Seal, then verify the chains; one run record per company, the audit
        owner alerted for each broken chain."""
        self.env["fi.audit.event"]._fi_seal()
        self.env.flush_all()
        companies = companies or self.env["res.company"].sudo().search([])
        runs = self.sudo().create([self._fi_check_company(c.id) for c in companies])
        for run in runs.filtered(lambda r: r.state == "broken"):
            run._fi_alert_owner()
        return runs

    def _fi_alert_owner(self):
        self.ensure_one()
        owner = self.company_id.fi_audit_owner_id
        body = _(
            "The audit chain of %(company)s is broken: %(summary)s",
            company=self.company_id.name,
            summary=self.summary,
        )
        self.message_post(body=body)
        if owner:
            self.activity_schedule(
                "mail.mail_activity_data_todo",
                user_id=owner.id,
                summary=_("Audit chain broken at sequence %s", self.break_sequence),
                note=body,
            )

    @api.model
    def _cron_fi_verify(self):
        self._fi_verify()

    @api.model
    def action_verify_now(self):
        runs = self._fi_verify(self.env.companies)
        return {
            "type": "ir.actions.act_window",
            "name": _("Verification"),
            "res_model": self._name,
            "view_mode": "list,form",
            "domain": [("id", "in", runs.ids)],
        }
