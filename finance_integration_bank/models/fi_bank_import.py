# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""One background import (several files or a zip) and its progress.

The job imports in its own transaction (each statement file all or nothing);
its progress (lines done / total) is written through a separate, short
transaction after every chunk of lines, so the import's form shows it while the
job runs. The job's own transaction never writes or references this row (under
Odoo's repeatable-read isolation its write would fail against the progress
updates committed meanwhile): the final state and result are written the same
way once the job's transaction has committed (or rolled back). The files of the
import are the ones carrying its correlation id.
"""

import base64
import uuid

from odoo import _, api, fields, models


class FiBankImport(models.Model):
    _name = "fi.bank.import"
    _description = "Bank Statement Import"
    _order = "id desc"

    name = fields.Char(required=True, readonly=True)
    journal_id = fields.Many2one(
        "account.journal", required=True, readonly=True, ondelete="cascade"
    )
    company_id = fields.Many2one(related="journal_id.company_id", store=True)
    attachment_ids = fields.Many2many("ir.attachment", string="Files", readonly=True)
    state = fields.Selection(
        [
            ("queued", "Queued"),
            ("running", "Running"),
            ("done", "Done"),
            ("failed", "Failed"),
        ],
        default="queued",
        readonly=True,
        index=True,
    )
    lines_total = fields.Integer("Lines to Import", readonly=True)
    lines_done = fields.Integer("Lines Imported", readonly=True)
    progress = fields.Float(compute="_compute_progress", help="Lines done / total.")
    fi_correlation_id = fields.Char(
        "Correlation ID",
        readonly=True,
        index=True,
        copy=False,
        default=lambda self: uuid.uuid4().hex,
    )
    file_ids = fields.Many2many(
        "fi.bank.statement.file", compute="_compute_file_ids", string="Statement Files"
    )
    result = fields.Text(readonly=True)

    def _compute_file_ids(self):
        Files = self.env["fi.bank.statement.file"]
        for run in self:
            run.file_ids = (
                Files.search([("fi_correlation_id", "=", run.fi_correlation_id)])
                if run.fi_correlation_id
                else Files
            )

    @api.depends("lines_done", "lines_total", "state")
    def _compute_progress(self):
        for run in self:
            if run.state == "done":
                run.progress = 100.0
            elif run.lines_total:
                run.progress = min(100.0, 100.0 * run.lines_done / run.lines_total)
            else:
                run.progress = 0.0

    def _fi_report_progress(self, done, total, state="running", result=None):
        """Write the progress in its own committed transaction (visible to the
        user at once, kept even if the import is then refused)."""
        self.ensure_one()
        with self.env.registry.cursor() as cr:
            cr.execute(
                "UPDATE fi_bank_import SET lines_done = %s, lines_total = %s, "
                "state = %s, result = COALESCE(%s, result) WHERE id = %s",
                (done, total, state, result, self.id),
            )

    def _fi_run(self):
        """The job: import the attachments into the journal, then match."""
        self.ensure_one()
        files = [
            (att.name, base64.b64decode(att.datas or b""))
            for att in self.attachment_ids
        ]
        # statement identity -> (done, total): the progress sums every statement
        seen = {}

        def totals():
            return (
                sum(d for d, _t in seen.values()),
                sum(t for _d, t in seen.values()),
            )

        def progress(key, done, total):
            seen[key] = (min(done, total), total)
            self._fi_report_progress(*totals())

        cr = self.env.cr
        cr.postrollback.add(
            lambda: self._fi_report_progress(
                *totals(), "failed", _("The import failed and was rolled back.")
            )
        )
        self._fi_report_progress(0, 0)
        records = (
            self.env["fi.bank.statement.file"]
            .with_context(fi_progress=progress)
            ._fi_import_files(
                self.journal_id, files, correlation_id=self.fi_correlation_id
            )
        )
        records.statement_ids.line_ids._fi_auto_match()
        result = "\n".join(f"{r.name}: {r.result or r.error}" for r in records)
        state = "done" if all(r.state == "done" for r in records) else "failed"
        done, total = totals()
        cr.postcommit.add(lambda: self._fi_report_progress(done, total, state, result))
        return result

    def action_open_files(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Statement Files"),
            "res_model": "fi.bank.statement.file",
            "domain": [("fi_correlation_id", "=", self.fi_correlation_id)],
            "view_mode": "list,form",
        }
