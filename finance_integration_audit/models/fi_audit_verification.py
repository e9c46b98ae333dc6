# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Verification runs: recompute every hash and signature of a chain, record
the first broken link and alert the company's audit owner."""

import time

from odoo import _, api, fields, models

from ..lib.chain import FORMAT, GENESIS, Break, describe
from ..lib.export import check_checkpoints
from .fi_audit_checkpoint import trusted_public_keys


def _json(expression):
    return f"coalesce(to_json({expression})::text, 'null')"


def _number(expression):
    return f"coalesce(({expression})::text, 'null')"


# The canonical form of lib/chain.py built by PostgreSQL, byte for byte:
# to_json() escapes a string exactly as Python's json.dumps(ensure_ascii=False)
# does (\" \\ \b \f \n \r \t, other control characters as lowercase
# \u00xx, everything else as is), integers print the same. Hashing a million
# events this way takes seconds where decoding them into Python takes tens
# (setup/bench_audit.py); tests hold the two forms equal, including escapes.
CANONICAL_SQL = (
    f"'[\"{FORMAT}\",' || "
    + " || ',' || ".join(
        [
            _number("company_id"),
            _number("sequence"),
            _json("prev_hash"),
            _json("to_char(event_date, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"),
            _json("event_type"),
            _number("user_id"),
            _number("integration_user_id"),
            _number("endpoint_id"),
            _number("flow_id"),
            _number("message_id"),
            _json("correlation_id"),
            _json("res_model"),
            _number("res_id"),
            _json("summary"),
            _json("facts"),
        ]
    )
    + " || ']'"
)

#: the first row of a chain that does not hold, with what is wrong with it
FIRST_BREAK_SQL = f"""
WITH rows AS (
    SELECT sequence, prev_hash, hash,
           encode(sha256(convert_to({CANONICAL_SQL}, 'UTF8')), 'hex') AS computed,
           lag(sequence) OVER w AS before_sequence,
           lag(hash) OVER w AS before_hash
      FROM fi_audit_event
     WHERE company_id = %(company)s AND sequence IS NOT NULL
    WINDOW w AS (ORDER BY sequence)
)
SELECT r.sequence, r.prev_hash, r.hash, r.computed,
       COALESCE(r.before_sequence, %(anchor_seq)s),
       COALESCE(r.before_hash, %(anchor_hash)s), s.hash
  FROM rows r
  LEFT JOIN unnest(%(signed_seq)s::integer[], %(signed_hash)s::text[])
       AS s(sequence, hash) ON s.sequence = r.sequence
 WHERE r.sequence <> COALESCE(r.before_sequence, %(anchor_seq)s) + 1
    OR r.prev_hash IS DISTINCT FROM COALESCE(r.before_hash, %(anchor_hash)s)
    OR r.computed IS DISTINCT FROM r.hash
    OR (s.hash IS NOT NULL AND s.hash <> r.computed)
 ORDER BY r.sequence
 LIMIT 1
"""


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
        counter = [0]
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
                brk = self._fi_first_break(company_id, anchor_seq, anchor_hash, signed)
            counter[0] = (brk.sequence if brk else last + 1) - first
        if brk is None and signed and max(signed) > (last or 0):
            brk = Break((last or 0) + 1, "gap", max(signed), last or 0)
        return {
            "company_id": company_id,
            "state": "broken" if brk else "ok",
            "events_checked": counter[0],
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
        """The first Break of a chain (as lib.chain.first_break finds it), or
        None; hashes recomputed by the database (CANONICAL_SQL)."""
        self.env.cr.execute(
            FIRST_BREAK_SQL,
            {
                "company": company_id,
                "anchor_seq": anchor_seq,
                "anchor_hash": anchor_hash,
                "signed_seq": list(signed),
                "signed_hash": list(signed.values()),
            },
        )
        row = self.env.cr.fetchone()
        if not row:
            return None
        sequence, prev_hash, stored, computed, before_seq, before_hash, cp = row
        if sequence != before_seq + 1:
            return Break(before_seq + 1, "gap", before_seq + 1, sequence)
        if prev_hash != before_hash:
            return Break(sequence, "link", before_hash, prev_hash)
        if computed != stored:
            return Break(sequence, "changed", computed, stored)
        return Break(sequence, "checkpoint", cp, computed)

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
