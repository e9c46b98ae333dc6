# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

OPERATOR_GROUP = "finance_integration_core.group_fi_operator"


class FiValueMapAddWizard(models.TransientModel):
    """Add the mapping an exception misses, then replay its message.

    A map under four eyes gets the mapping in its pending version (a new one
    copied from the active version if none), submitted for approval: the
    message is replayed when another Manager activates it. Otherwise the
    mapping goes into the active version and the message is replayed now.
    """

    _name = "fi.value.map.add.wizard"
    _description = "Add Mapping and Replay"

    exception_id = fields.Many2one("fi.exception", required=True, readonly=True)
    map_id = fields.Many2one(related="exception_id.value_map_id")
    external_code = fields.Char(related="exception_id.missing_code")
    value_type = fields.Selection(related="map_id.value_type")
    target_model = fields.Char(related="map_id.target_model")
    target_model_id = fields.Many2one(related="map_id.target_model_id")
    require_four_eyes = fields.Boolean(related="map_id.require_four_eyes")
    value_ref = fields.Reference(
        selection="_selection_target_models", string="Odoo Record"
    )
    value_char = fields.Char("Plain Value")
    note = fields.Char()

    @api.model
    def _selection_target_models(self):
        return self.env["fi.value.map.line"]._selection_target_models()

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        exception = self.env["fi.exception"].browse(values.get("exception_id"))
        model = exception.value_map_id.target_model
        if "value_ref" in fields_list and model and not values.get("value_ref"):
            first = self.env[model].search([], limit=1)
            values["value_ref"] = f"{model},{first.id}" if first else False
        return values

    def action_confirm(self):
        self.ensure_one()
        if not self.env.user.has_group(OPERATOR_GROUP):
            raise AccessError(
                _("Only Finance Integration Operators may add a missing mapping.")
            )
        exception = self.exception_id
        exception._check_open()
        vmap = self.map_id.sudo()
        if not vmap or not self.external_code:
            raise UserError(
                _("Exception %s is not about a missing mapping.", exception.name)
            )
        line = {
            "external_code": self.external_code,
            "value_ref": f"{self.value_ref._name},{self.value_ref.id}"
            if self.value_ref and self.value_type == "record"
            else False,
            "value_char": self.value_char if self.value_type == "char" else False,
            "note": self.note or _("Added from exception %s", exception.name),
        }
        if not vmap.require_four_eyes and vmap.active_version_id:
            vmap.active_version_id._fi_add_line(line)
            exception.action_replay()
            return self._notify(
                _("Mapping added"),
                _("%s is processed again.", exception.fi_message_id.display_name),
            )
        version = vmap.pending_version_id
        if version.state == "approved":
            raise UserError(
                _(
                    "%s is approved and waits for activation: activate it, then "
                    "add this mapping.",
                    version.display_name,
                )
            )
        version = version or vmap._fi_new_version(
            _("Missing mappings from the exception queue")
        )
        version._fi_add_line(line)
        if version.state == "draft":
            version.action_submit()
        exception.sudo().write(
            {"mapping_version_id": version.id, "state": "in_progress"}
        )
        exception._message_log(
            body=_(
                "Mapping %(code)s added to %(version)s by %(user)s; the message is "
                "replayed when another Manager approves and activates it.",
                code=self.external_code,
                version=version.display_name,
                user=self.env.user.name,
            )
        )
        return self._notify(
            _("Mapping submitted for approval"),
            _(
                "%s waits for a Manager's approval; the message is replayed on "
                "activation.",
                version.display_name,
            ),
        )

    def _notify(self, title, message):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": title,
                "message": message,
                "type": "success",
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
