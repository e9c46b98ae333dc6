# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import base64

from odoo import Command, _, api, fields, models

from ..lib import csvprofile
from ..lib.model import StatementError


class FiBankImportWizard(models.TransientModel):
    _name = "fi.bank.import.wizard"
    _description = "Import Bank Statements"

    journal_id = fields.Many2one(
        "account.journal", required=True, domain=[("type", "=", "bank")]
    )
    attachment_ids = fields.Many2many("ir.attachment", string="Files (or a zip)")
    preview = fields.Text(compute="_compute_preview")
    result = fields.Text(readonly=True)
    run_as_job = fields.Boolean(
        "Run in Background", help="Large files: import as a job with visible progress."
    )

    @api.depends("attachment_ids", "journal_id")
    def _compute_preview(self):
        for wizard in self:
            profile = wizard.journal_id.fi_csv_profile_id
            lines = []
            for att in wizard.attachment_ids:
                data = base64.b64decode(att.datas or b"")
                if profile and data.lstrip()[:1] not in (b"<", b"{", b":"):
                    try:
                        stmts = csvprofile.parse(data, profile._fi_profile(), att.name)
                        for line in stmts[0].lines[:10]:
                            lines.append(
                                f"{line.date}  {line.amount:>12}  "
                                f"{line.counterparty_name}  {line.payment_ref}"
                            )
                    except StatementError as err:
                        lines.append(str(err))
            wizard.preview = "\n".join(lines) or False

    def action_import(self):
        self.ensure_one()
        files = [
            (att.name, base64.b64decode(att.datas or b""))
            for att in self.attachment_ids
        ]
        if self.run_as_job:
            run = self.env["fi.bank.import"].create(
                {
                    "name": _(
                        "%(n)s files into %(j)s", n=len(files), j=self.journal_id.name
                    ),
                    "journal_id": self.journal_id.id,
                    "attachment_ids": [Command.set(self.attachment_ids.ids)],
                }
            )
            run.with_delay(description=run.name)._fi_run()
            return {
                "type": "ir.actions.act_window",
                "res_model": run._name,
                "res_id": run.id,
                "view_mode": "form",
            }
        else:
            records = self.env["fi.bank.statement.file"]._fi_import_files(
                self.journal_id, files
            )
            self.result = "\n".join(f"{r.name}: {r.result or r.error}" for r in records)
            statements = records.statement_ids
            statements.line_ids._fi_auto_match()
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }
