# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import _, api, fields, models, tools
from odoo.exceptions import UserError, ValidationError

from ..lib.errors import FiMissingMappingError
from .fi_change_log import CHANGE_CONTROL, is_change_control
from .ir_actions_server import FiBusinessActionError


# a UserError too, so that it crosses safe_eval untouched when a flow's
# server action looks a code up (see ir_actions_server)
class FiMissingMapping(FiMissingMappingError, UserError):
    """Raised by ``fi.value.map.fi_lookup`` for an unmapped external code."""


class FiValueMap(models.Model):
    """A table of codes: external code -> Odoo record or plain value.

    Global (no endpoint) or for one endpoint, per company; versioned under
    change control: only the active version is read by ``fi_lookup``.
    """

    _name = "fi.value.map"
    _description = "Finance Integration Value Map"
    _inherit = ["mail.thread", "fi.lookup.cache.mixin"]
    _order = "code, endpoint_id, id"

    name = fields.Char(required=True, tracking=True)
    code = fields.Char(
        required=True,
        tracking=True,
        help="What handlers look the map up by, e.g. payment_method.",
    )
    endpoint_id = fields.Many2one(
        "fi.endpoint",
        index=True,
        ondelete="cascade",
        tracking=True,
        help="Empty: a global map. A map of an endpoint wins over the global "
        "map of the same code for that endpoint's codes.",
    )
    company_id = fields.Many2one(
        "res.company",
        index=True,
        default=lambda self: self.env.company,
        help="Empty: shared by all companies.",
    )
    value_type = fields.Selection(
        [("record", "Odoo record"), ("char", "Plain value")],
        required=True,
        default="record",
    )
    target_model_id = fields.Many2one(
        "ir.model",
        "Target Model",
        ondelete="cascade",
        domain=[("transient", "=", False)],
        help="Model of the records the codes map to.",
    )
    target_model = fields.Char(related="target_model_id.model", string="Model Name")
    require_four_eyes = fields.Boolean(
        default=True,
        tracking=True,
        help="New mappings go through a new version approved by a second "
        "Manager. Without it, operators add mappings to the active version "
        "directly (still logged).",
    )
    active_version_id = fields.Many2one(
        "fi.value.map.version", readonly=True, copy=False, tracking=True
    )
    version_ids = fields.One2many("fi.value.map.version", "map_id", "Versions")
    active_line_ids = fields.One2many(
        related="active_version_id.line_ids", string="Active Mappings"
    )
    pending_version_id = fields.Many2one(
        "fi.value.map.version", compute="_compute_pending_version_id"
    )

    @api.depends("version_ids.state")
    def _compute_pending_version_id(self):
        for vmap in self:
            vmap.pending_version_id = vmap.version_ids.filtered(
                lambda v: v.state in ("draft", "submitted", "approved")
            )[:1]

    @api.constrains("code", "endpoint_id", "company_id")
    def _check_unique_code(self):
        for vmap in self:
            clash = self.sudo().search_count(
                [
                    ("id", "!=", vmap.id),
                    ("code", "=", vmap.code),
                    ("endpoint_id", "=", vmap.endpoint_id.id),
                    ("company_id", "=", vmap.company_id.id),
                ]
            )
            if clash:
                raise ValidationError(
                    _(
                        "A value map with code %(code)s already exists for this "
                        "endpoint and company.",
                        code=vmap.code,
                    )
                )

    @api.constrains("value_type", "target_model_id")
    def _check_target_model(self):
        for vmap in self:
            if vmap.value_type == "record" and not vmap.target_model_id:
                raise ValidationError(
                    _("Value map %s maps to records: choose their model.", vmap.name)
                )

    @api.model_create_multi
    def create(self, vals_list):
        if not is_change_control(self.env):
            for vals in vals_list:
                vals.pop("active_version_id", None)
        return super().create(vals_list)

    def write(self, vals):
        if "active_version_id" in vals and not is_change_control(self.env):
            raise UserError(
                _("The active version of a value map changes by activating one.")
            )
        return super().write(vals)

    # ------------------------------------------------------------------
    # lookup
    # ------------------------------------------------------------------
    @api.model
    def fi_lookup(self, map_code, external_code, endpoint=None, company=None):
        """The Odoo record (or plain value) ``external_code`` maps to.

        Looks in the active version of the endpoint's map of ``map_code``,
        then of the global one. Raises a business error (reason
        ``missing_mapping``) naming the map and the code when neither has it.
        """
        company = company or (endpoint.company_id if endpoint else self.env.company)
        found = self._fi_lookup_cached(
            map_code, str(external_code), endpoint.id if endpoint else False, company.id
        )
        if found[0] == "no_map":
            raise FiBusinessActionError(
                _(
                    "No value map with code %(code)s exists for this endpoint "
                    "or company.",
                    code=map_code,
                ),
                "configuration",
            )
        if found[0] == "missing":
            vmap = self.sudo().browse(found[1])
            raise FiMissingMapping(
                _(
                    'Missing mapping: value map "%(map)s" (%(map_code)s) has no '
                    'entry for code "%(code)s". Add it, then replay.',
                    map=vmap.display_name,
                    map_code=map_code,
                    code=external_code,
                ),
                map_id=vmap.id,
                external_code=str(external_code),
            )
        if found[0] == "record":
            return self.env[found[1]].browse(found[2])
        return found[1]

    @api.model
    @tools.ormcache("map_code", "external_code", "endpoint_id", "company_id")
    def _fi_lookup_cached(self, map_code, external_code, endpoint_id, company_id):
        """Hashable answer of a lookup, cached per worker until any map,
        version or line changes (``registry.clear_cache`` reaches all)."""
        domain = [
            ("code", "=", map_code),
            "|",
            ("endpoint_id", "=", False),
            ("endpoint_id", "=", endpoint_id),
            "|",
            ("company_id", "=", False),
            ("company_id", "=", company_id),
        ]
        maps = (
            self.sudo()
            .search(domain)
            .sorted(lambda m: (not m.endpoint_id, not m.company_id, m.id))
        )
        if not maps:
            return ("no_map",)
        for vmap in maps:
            line = vmap.active_version_id.line_ids.filtered(
                lambda line: line.external_code == external_code
            )[:1]
            if line:
                if vmap.value_type == "record":
                    return ("record", line.value_ref._name, line.value_ref.id)
                return ("value", line.value_char)
        return ("missing", maps[0].id)

    # ------------------------------------------------------------------
    # versions
    # ------------------------------------------------------------------
    def _fi_new_version(self, note=None):
        """A draft copying the active version's lines."""
        self.ensure_one()
        active = self.active_version_id
        return self.env["fi.value.map.version"].create(
            {
                "map_id": self.id,
                "base_version_id": active.id,
                "change_note": note,
                "line_ids": [
                    (0, 0, line._fi_copy_values()) for line in active.line_ids
                ],
            }
        )

    def action_new_version(self):
        """Open the pending version, or a new draft of the active one."""
        self.ensure_one()
        version = self.pending_version_id or self._fi_new_version()
        return {
            "type": "ir.actions.act_window",
            "res_model": "fi.value.map.version",
            "res_id": version.id,
            "view_mode": "form",
        }

    def _fi_replay_waiting(self, codes):
        """Replay the messages whose exception waits for one of ``codes``."""
        waiting = (
            self.env["fi.exception"]
            .sudo()
            .search(
                [
                    ("value_map_id", "in", self.ids),
                    ("missing_code", "in", list(codes)),
                    ("state", "in", ("new", "in_progress")),
                ]
            )
        )
        if waiting:
            waiting.action_replay()
        return waiting


class FiValueMapVersion(models.Model):
    """One version of a value map: its lines, under change control."""

    _name = "fi.value.map.version"
    _description = "Finance Integration Value Map Version"
    _inherit = ["fi.change.control.mixin"]
    _fi_subject_field = "map_id"
    _fi_content_fields = ("line_ids",)

    map_id = fields.Many2one(
        "fi.value.map", "Value Map", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(
        related="map_id.company_id", store=True, index=True, precompute=True
    )
    value_type = fields.Selection(related="map_id.value_type")
    target_model = fields.Char(related="map_id.target_model")
    base_version_id = fields.Many2one(
        "fi.value.map.version",
        "Drafted From",
        readonly=True,
        copy=False,
        help="The version that was active when this one was drafted.",
    )
    line_ids = fields.One2many("fi.value.map.line", "version_id", "Mappings")
    line_count = fields.Integer(compute="_compute_line_count")

    @api.depends("line_ids")
    def _compute_line_count(self):
        for version in self:
            version.line_count = len(version.line_ids)

    @api.depends("map_id.name", "version")
    def _compute_display_name(self):
        for version in self:
            version.display_name = f"{version.map_id.name} v{version.version}"

    def _fi_check_can_activate(self):
        active = self.map_id.active_version_id
        if active and self.base_version_id != active:
            raise UserError(
                _(
                    "%(version)s was drafted from %(base)s but %(active)s is active "
                    "now: activating it would drop later mappings. Create a new "
                    "version from the active one.",
                    version=self.display_name,
                    base=self.base_version_id.display_name or _("nothing"),
                    active=active.display_name,
                )
            )

    def _fi_on_activate(self):
        self.map_id.with_context(fi_change_control=CHANGE_CONTROL).write(
            {"active_version_id": self.id}
        )
        self.map_id._fi_replay_waiting(self.line_ids.mapped("external_code"))

    def _fi_add_line(self, values, note=None):
        """Add a mapping to this version whatever its state (change control
        only: the add-mapping wizard, logged)."""
        self.ensure_one()
        line = (
            self.env["fi.value.map.line"]
            .with_context(fi_change_control=CHANGE_CONTROL)
            .create(dict(values, version_id=self.id))
        )
        self._fi_add_contributor()
        self.env["fi.change.log"]._fi_record(
            self,
            self.state,
            self.state,
            note
            or _(
                "Mapping %(code)s -> %(value)s added by %(user)s",
                code=line.external_code,
                value=line.value_display,
                user=self.env.user.name,
            ),
        )
        return line


class FiValueMapLine(models.Model):
    """One mapping: external code -> Odoo record or plain value."""

    _name = "fi.value.map.line"
    _description = "Finance Integration Value Map Line"
    _inherit = ["fi.lookup.cache.mixin"]
    _order = "external_code, id"
    _rec_name = "external_code"

    version_id = fields.Many2one(
        "fi.value.map.version", required=True, ondelete="cascade", index=True
    )
    map_id = fields.Many2one(related="version_id.map_id", store=True, index=True)
    company_id = fields.Many2one(related="version_id.company_id", store=True)
    target_model_id = fields.Many2one(related="version_id.map_id.target_model_id")
    external_code = fields.Char(required=True)
    value_ref = fields.Reference(
        selection="_selection_target_models", string="Odoo Record"
    )
    value_char = fields.Char("Plain Value")
    value_display = fields.Char("Value", compute="_compute_value_display")
    note = fields.Char()

    _sql_constraints = [
        (
            "code_unique",
            "unique(version_id, external_code)",
            "An external code appears once per version of a value map.",
        ),
    ]

    @api.model
    def _selection_target_models(self):
        models_ = self.env["ir.model"].sudo().search([("transient", "=", False)])
        return [(model.model, model.name) for model in models_]

    @api.depends("value_ref", "value_char")
    def _compute_value_display(self):
        for line in self:
            line.value_display = (
                line.value_ref.display_name if line.value_ref else line.value_char
            )

    @api.constrains("value_ref", "value_char", "version_id")
    def _check_value(self):
        for line in self:
            vmap = line.version_id.map_id
            if vmap.value_type == "char":
                if not line.value_char:
                    raise ValidationError(
                        _(
                            "Value map %(map)s, code %(code)s: enter the plain value.",
                            map=vmap.name,
                            code=line.external_code,
                        )
                    )
                continue
            if not line.value_ref or line.value_ref._name != vmap.target_model:
                raise ValidationError(
                    _(
                        "Value map %(map)s, code %(code)s: choose a record of "
                        "%(model)s.",
                        map=vmap.name,
                        code=line.external_code,
                        model=vmap.target_model,
                    )
                )

    def _fi_copy_values(self):
        self.ensure_one()
        return {
            "external_code": self.external_code,
            "value_ref": f"{self.value_ref._name},{self.value_ref.id}"
            if self.value_ref
            else False,
            "value_char": self.value_char,
            "note": self.note,
        }

    def _fi_check_version_editable(self, versions):
        if not is_change_control(self.env):
            versions._fi_check_editable()

    @api.model_create_multi
    def create(self, vals_list):
        versions = self.env["fi.value.map.version"].browse(
            {vals.get("version_id") for vals in vals_list if vals.get("version_id")}
        )
        self._fi_check_version_editable(versions)
        lines = super().create(vals_list)
        lines.version_id._fi_add_contributor()
        return lines

    def write(self, vals):
        self._fi_check_version_editable(self.version_id)
        res = super().write(vals)
        self.version_id._fi_add_contributor()
        return res

    def unlink(self):
        self._fi_check_version_editable(self.version_id)
        versions = self.version_id
        res = super().unlink()
        versions.exists()._fi_add_contributor()
        return res
