# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Mapping tables of codes: external code -> Odoo record or plain value."""

from odoo import _, api, fields, models, tools
from odoo.exceptions import ValidationError

from .ir_actions_server import FiBusinessActionError


class FiMissingMappingError(FiBusinessActionError):
    """A code has no mapping: finance adds it, then the message is replayed."""

    def __init__(self, value_map, code):
        super().__init__(
            _(
                "Value map %(map)s (%(code_name)s) has no mapping for the external "
                "code %(code)r.",
                map=value_map.name,
                code_name=value_map.code,
                code=code,
            ),
            "missing_mapping",
        )
        self.fi_exception_values = {"value_map_id": value_map.id, "missing_code": code}


class FiValueMap(models.Model):
    _name = "fi.value.map"
    _description = "Finance Integration Value Map"
    _inherit = ["mail.thread"]
    _order = "code, endpoint_id"

    name = fields.Char(required=True, tracking=True)
    code = fields.Char(
        required=True,
        tracking=True,
        help="What connectors ask for, e.g. tax_code or payment_method.",
    )
    endpoint_id = fields.Many2one(
        "fi.endpoint",
        ondelete="cascade",
        tracking=True,
        help="Empty: a global map, used by every endpoint without a map of its own.",
    )
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    value_type = fields.Selection(
        [("record", "Odoo record"), ("char", "Plain value")],
        required=True,
        default="record",
    )
    target_model_id = fields.Many2one(
        "ir.model", "Maps To", ondelete="cascade", help="e.g. Tax, Journal, Account."
    )
    target_model = fields.Char(related="target_model_id.model")
    line_ids = fields.One2many("fi.value.map.line", "map_id", copy=True)

    _sql_constraints = [
        (
            "code_unique",
            "unique(code, endpoint_id, company_id)",
            "One map per code, endpoint and company.",
        ),
    ]

    @api.constrains("value_type", "target_model_id")
    def _check_target(self):
        for value_map in self:
            if value_map.value_type == "record" and not value_map.target_model_id:
                raise ValidationError(
                    _(
                        "Value map %s maps to records: choose their model.",
                        value_map.name,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        maps = super().create(vals_list)
        self.env.registry.clear_cache()
        return maps

    def write(self, vals):
        res = super().write(vals)
        self.env.registry.clear_cache()
        return res

    def unlink(self):
        res = super().unlink()
        self.env.registry.clear_cache()
        return res

    @api.model
    @tools.ormcache("map_code", "external_code", "endpoint_id", "company_id")
    def _fi_lookup_cached(self, map_code, external_code, endpoint_id, company_id):
        """(map id, model, record id or plain value) or (map id, None, None)."""
        maps = self.sudo().search(
            [
                ("code", "=", map_code),
                ("company_id", "=", company_id),
                ("endpoint_id", "in", [endpoint_id, False]),
            ]
        )
        if not maps:
            return (None, None, None)
        # an endpoint's own map wins over the global one
        value_map = maps.sorted(lambda m: not m.endpoint_id)[0]
        line = value_map.line_ids.filtered(
            lambda ln: ln.external_code == external_code
        )[:1]
        if not line:
            return (value_map.id, None, None)
        if value_map.value_type == "char":
            return (value_map.id, "char", line.value_char)
        return (value_map.id, line.value_ref._name, line.value_ref.id)

    @api.model
    def fi_lookup(self, map_code, external_code, endpoint=None, company=None):
        """The Odoo record (or plain value) mapped to ``external_code``.

        Raises :class:`FiMissingMappingError` (a business error: the message
        fails, an exception item offers "add mapping and replay").
        """
        company = company or (endpoint.company_id if endpoint else self.env.company)
        map_id, kind, value = self._fi_lookup_cached(
            map_code, str(external_code), endpoint.id if endpoint else False, company.id
        )
        if map_id is None:
            raise ValidationError(
                _(
                    "No value map with code %(code)s exists for company %(company)s.",
                    code=map_code,
                    company=company.name,
                )
            )
        if kind is None:
            raise FiMissingMappingError(self.browse(map_id).sudo(), str(external_code))
        if kind == "char":
            return value
        return self.env[kind].browse(value)


class FiValueMapLine(models.Model):
    _name = "fi.value.map.line"
    _description = "Finance Integration Value Map Line"
    _order = "external_code"

    map_id = fields.Many2one(
        "fi.value.map", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="map_id.company_id", store=True)
    external_code = fields.Char(required=True)
    value_ref = fields.Reference(
        selection="_selection_target_models", string="Odoo Record"
    )
    value_char = fields.Char("Plain Value")

    _sql_constraints = [
        (
            "code_unique",
            "unique(map_id, external_code)",
            "Each external code is mapped once per map.",
        ),
    ]

    @api.model
    def _selection_target_models(self):
        return [
            (model.model, model.name)
            for model in self.env["ir.model"].sudo().search([])
        ]

    @api.constrains("value_ref", "value_char")
    def _check_value(self):
        for line in self:
            value_map = line.map_id
            if value_map.value_type == "char" and not line.value_char:
                raise ValidationError(
                    _(
                        "Map %(map)s: code %(code)s needs a value.",
                        map=value_map.name,
                        code=line.external_code,
                    )
                )
            if value_map.value_type == "record" and (
                not line.value_ref or line.value_ref._name != value_map.target_model
            ):
                raise ValidationError(
                    _(
                        "Map %(map)s: code %(code)s must map to a %(model)s record.",
                        map=value_map.name,
                        code=line.external_code,
                        model=value_map.target_model_id.name,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        lines = super().create(vals_list)
        self.env.registry.clear_cache()
        return lines

    def write(self, vals):
        res = super().write(vals)
        self.env.registry.clear_cache()
        return res

    def unlink(self):
        res = super().unlink()
        self.env.registry.clear_cache()
        return res


class FiException(models.Model):
    _inherit = "fi.exception"

    value_map_id = fields.Many2one("fi.value.map", readonly=True, ondelete="set null")
    missing_code = fields.Char(readonly=True)

    def action_add_mapping(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "fi.add.mapping.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_exception_id": self.id},
        }
