# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""One background import (several files or a zip) and its progress.

The job imports in its own transaction (one per statement file, nothing
half-written); its progress (lines done / total) is written through a separate,
short transaction after every chunk of lines, so the import's form shows it
while the job runs. The job's own transaction never writes this row before it
ends (the progress updates would otherwise wait for its lock).
"""

import base64

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
    file_ids = fields.One2many(
        "fi.bank.statement.file", "import_id", "Statement Files", readonly=True
    )
    result = fields.Text(readonly=True)

    @api.depends("lines_done", "lines_total", "state")
    def _compute_progress(self):
        for run in self:
            if run.state == "done":
                run.progress = 100.0
            elif run.lines_total:
                run.progress = min(100.0, 100.0 * run.lines_done / run.lines_total)
            else:
                run.progress = 0.0

    def _fi_report_progress(self, done, total, state="running"):
        """Write the progress in its own committed transaction (visible to the
        user at once, kept even if the import is then refused)."""
        self.ensure_one()
        with self.env.registry.cursor() as cr:
            cr.execute(
                "UPDATE fi_bank_import SET lines_done = %s, lines_total = %s, "
                "state = %s WHERE id = %s",
                (done, total, state, self.id),
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

        def progress(key, done, total):
            seen[key] = (min(done, total), total)
            self._fi_report_progress(
                sum(d for d, _t in seen.values()), sum(t for _d, t in seen.values())
            )

        self._fi_report_progress(0, 0)
        try:
            records = (
                self.env["fi.bank.statement.file"]
                .with_context(fi_progress=progress)
                ._fi_import_files(self.journal_id, files)
            )
        except Exception:
            done = sum(d for d, _t in seen.values())
            self._fi_report_progress(done, sum(t for _d, t in seen.values()), "failed")
            raise
        records.write({"import_id": self.id})
        records.statement_ids.line_ids._fi_auto_match()
        result = "\n".join(f"{r.name}: {r.result or r.error}" for r in records)
        done = sum(d for d, _t in seen.values())
        self.write(
            {
                "state": "done"
                if all(r.state == "done" for r in records)
                else "failed",
                "lines_done": done,
                "lines_total": sum(t for _d, t in seen.values()),
                "result": result,
            }
        )
        return result

    def action_open_files(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Statement Files"),
            "res_model": "fi.bank.statement.file",
            "domain": [("import_id", "=", self.id)],
            "view_mode": "list,form",
        }
