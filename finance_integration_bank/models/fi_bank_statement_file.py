# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""One received statement file: its hash, what it brought, or why it was refused.

Every file is imported in its own savepoint: a refused file leaves nothing but
this log row behind (the statements, lines and moves of the attempt are rolled
back together).
"""

import contextlib
import io
import logging
import uuid
import zipfile

import psycopg2

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from odoo.addons.finance_integration_core.lib.hashing import sha256_hex

from ..lib import pain
from ..lib import statements as st_lib
from ..lib.model import StatementError, normalize_iban

#: kinds whose statements chain (opening = previous closing, sequence + 1)
CHAINED = ("camt.053", "mt940", "bai2")
MAX_ZIP_MEMBERS = 200
MAX_FILE_BYTES = 200 * 1024 * 1024
#: statement lines created per batched ``create`` (and per progress report)
CHUNK = 500
#: the tables a statement import fills (their planner statistics matter)
STAT_TABLES = (
    "account_move",
    "account_move_line",
    "account_bank_statement_line",
)

_logger = logging.getLogger(__name__)


class FiBankStatementFile(models.Model):
    _name = "fi.bank.statement.file"
    _description = "Bank Statement File"
    _order = "id desc"

    name = fields.Char("File Name", required=True, readonly=True)
    journal_id = fields.Many2one(
        "account.journal", required=True, readonly=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one(related="journal_id.company_id", store=True)
    sha256 = fields.Char("SHA-256", readonly=True, index=True)
    size = fields.Integer(readonly=True)
    file_format = fields.Char("Format", readonly=True)
    source = fields.Selection(
        [("upload", "Upload"), ("folder", "Watched folder"), ("api", "Bank API")],
        default="upload",
        readonly=True,
    )
    state = fields.Selection(
        [("done", "Imported"), ("refused", "Refused")], readonly=True, index=True
    )
    error = fields.Text(readonly=True)
    result = fields.Text(readonly=True, help="What the file brought, per statement.")
    duplicate_of_id = fields.Many2one(
        "fi.bank.statement.file", "First Import", readonly=True
    )
    statement_ids = fields.One2many(
        "account.bank.statement", "fi_file_id", "Statements", readonly=True
    )
    line_count = fields.Integer("New Lines", readonly=True)
    fi_correlation_id = fields.Char("Correlation ID", readonly=True, index=True)

    # ------------------------------------------------------------------
    @api.model
    def _fi_import_files(self, journal, files, source="upload", correlation_id=None):
        """Import ``files`` ([(name, bytes)], zips unpacked) into ``journal``;
        one log row per file, each file all or nothing."""
        out = self.browse()
        for name, data in self._fi_unzip(files):
            out |= self._fi_import_one(journal, name, data, source, correlation_id)
        return out

    @api.model
    def _fi_unzip(self, files):
        for name, data in files:
            if data[:4] == b"PK\x03\x04":
                with zipfile.ZipFile(io.BytesIO(data)) as archive:
                    members = [m for m in archive.infolist() if not m.is_dir()]
                    if len(members) > MAX_ZIP_MEMBERS:
                        raise UserError(
                            _(
                                "%(zip)s: more than %(n)s files.",
                                zip=name,
                                n=MAX_ZIP_MEMBERS,
                            )
                        )
                    for member in members:
                        if member.file_size > MAX_FILE_BYTES:
                            raise UserError(
                                _(
                                    "%(zip)s/%(f)s is too large.",
                                    zip=name,
                                    f=member.filename,
                                )
                            )
                        yield f"{name}/{member.filename}", archive.read(member)
            else:
                yield name, data

    @api.model
    def _fi_import_one(self, journal, name, data, source, correlation_id=None):
        correlation_id = correlation_id or uuid.uuid4().hex
        digest = sha256_hex(data)
        vals = {
            "name": name,
            "journal_id": journal.id,
            "sha256": digest,
            "size": len(data),
            "source": source,
            "fi_correlation_id": correlation_id,
        }
        audit = self.env["fi.audit"]
        first = self.search(
            [
                ("journal_id", "=", journal.id),
                ("sha256", "=", digest),
                ("state", "=", "done"),
            ],
            limit=1,
        )
        if first:
            record = self.create(
                dict(
                    vals,
                    state="refused",
                    duplicate_of_id=first.id,
                    error=_(
                        "%(name)s: the same file (SHA-256 %(sha)s) was already "
                        "imported on %(when)s as %(first)s.",
                        name=name,
                        sha=digest[:12],
                        when=first.create_date,
                        first=first.display_name,
                    ),
                )
            )
            audit._fi_event(
                "statement.file.refused",
                record.error,
                record=record,
                correlation_id=correlation_id,
                facts={"sha256": digest, "duplicate_of": first.id},
            )
            return record
        try:
            with self.env.cr.savepoint():
                record = self.create(dict(vals, state="done"))
                audit._fi_event(
                    "statement.file.received",
                    _("%s received for %s", name, journal.display_name),
                    record=record,
                    correlation_id=correlation_id,
                    facts={"sha256": digest, "size": len(data), "source": source},
                )
                record._fi_process(data)
        except (StatementError, UserError) as err:
            record = self.create(dict(vals, state="refused", error=str(err)))
            audit._fi_event(
                "statement.file.refused",
                str(err)[:500],
                record=record,
                correlation_id=correlation_id,
                facts={"sha256": digest},
            )
        return record

    # ------------------------------------------------------------------
    def _fi_process(self, data):
        self.ensure_one()
        journal = self.journal_id
        if b"pain.002.001" in data[:4096]:
            self.file_format = "pain.002"
            self.result = self.env["fi.bank.payment.order"]._fi_import_status(
                pain.parse_pain002(data, self.name), self
            )
            return
        profile = (
            journal.fi_csv_profile_id._fi_profile()
            if journal.fi_csv_profile_id
            else None
        )
        parsed = st_lib.parse(data, self.name, csv_profile=profile)
        account = journal.bank_account_id.acc_number or ""
        currency = (journal.currency_id or journal.company_id.currency_id).name
        for stmt in parsed:
            st_lib.check_balances(stmt, self.name)
            st_lib.check_account(stmt, account, currency, self.name)
            st_lib.assign_ids(stmt, split_batches=journal.fi_split_batches)
        self.file_format = parsed[0].kind + (
            f".001.{parsed[0].version}" if parsed[0].version else ""
        )
        results = []
        total = 0
        for stmt in parsed:
            text, count = self._fi_import_statement(stmt)
            results.append(text)
            total += count
        self.result = "\n".join(results)
        self.line_count = total

    def _fi_identity(self, stmt):
        account = normalize_iban(stmt.account) or str(self.journal_id.id)
        period = f"{stmt.date_from or stmt.date}/{stmt.date_to or stmt.date}"
        return f"{stmt.kind}|{account}|{stmt.statement_id}|{period}"

    def _fi_import_statement(self, stmt):
        journal = self.journal_id
        Statement = self.env["account.bank.statement"]
        Line = self.env["account.bank.statement.line"]
        identity = self._fi_identity(stmt)
        existing = Statement.search(
            [("journal_id", "=", journal.id), ("fi_identity", "=", identity)], limit=1
        )
        # lines already there: same import id, or same entry (split setting changed)
        ids = [line.import_id for line in stmt.lines]
        keys = list({line.entry_key for line in stmt.lines})
        known = set()
        for chunk in range(0, len(ids), 5000):
            found = Line.search_read(
                [
                    ("journal_id", "=", journal.id),
                    "|",
                    ("fi_import_id", "in", ids[chunk : chunk + 5000]),
                    ("fi_entry_key", "in", keys[chunk : chunk + 5000]),
                ],
                ["fi_import_id", "fi_entry_key"],
            )
            known.update(r["fi_import_id"] for r in found)
            known.update(
                "entry:" + r["fi_entry_key"] for r in found if r["fi_entry_key"]
            )
        new_lines = [
            line
            for line in stmt.lines
            if line.import_id not in known and "entry:" + line.entry_key not in known
        ]
        label = stmt.statement_id or identity
        if existing and not new_lines:
            raise UserError(
                _(
                    "%(file)s: statement %(stmt)s was already imported (%(first)s); "
                    "the file brings no new line.",
                    file=self.name,
                    stmt=label,
                    first=existing.display_name,
                )
            )
        held_reasons = [] if existing else self._fi_continuity(stmt)
        line_vals = [self._fi_line_vals(stmt, line) for line in new_lines]
        opening, closing, available = stmt.opening, stmt.closing, stmt.available
        if existing:
            Line.create([dict(v, statement_id=existing.id) for v in line_vals])
            if closing:
                existing.balance_end_real = float(closing.amount)
            statement = existing
            text = _(
                "%(stmt)s: re-sent with %(new)s new lines (%(old)s already imported); "
                "balances checked on the whole file.",
                stmt=label,
                new=len(new_lines),
                old=len(stmt.lines) - len(new_lines),
            )
        else:
            statement = Statement.create(
                {
                    "name": label,
                    "reference": self.name,
                    "journal_id": journal.id,
                    "date": stmt.date
                    or (new_lines and max(x.date for x in new_lines))
                    or fields.Date.today(),
                    "balance_start": float(opening.amount) if opening else 0.0,
                    "balance_end_real": float(closing.amount)
                    if closing
                    else float(
                        (opening.amount if opening else 0)
                        + sum(x.amount for x in stmt.lines)
                    ),
                    "fi_identity": identity,
                    "fi_kind": stmt.kind,
                    "fi_sequence": stmt.sequence,
                    "fi_file_id": self.id,
                    "fi_state": "held" if held_reasons else "ok",
                    "fi_held_reason": "\n".join(held_reasons) or False,
                    "fi_available_balance": float(available.amount)
                    if available
                    else 0.0,
                    "fi_available_date": available.date if available else False,
                    "fi_booked_date": closing.date if closing else stmt.date,
                    "fi_correlation_id": self.fi_correlation_id,
                }
            )
            self._fi_create_lines(statement, line_vals)
            skipped = len(stmt.lines) - len(new_lines)
            text = _("%(stmt)s: %(n)s lines imported", stmt=label, n=len(new_lines))
            if skipped:
                text += _(" (%s already known from an earlier report)", skipped)
        if not existing and held_reasons:
            text += _(" - HELD: %s", "; ".join(held_reasons))
            journal._fi_open_exception(
                statement,
                "bank.statement.held",
                _(
                    "Statement %(s)s of %(j)s held: %(r)s",
                    s=label,
                    j=journal.display_name,
                    r="; ".join(held_reasons),
                ),
                self.fi_correlation_id,
            )
            journal._fi_alert_owner(
                statement, _("Bank statement held"), "; ".join(held_reasons)
            )
        self.env["fi.audit"]._fi_event(
            "statement.held" if held_reasons and not existing else "statement.imported",
            text,
            record=statement,
            correlation_id=self.fi_correlation_id,
            facts={
                "identity": identity,
                "lines": len(new_lines),
                "opening": str(opening.amount) if opening else None,
                "closing": str(closing.amount) if closing else None,
                "file_sha256": self.sha256,
            },
        )
        return text, len(new_lines)

    def _fi_create_lines(self, statement, line_vals, chunk=CHUNK):
        """Create the lines (each with its move, posted) in chunks, flushed,
        with the progress reported after each: Odoo's ``create`` for the first
        line of each sequence period of a chunk, its rows copied for the
        others (``account_bank_statement_line_batch.py``; Odoo's ``create``
        for all where the copy is not proven equivalent).

        Chatter tracking of the lines' moves is off (the import is audited
        through ``fi.audit``, per file and statement). After the first chunk the
        planner statistics of the tables are refreshed when they do not know
        about the rows just written (a young database): Odoo's posting queries
        otherwise get nested-loop plans over tables believed empty, which made
        a 10,000-line import quadratic. The statement's fields computed from
        all its lines are computed after the first chunk and the last (each
        chunk would recompute them over all the lines so far: quadratic too).
        """
        chunk = self.env.context.get("fi_chunk") or chunk
        Line = self.env["account.bank.statement.line"].with_context(
            tracking_disable=True, mail_notrack=True, mail_create_nolog=True
        )
        progress = self.env.context.get("fi_progress")
        # the statement's fields computed from all its lines (journal, date,
        # end balance, ...): after the first chunk and the last, not after each
        Statement = self.env["account.bank.statement"]
        totals = [
            field
            for field in Statement._fields.values()
            if field.store
            and field.compute
            and any(
                dep.split(".")[0] == "line_ids"
                for dep in field.get_depends(Statement)[0]
            )
        ]
        with contextlib.ExitStack() as deferred:
            for start in range(0, len(line_vals), chunk):
                Line._fi_create_batched(
                    [
                        dict(v, statement_id=statement.id)
                        for v in line_vals[start : start + chunk]
                    ]
                )
                self.env.flush_all()
                if not start:
                    self._fi_refresh_stale_statistics(min(chunk, len(line_vals)))
                    # set by the first chunk (the journal, ...), then deferred
                    deferred.enter_context(self.env.protecting(totals, statement))
                if progress:
                    progress(
                        statement.fi_identity,
                        min(start + chunk, len(line_vals)),
                        len(line_vals),
                    )
        for field in totals:
            self.env.add_to_compute(field, statement)
        self.env.flush_all()

    def _fi_refresh_stale_statistics(self, written):
        """ANALYZE the statement tables whose statistics count fewer rows than
        this import has just written (never on a database in use for a while;
        skipped, not waited for, when another session holds the lock)."""
        cr = self.env.cr
        cr.execute(
            "SELECT relname FROM pg_class WHERE relname IN %s AND relkind = 'r' "
            "AND reltuples < %s",
            (STAT_TABLES, 2 * written),
        )
        stale = [table for (table,) in cr.fetchall()]
        if not stale:
            return
        cr.execute("SHOW lock_timeout")
        (lock_timeout,) = cr.fetchone()
        for table in stale:
            try:
                with cr.savepoint(flush=False):
                    cr.execute("SET LOCAL lock_timeout = '1s'")
                    cr.execute(SQL("ANALYZE %s", SQL.identifier(table)))
            except psycopg2.Error:
                _logger.info("statistics of %s not refreshed (busy)", table)
        cr.execute("SELECT set_config('lock_timeout', %s, true)", (lock_timeout,))

    def _fi_continuity(self, stmt):
        """Why the statement does not follow the journal's previous one (or [])."""
        if stmt.kind not in CHAINED:
            return []
        previous = self.env["account.bank.statement"].search(
            [("journal_id", "=", self.journal_id.id), ("fi_kind", "in", CHAINED)],
            order="date desc, id desc",
            limit=1,
        )
        if not previous:
            return []
        reasons = []
        currency = self.journal_id.fi_currency_id
        opening = stmt.opening
        if opening and currency.compare_amounts(
            previous.balance_end_real, float(opening.amount)
        ):
            reasons.append(
                _(
                    "opening balance %(o)s is not the previous closing %(c)s (%(p)s)",
                    o=opening.amount,
                    c=previous.balance_end_real,
                    p=previous.name,
                )
            )
        prev_no, new_no = _seq_no(previous.fi_sequence), _seq_no(stmt.sequence)
        if prev_no is not None and new_no is not None and new_no != prev_no + 1:
            reasons.append(
                _(
                    "sequence %(n)s does not follow %(p)s (gap or repeat)",
                    n=stmt.sequence,
                    p=previous.fi_sequence,
                )
            )
        return reasons

    def _fi_line_vals(self, stmt, line):
        journal = self.journal_id
        amount = float(line.amount)
        vals = {
            "journal_id": journal.id,
            "date": line.date or stmt.date,
            "amount": amount,
            "payment_ref": line.payment_ref
            or line.creditor_ref
            or line.end_to_end_id
            or line.bank_ref
            or "/",
            "partner_name": line.counterparty_name or False,
            "account_number": line.counterparty_iban or False,
            "transaction_type": line.bank_code or False,
            "fi_import_id": line.import_id,
            "fi_entry_key": line.entry_key,
            "fi_bank_ref": line.bank_ref or False,
            "fi_end_to_end_id": line.end_to_end_id or False,
            "fi_creditor_ref": line.creditor_ref or False,
            "fi_counterparty_vat": line.counterparty_vat or False,
            "fi_value_date": line.value_date or False,
            "fi_reversal": line.reversal,
            "fi_charges": float(line.charges),
            "fi_location": line.location,
            "fi_correlation_id": self.fi_correlation_id,
        }
        journal_ccy = journal.fi_currency_id.name
        if line.currency and line.currency != journal_ccy:
            foreign = self.env["res.currency"].search(
                [("name", "=", line.currency)], limit=1
            )
            if foreign:
                vals["foreign_currency_id"] = foreign.id
                vals["amount_currency"] = amount
        return vals

    def action_open_first_import(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.duplicate_of_id.id,
            "view_mode": "form",
        }


def _seq_no(sequence):
    head = (sequence or "").split("/")[0].strip()
    return int(head) if head.isdigit() else None


class FiBankStatementFileJob(models.Model):
    _inherit = "fi.bank.statement.file"

    @api.model
    def _fi_import_job(self, journal_id, attachment_ids):
        """A large import as a queue job, its progress on an ``fi.bank.import``
        (created here, it shows only the final state: the wizard creates it
        before the job, so that its progress shows while the job runs)."""
        run = self.env["fi.bank.import"].create(
            {
                "name": _(
                    "Import into %s",
                    self.env["account.journal"].browse(journal_id).name,
                ),
                "journal_id": journal_id,
                "attachment_ids": [fields.Command.set(attachment_ids)],
            }
        )
        return run._fi_run()
