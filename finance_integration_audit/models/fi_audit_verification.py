# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Verification runs: recompute every hash and signature of a chain, record
the first broken link and alert the company's audit owner.

The rows are not read through the ORM nor decoded into Python values:
PostgreSQL streams each row as its event line (lib/pgcopy.py, COPY) and the
offline verifier's own check (lib/chain.py EventChecker, core's sha256_hex)
hashes the lines while PostgreSQL builds the next ones."""

import logging
import threading
import time

import psycopg2

from odoo import _, api, fields, models, sql_db
from odoo.exceptions import AccessError

from ..lib.chain import GENESIS, Break, EventChecker, describe
from ..lib.export import check_checkpoints
from ..lib.pgcopy import CopySink, copy_sql
from .fi_audit_checkpoint import trusted_public_keys

_logger = logging.getLogger(__name__)

#: lines hashed per batch (PostgreSQL builds the next ones meanwhile)
BATCH = 10000
#: from this many rows on, two connections check a chain's halves at once
SPLIT_MIN_ROWS = 100000


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
    unsigned_events = fields.Integer(
        readonly=True,
        help="Events after the last signed checkpoint: chained, but not yet "
        "covered by a signature (Checkpoint Now signs the head).",
    )
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
                    company_id, anchor_seq, anchor_hash, signed, last
                )
        if brk is None and signed and max(signed) > (last or 0):
            brk = Break((last or 0) + 1, "gap", max(signed), last or 0)
        signed_up_to = max((s for s in signed if s <= (last or 0)), default=0)
        unsigned = (last or 0) - signed_up_to
        if brk:
            summary = describe(brk)
        elif unsigned:
            summary = _(
                "chain intact; %(count)s events after the last checkpoint "
                "(sequences %(first)s to %(last)s) not yet signed",
                count=unsigned,
                first=signed_up_to + 1,
                last=last,
            )
        else:
            summary = _("chain intact, signed up to its head")
        return {
            "company_id": company_id,
            "state": "broken" if brk else "ok",
            "events_checked": checked,
            "checkpoints_checked": len(checkpoints),
            "first_sequence": first or 0,
            "last_sequence": last or 0,
            "signed_sequence": signed_up_to,
            "unsigned_events": unsigned,
            "break_sequence": brk.sequence if brk else 0,
            "break_kind": brk.kind if brk else False,
            "expected": str(brk.expected) if brk else False,
            "found": str(brk.found) if brk else False,
            "summary": summary,
            "duration_ms": round((time.monotonic() - started) * 1000),
        }

    @api.model
    def _fi_first_break(self, company_id, anchor_seq, anchor_hash, signed, last=0):
        """The first Break of a company's sealed rows after the anchor (the
        genesis or a signed checkpoint), or None; and the rows that hold.

        A long chain is checked in two halves at once: the lower one on a
        second connection sharing this transaction's snapshot, the upper one
        here (rows this transaction sealed itself are only seen here), so
        two PostgreSQL processes build lines while Python hashes them."""
        self.env.flush_all()
        cr = self.env.cr
        rows = f"company_id = {int(company_id)} AND sequence IS NOT NULL"
        helper, middle = self._fi_helper_cursor(rows, anchor_seq, last)
        if helper is None:
            return self._fi_check_lines(
                cr, rows, company_id, anchor_seq, anchor_hash, signed
            )
        lower = {}

        def check_lower():
            try:
                lower["result"] = self._fi_check_lines(
                    helper,
                    f"{rows} AND sequence <= {middle}",
                    company_id,
                    anchor_seq,
                    anchor_hash,
                    signed,
                )
            except Exception as err:  # noqa: BLE001 - raised again below
                lower["error"] = err

        thread = threading.Thread(target=check_lower, name="fi-audit-verify")
        try:
            cr.execute(
                f"SELECT hash FROM fi_audit_event WHERE {rows} AND sequence = %s",
                (middle,),
            )
            (middle_hash,) = cr.fetchone()
            thread.start()
            upper_brk, upper_count = self._fi_check_lines(
                cr, f"{rows} AND sequence > {middle}", company_id, middle,
                middle_hash, signed,
            )  # fmt: skip
            thread.join()
        finally:
            if thread.is_alive():
                thread.join()
            helper.rollback()
            helper.close()
        if "error" in lower:
            raise lower["error"]
        lower_brk, lower_count = lower["result"]
        # the upper half follows the stored hash of the middle row, which the
        # lower half proved to be the chain's own (or broke first)
        if lower_brk is not None:
            return lower_brk, lower_count
        return upper_brk, lower_count + upper_count

    @api.model
    def _fi_helper_cursor(self, rows, anchor_seq, last):
        """(a cursor on a second connection with this transaction's snapshot,
        the last sequence it checks), or (None, None) when the chain is too
        short for two halves to pay or its middle row is missing."""
        cr = self.env.cr
        if last - anchor_seq < SPLIT_MIN_ROWS:
            return None, None
        cr.execute("SELECT pg_export_snapshot()")
        (snapshot,) = cr.fetchone()
        try:
            helper = sql_db.db_connect(cr.dbname).cursor()
        except psycopg2.Error as err:  # no connection left: one pass then
            _logger.warning("audit verification in one pass: %s", err)
            return None, None
        try:
            helper.execute("SET TRANSACTION SNAPSHOT %s", (snapshot,))
            # rows sealed by this transaction (not committed) are not seen
            # there: the helper checks the lower half of what it sees
            helper.execute(f"SELECT max(sequence) FROM fi_audit_event WHERE {rows}")
            (visible,) = helper.fetchone()
            middle = anchor_seq + ((visible or anchor_seq) - anchor_seq) // 2
            cr.execute(
                f"SELECT 1 FROM fi_audit_event WHERE {rows} AND sequence = %s",
                (middle,),
            )
            if middle - anchor_seq >= SPLIT_MIN_ROWS // 4 and cr.fetchone():
                return helper, middle
        except Exception:
            helper.close()
            raise
        helper.rollback()
        helper.close()
        return None, None

    @api.model
    def _fi_check_lines(self, cr, rows, company_id, anchor_seq, anchor_hash, signed):
        """Stream the lines of ``rows`` (an SQL condition) through ``cr`` into
        the offline verifier's check; (first Break or None, rows that hold)."""
        checker = EventChecker(company_id, anchor_seq, anchor_hash, signed)
        sink = CopySink(checker, batch=BATCH)
        cr.copy_expert(copy_sql(rows), sink)
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
    def action_checkpoint_now(self):
        """Seal and sign the chain heads of the user's companies now (the
        unsigned tail becomes covered by a signature)."""
        if not self.env.user.has_group("finance_integration_audit.group_fi_auditor"):
            raise AccessError(_("Only auditors sign audit checkpoints on demand."))
        checkpoints = (
            self.env["fi.audit.checkpoint"]
            .sudo()
            ._fi_sign_heads(self.env.companies, raise_if_no_key=True)
        )
        if checkpoints:
            message = _(
                "Checkpoint signed: %s",
                ", ".join(
                    f"{cp.company_id.name} up to sequence {cp.sequence}"
                    for cp in checkpoints
                ),
            )
        else:
            message = _("Nothing new to sign: every chain head is signed already.")
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Audit checkpoint"),
                "message": message,
                "type": "success" if checkpoints else "info",
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

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
