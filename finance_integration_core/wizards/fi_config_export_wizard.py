# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import base64

from odoo import _, fields, models


class FiConfigExportWizard(models.TransientModel):
    """Download the configuration of a company as a versioned JSON file
    (endpoints without secrets, flows, value maps, runbooks)."""

    _name = "fi.config.export.wizard"
    _description = "Finance Integration Configuration Export"

    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    file = fields.Binary("Configuration File", readonly=True)
    file_name = fields.Char(readonly=True)

    def action_export(self):
        self.ensure_one()
        text = (
            self.env["fi.config.transfer"]
            .with_company(self.company_id)
            ._fi_export_text(self.company_id)
        )
        stamp = fields.Date.to_string(fields.Date.context_today(self))
        self.write(
            {
                "file": base64.b64encode(text.encode()),
                "file_name": f"finance-integration-{self.company_id.id}-{stamp}.json",
            }
        )
        return {
            "type": "ir.actions.act_window",
            "name": _("Export Configuration"),
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }
