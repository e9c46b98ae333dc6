# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import _, api, fields, models

from ..lib.errors import FiMissingMappingError


class FiMessage(models.Model):
    _inherit = "fi.message"

    def _fi_handle_failure(self, err):
        """Hand the map and code of a missing mapping to the exception it
        opens, so that the operator can add the mapping in one click."""
        if isinstance(err, FiMissingMappingError) and err.map_id:
            self = self.with_context(fi_missing_mapping=(err.map_id, err.external_code))
        return super()._fi_handle_failure(err)


class FiException(models.Model):
    _inherit = "fi.exception"

    value_map_id = fields.Many2one(
        "fi.value.map", "Value Map", readonly=True, index=True, ondelete="set null"
    )
    missing_code = fields.Char("Unmapped Code", readonly=True, index=True)
    mapping_version_id = fields.Many2one(
        "fi.value.map.version",
        "Waiting For Version",
        readonly=True,
        ondelete="set null",
        help="The message is replayed when this version is activated.",
    )
    mapping_version_state = fields.Selection(
        related="mapping_version_id.state", string="Version State"
    )

    @api.model
    def _fi_open(self, message, reason_code, detail, category):
        item = super()._fi_open(message, reason_code, detail, category)
        item._fi_store_missing_mapping()
        return item

    def _fi_refresh(self, reason_code, detail, category):
        res = super()._fi_refresh(reason_code, detail, category)
        self._fi_store_missing_mapping()
        return res

    def _fi_store_missing_mapping(self):
        info = self.env.context.get("fi_missing_mapping")
        values = (
            {"value_map_id": info[0], "missing_code": info[1]}
            if info
            else {"value_map_id": False, "missing_code": False}
        )
        todo = self.filtered(lambda e: info or e.value_map_id)
        if todo:
            todo.sudo().write(dict(values, mapping_version_id=False))

    def action_add_mapping(self):
        """Open the "add mapping and replay" wizard of this exception."""
        self.ensure_one()
        self._check_open()
        return {
            "type": "ir.actions.act_window",
            "name": _("Add Mapping and Replay"),
            "res_model": "fi.value.map.add.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_exception_id": self.id},
        }
