# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import _, api, fields, models
from odoo.exceptions import UserError


class FiAddMappingWizard(models.TransientModel):
    """Add the missing mapping of an exception, then replay its message."""

    _name = "fi.add.mapping.wizard"
    _description = "Add Missing Mapping and Replay"

    exception_id = fields.Many2one("fi.exception", required=True)
    value_map_id = fields.Many2one(related="exception_id.value_map_id")
    value_type = fields.Selection(related="exception_id.value_map_id.value_type")
    target_model = fields.Char(related="exception_id.value_map_id.target_model")
    external_code = fields.Char(related="exception_id.missing_code")
    value_ref = fields.Reference(
        selection="_selection_target_models", string="Odoo Record"
    )
    value_char = fields.Char("Plain Value")

    @api.model
    def _selection_target_models(self):
        return self.env["fi.value.map.line"]._selection_target_models()

    def action_add_and_replay(self):
        self.ensure_one()
        item = self.exception_id
        self.env["fi.message"]._fi_check_operator()
        if not item.value_map_id or not item.missing_code:
            raise UserError(
                _("Exception %s is not about a missing mapping.", item.name)
            )
        item.value_map_id.sudo().line_ids = [
            (
                0,
                0,
                {
                    "external_code": item.missing_code,
                    "value_ref": self.value_ref
                    and f"{self.value_ref._name},{self.value_ref.id}",
                    "value_char": self.value_char,
                },
            )
        ]
        item.value_map_id.sudo()._message_log(
            body=_(
                "Mapping %(code)s added by %(user)s from exception %(item)s.",
                code=item.missing_code,
                user=self.env.user.name,
                item=item.name,
            )
        )
        item.action_replay()
        return {"type": "ir.actions.act_window_close"}
