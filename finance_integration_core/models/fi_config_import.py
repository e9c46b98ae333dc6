# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import base64
import json

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..lib import config_transfer
from ..lib.config_transfer import ConfigFileError
from ..lib.hashing import sha256_hex


class FiConfigImport(models.Model):
    """A configuration file brought from another environment, under change
    control: the dry run shows per record and field what would be created,
    changed or left; a second Manager approves; activating it applies the
    file (refused if the database changed since the approved dry run)."""

    _name = "fi.config.import"
    _description = "Finance Integration Configuration Import"
    _inherit = ["fi.change.control.mixin"]
    _fi_subject_field = "company_id"
    _fi_content_fields = ("file", "file_name")

    company_id = fields.Many2one(
        "res.company",
        required=True,
        readonly=True,
        index=True,
        default=lambda self: self.env.company,
    )
    file = fields.Binary("Configuration File", attachment=True, copy=False)
    file_name = fields.Char(copy=False)
    file_sha256 = fields.Char("File SHA-256", readonly=True, copy=False)
    plan_json = fields.Text("Dry Run (JSON)", readonly=True, copy=False)
    dry_run_at = fields.Datetime(readonly=True, copy=False)
    plan_display = fields.Text("Dry Run", compute="_compute_plan")
    create_count = fields.Integer("To Create", compute="_compute_plan")
    update_count = fields.Integer("To Change", compute="_compute_plan")
    unchanged_count = fields.Integer("Unchanged", compute="_compute_plan")

    @api.depends("file_name", "version")
    def _compute_display_name(self):
        for record in self:
            record.display_name = _(
                "Configuration import v%(version)s (%(file)s)",
                version=record.version,
                file=record.file_name or _("no file"),
            )

    @api.depends("plan_json")
    def _compute_plan(self):
        for record in self:
            steps = json.loads(record.plan_json) if record.plan_json else []
            counts = config_transfer.counts(steps)
            record.plan_display = (
                config_transfer.format_plan(steps)
                if record.plan_json
                else _("Run the dry run to see what this file would change.")
            )
            record.create_count = counts["create"]
            record.update_count = counts["update"]
            record.unchanged_count = counts["unchanged"]

    def write(self, vals):
        res = super().write(vals)
        if "file" in vals:
            # a new file needs a new dry run
            self._fi_internal_write(
                {"plan_json": False, "dry_run_at": False, "file_sha256": False}
            )
        return res

    # ------------------------------------------------------------------
    # the file and its plan
    # ------------------------------------------------------------------
    def _fi_file_text(self):
        self.ensure_one()
        if not self.file:
            raise UserError(
                _("%s: upload a configuration file first.", self.display_name)
            )
        raw = base64.b64decode(self.file)
        try:
            return raw.decode("utf-8"), sha256_hex(raw)
        except UnicodeDecodeError:
            raise UserError(
                _("%s: the file is not UTF-8 text.", self.file_name or _("file"))
            ) from None

    def _fi_parsed(self):
        text, digest = self._fi_file_text()
        try:
            config = config_transfer.parse(text, self.file_name or "file")
        except ConfigFileError as err:
            raise UserError(str(err)) from None
        return config, digest

    def _fi_plan(self, config):
        transfer = self.env["fi.config.transfer"].with_company(self.company_id)
        current = transfer._fi_config_snapshot(self.company_id)
        return config_transfer.plan(current, config)

    def action_dry_run(self):
        """Compare the file with this database, record by record and field by
        field; nothing is written but the plan."""
        for record in self:
            if record.state != "draft":
                raise UserError(
                    _("%s was submitted: its dry run is frozen.", record.display_name)
                )
            config, digest = record._fi_parsed()
            steps = record._fi_plan(config)
            record._fi_check_values(config)
            record._fi_internal_write(
                {
                    "plan_json": json.dumps(steps, sort_keys=True),
                    "file_sha256": digest,
                    "dry_run_at": fields.Datetime.now(),
                }
            )
        return True

    def _fi_check_values(self, config):
        """Decode every value of the file (fields, selections, references to
        users, models, endpoints and mapped records) without writing, so
        that the dry run already names a wrong record and field."""
        transfer = self.env["fi.config.transfer"].with_company(self.company_id)
        file_name = self.file_name or "file"
        new_endpoints = {entry["key"] for entry in config["endpoints"]}
        for section in config_transfer.SECTIONS:
            model = transfer._fi_config_model(section)
            for entry in config[section]:
                where_field = transfer._fi_where(file_name, section, entry["key"])
                values = dict(entry["values"])
                lines = values.pop("lines", None)
                values.pop("shared", None)
                ref = values.get("endpoint_id")
                if isinstance(ref, dict) and ref.get("endpoint") in new_endpoints:
                    values.pop("endpoint_id")
                decoded = transfer._fi_decode_values(model, values, where_field)
                if section == "value_maps" and lines:
                    transfer._fi_decode_lines(
                        model.browse(), decoded, lines, where_field
                    )

    # ------------------------------------------------------------------
    # change control
    # ------------------------------------------------------------------
    def action_submit(self):
        for record in self:
            if not record.plan_json:
                raise UserError(
                    _("%s: run the dry run before submitting.", record.display_name)
                )
        return super().action_submit()

    def _fi_check_can_activate(self):
        """The database must still be what the approver saw in the dry run."""
        config, digest = self._fi_parsed()
        steps = self._fi_plan(config)
        if digest != self.file_sha256 or steps != json.loads(self.plan_json):
            raise UserError(
                _(
                    "%s: the configuration of this database changed since the "
                    "approved dry run. Import the file again, so that the new "
                    "dry run is approved.",
                    self.display_name,
                )
            )

    def _fi_on_activate(self):
        config, _digest = self._fi_parsed()
        note = _(
            "Imported from %(file)s (%(version)s)",
            file=self.file_name,
            version=self.display_name,
        )
        self.env["fi.config.transfer"].with_company(self.company_id)._fi_apply(
            config, self.file_name or "file", note
        )

    def action_rollback(self):
        raise UserError(
            _(
                "An applied import is not rolled back: export the configuration "
                "you want back and import that file."
            )
        )
