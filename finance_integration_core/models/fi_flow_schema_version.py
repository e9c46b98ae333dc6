# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..lib.schema import SchemaDefinitionError, compiled_validator
from .fi_change_log import CHANGE_CONTROL, is_change_control

SCHEMA_FIELDS = ("schema_json", "schema_version")


class FiFlowSchemaVersion(models.Model):
    """One version of a flow's JSON Schema (draft 2020-12), under change
    control. Activating it writes the flow's ``schema_json`` and
    ``schema_version``, which processing validates every message against."""

    _name = "fi.flow.schema.version"
    _description = "Finance Integration Flow Schema Version"
    _inherit = ["fi.change.control.mixin"]
    _fi_subject_field = "flow_id"
    _fi_content_fields = ("schema_json",)

    flow_id = fields.Many2one("fi.flow", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(
        related="flow_id.company_id", store=True, index=True, precompute=True
    )
    schema_json = fields.Text("JSON Schema", required=True, default="{}")

    @api.depends("flow_id.name", "version")
    def _compute_display_name(self):
        for version in self:
            version.display_name = _(
                "%(flow)s schema v%(version)s",
                flow=version.flow_id.name,
                version=version.version,
            )

    @api.constrains("schema_json")
    def _check_schema_json(self):
        for version in self:
            try:
                compiled_validator(version.schema_json)
            except SchemaDefinitionError as err:
                raise ValidationError(
                    _("%(version)s: %(error)s", version=version.display_name, error=err)
                ) from None

    def _fi_on_activate(self):
        self.flow_id.with_context(fi_change_control=CHANGE_CONTROL).write(
            {"schema_json": self.schema_json, "schema_version": str(self.version)}
        )


class FiFlow(models.Model):
    _inherit = "fi.flow"

    schema_version_ids = fields.One2many(
        "fi.flow.schema.version", "flow_id", "Schema Versions"
    )

    def write(self, vals):
        if set(vals) & set(SCHEMA_FIELDS) and not is_change_control(self.env):
            governed = self.filtered("schema_version_ids")
            if governed:
                raise UserError(
                    _(
                        "The JSON schema of flow %s is under change control: "
                        "create a new schema version and have another Manager "
                        "approve it.",
                        governed[0].name,
                    )
                )
        return super().write(vals)

    def action_new_schema_version(self):
        """Open the pending schema version, or a new draft of the current one."""
        self.ensure_one()
        versions = self.env["fi.flow.schema.version"]
        pending = versions.search(
            [
                ("flow_id", "=", self.id),
                ("state", "in", ("draft", "submitted", "approved")),
            ],
            limit=1,
        )
        version = pending or versions.create(
            {"flow_id": self.id, "schema_json": self.schema_json or "{}"}
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": "fi.flow.schema.version",
            "res_id": version.id,
            "view_mode": "form",
        }
