# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import base64
import json
import os

from odoo import _, fields, models
from odoo.exceptions import UserError

from odoo.addons.finance_integration_core.lib.errors import FiBusinessError
from odoo.addons.finance_integration_core.lib.http import raise_for_outcome

from ..lib.kpi import rate_text


class FiEndpoint(models.Model):
    """The bank as an endpoint: it carries the journal's exceptions (every
    fi.exception hangs on a message) and the scheduled sources of statements
    (a watched folder, a bank API pulled through ``_fi_request``)."""

    _inherit = "fi.endpoint"

    provider = fields.Selection(
        selection_add=[("bank", "Bank statements")], ondelete={"bank": "set default"}
    )
    fi_bank_journal_id = fields.Many2one(
        "account.journal", "Bank Journal", domain=[("type", "=", "bank")]
    )
    fi_bank_folder = fields.Char(
        "Watched Folder",
        help="Statement files dropped here are imported by the scheduled flow "
        "and moved to its done/ or refused/ subfolder.",
    )
    fi_bank_api_path = fields.Char(
        "Statements API Path",
        help="Relative to the base URL: GET returns {'files': [{'name', 'content' "
        "(base64)}]} of new statement files.",
    )

    def _fi_batch_units(self, flow):
        if self.provider != "bank":
            return super()._fi_batch_units(flow)
        units = []
        folder = self.fi_bank_folder
        if folder and os.path.isdir(folder):
            for name in sorted(os.listdir(folder)):
                path = os.path.join(folder, name)
                if os.path.isfile(path) and not name.startswith("."):
                    units.append({"key": f"file:{name}", "path": path, "name": name})
        if self.fi_bank_api_path:
            units.append({"key": f"api:{fields.Datetime.now()}", "api": True})
        return units

    def _fi_handle_batch_unit(self, flow, unit):
        if self.provider != "bank":
            return super()._fi_handle_batch_unit(flow, unit)
        journal = self.fi_bank_journal_id
        if not journal:
            raise FiBusinessError(
                _("Endpoint %s has no bank journal.", self.display_name),
                "configuration",
            )
        Files = self.env["fi.bank.statement.file"]
        if unit.get("path"):
            with open(unit["path"], "rb") as handle:
                data = handle.read()
            result = Files._fi_import_files(
                journal, [(unit["name"], data)], source="folder"
            )
            target = "done" if result[0].state == "done" else "refused"
            os.makedirs(os.path.join(self.fi_bank_folder, target), exist_ok=True)
            os.replace(
                unit["path"], os.path.join(self.fi_bank_folder, target, unit["name"])
            )
            return f"{unit['name']}: {result[0].state}"
        url = self.base_url.rstrip("/") + "/" + self.fi_bank_api_path.lstrip("/")
        result = self._fi_request("GET", url, None, self._fi_outbound_headers(None))
        raise_for_outcome(result, "bank statements API")
        files = [
            (item["name"], base64.b64decode(item["content"]))
            for item in json.loads(result.body or "{}").get("files", [])
        ]
        done = Files._fi_import_files(journal, files, source="api")
        return f"{len(done)} files: " + ", ".join(f"{f.name} {f.state}" for f in done)

    def _fi_test_connection(self):
        if self.provider != "bank":
            return super()._fi_test_connection()
        if self.fi_bank_folder and not os.path.isdir(self.fi_bank_folder):
            raise UserError(_("Folder %s does not exist.", self.fi_bank_folder))
        return _("Bank endpoint for %s ready.", self.fi_bank_journal_id.display_name)

    # ------------------------------------------------------------------
    # period close and finance KPIs
    # ------------------------------------------------------------------
    def _fi_bank_journals(self):
        """The bank journals this endpoint carries."""
        return (
            self.env["account.journal"]
            .sudo()
            .with_context(active_test=False)
            .search([("fi_endpoint_id", "=", self.id)])
            | self.fi_bank_journal_id.sudo()
        )

    def _fi_close_blockers(self, date_from, date_to):
        if self.provider != "bank":
            return super()._fi_close_blockers(date_from, date_to)
        return self._fi_bank_journals()._fi_bank_close_blockers(date_from, date_to)

    def _fi_kpis(self, date_from, date_to):
        if self.provider != "bank":
            return super()._fi_kpis(date_from, date_to)
        journals = self._fi_bank_journals()
        if not journals:
            return []
        self.env["account.bank.statement.line"].flush_model(
            [
                "journal_id",
                "fi_import_id",
                "fi_match_state",
                "fi_auto_matched",
                "is_reconciled",
            ]
        )
        self.env["account.move"].flush_model(["date", "state"])
        self.env.cr.execute(
            """
            SELECT count(*),
                   count(*) FILTER (WHERE l.fi_match_state = 'matched'
                                      AND l.fi_auto_matched),
                   count(*) FILTER (WHERE (l.fi_match_state = 'matched'
                                           OR l.is_reconciled)
                                      AND l.fi_auto_matched IS NOT TRUE),
                   count(*) FILTER (WHERE l.fi_match_state IS DISTINCT FROM 'matched'
                                      AND l.is_reconciled IS NOT TRUE)
              FROM account_bank_statement_line l
              JOIN account_move m ON m.id = l.move_id
             WHERE l.journal_id = ANY(%s) AND l.fi_import_id IS NOT NULL
               AND m.state != 'cancel' AND m.date BETWEEN %s AND %s
            """,
            (journals.ids, date_from, date_to),
        )
        imported, auto, manual, unmatched = self.env.cr.fetchone()
        return [
            {
                "code": "bank_reconciliation_rate",
                "name": _("Reconciliation rate (auto-matched / imported lines)"),
                "value": rate_text(auto, imported),
            },
            {
                "code": "bank_manual_matches",
                "name": _("Manual matches (imported lines reconciled by a user)"),
                "value": str(manual),
            },
            {
                "code": "bank_unmatched_lines",
                "name": _("Open unmatched lines (imported, not reconciled)"),
                "value": str(unmatched),
            },
        ]
