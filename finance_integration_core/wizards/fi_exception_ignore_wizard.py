# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models


class FiExceptionIgnoreWizard(models.TransientModel):
    _name = "fi.exception.ignore.wizard"
    _description = "Ignore Finance Integration Exceptions"

    exception_ids = fields.Many2many(
        "fi.exception",
        default=lambda self: self.env["fi.exception"].browse(
            self.env.context.get("active_ids", [])
        ),
    )
    reason = fields.Text(required=True, help="Why no action is needed: kept on record.")

    def action_confirm(self):
        self.exception_ids.action_ignore(reason=self.reason)
        return {"type": "ir.actions.act_window_close"}
