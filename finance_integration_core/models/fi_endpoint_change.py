# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..lib.governance import diff_values, format_diff
from .fi_change_log import CHANGE_CONTROL, is_change_control


def _snapshot(record, names):
    """The governed settings ``names`` of an endpoint (or a change) as plain
    values (a many2one as its id, so that versions store as JSON)."""
    return {
        name: record[name].id
        if isinstance(record[name], models.BaseModel)
        else record[name]
        for name in names
    }


def field_differs(record, name, value):
    """Whether writing ``value`` (``write`` format) to field ``name`` of
    ``record`` changes it (two empty values are the same)."""
    field = record._fields[name]
    new = field.convert_to_record(field.convert_to_cache(value, record), record)
    old = record[name]
    if not old and not new:
        return False
    return old != new


class FiEndpointChange(models.Model):
    """A full set of production settings of an endpoint, under change control.

    Activation applies it to the endpoint and keeps the values it replaced;
    rolling back re-activates an earlier version. The first activation also
    keeps the settings from before change control as a baseline version.
    """

    _name = "fi.endpoint.change"
    _description = "Finance Integration Endpoint Change"
    _inherit = ["fi.change.control.mixin"]
    _fi_subject_field = "endpoint_id"

    @property
    def _fi_content_fields(self):
        """Frozen once submitted: the governed settings of every provider."""
        return self.env["fi.endpoint"]._fi_governed_fields_all()

    endpoint_id = fields.Many2one(
        "fi.endpoint", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(
        related="endpoint_id.company_id", store=True, index=True, precompute=True
    )
    provider = fields.Selection(related="endpoint_id.provider")
    is_baseline = fields.Boolean(
        readonly=True, help="The settings from before the first change."
    )
    base_url = fields.Char("Base URL")
    environment = fields.Selection(
        [("sandbox", "Sandbox"), ("production", "Production")], required=True
    )
    signature_header = fields.Char()
    # generic_hmac settings (provider_generic_hmac.py)
    signature_encoding = fields.Selection(
        [("hex", "Hexadecimal"), ("base64", "Base64")]
    )
    timestamp_header = fields.Char()
    timestamp_tolerance = fields.Integer("Timestamp Tolerance (s)")
    event_id_pointer = fields.Char("Event Id Pointer")
    event_type_pointer = fields.Char("Event Type Pointer")
    max_body_bytes = fields.Integer("Max Body Size (bytes)")
    timeout_connect = fields.Float("Connect Timeout (s)")
    timeout_read = fields.Float("Read Timeout (s)")
    previous_values_json = fields.Text(
        "Replaced Values", readonly=True, copy=False, help="Set at activation."
    )
    diff_display = fields.Text("Changes", compute="_compute_diff_display")

    @api.depends("endpoint_id.name", "version")
    def _compute_display_name(self):
        for change in self:
            change.display_name = _(
                "%(endpoint)s settings v%(version)s",
                endpoint=change.endpoint_id.name,
                version=change.version,
            )

    @api.depends("previous_values_json", "state")
    def _compute_diff_display(self):
        for change in self:
            names = change.endpoint_id._fi_governed_fields()
            labels = {
                name: self._fields[name].get_description(self.env)["string"]
                for name in names
            }
            if change.previous_values_json and change.state != "draft":
                current = json.loads(change.previous_values_json)
            else:
                current = _snapshot(change.endpoint_id, names)
            text = format_diff(diff_values(current, _snapshot(change, names)), labels)
            change.diff_display = text or _("No change to the current settings.")

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            endpoint = self.env["fi.endpoint"].browse(vals.get("endpoint_id"))
            for name, value in _snapshot(
                endpoint, endpoint._fi_governed_fields()
            ).items():
                vals.setdefault(name, value)
        return super().create(vals_list)

    def _fi_on_activate(self):
        endpoint = self.endpoint_id
        names = endpoint._fi_governed_fields()
        previous = _snapshot(endpoint, names)
        self._fi_internal_write({"previous_values_json": json.dumps(previous)})
        others = self.search_count(
            [("endpoint_id", "=", endpoint.id), ("id", "!=", self.id)]
        )
        if not others:
            self.with_context(fi_change_control=CHANGE_CONTROL).create(
                dict(
                    previous,
                    endpoint_id=endpoint.id,
                    is_baseline=True,
                    version=0,
                    state="superseded",
                    change_note=_("Baseline: the settings before change control"),
                )
            )
        endpoint.with_context(fi_change_control=CHANGE_CONTROL).write(
            _snapshot(self, names)
        )


class FiEndpoint(models.Model):
    _inherit = "fi.endpoint"

    change_ids = fields.One2many(
        "fi.endpoint.change", "endpoint_id", "Settings Versions"
    )

    def _fi_is_governed(self):
        return self.environment == "production" and self.state in ("active", "paused")

    @api.model
    def _fi_governed_fields_all(self):
        """The governed settings of every provider (the union)."""
        names = set()
        for code, _label in self._fields["provider"].selection:
            names.update(self.new({"provider": code})._fi_governed_fields())
        return tuple(sorted(names))

    def write(self, vals):
        if not is_change_control(self.env):
            for endpoint in self.filtered(lambda e: e._fi_is_governed()):
                touched = set(vals) & set(endpoint._fi_governed_fields())
                changed = [
                    name
                    for name in sorted(touched)
                    if endpoint._fi_differs(name, vals[name])
                ]
                if changed:
                    raise UserError(
                        _(
                            "Endpoint %(endpoint)s is live in production: "
                            "%(fields)s change through a change request (Settings "
                            "Versions tab, Propose Change) approved by a second "
                            "Manager.",
                            endpoint=endpoint.name,
                            fields=", ".join(changed),
                        )
                    )
        return super().write(vals)

    def _fi_differs(self, name, value):
        return field_differs(self, name, value)

    def action_propose_change(self):
        """Open the pending settings version, or a new draft of the current."""
        self.ensure_one()
        changes = self.env["fi.endpoint.change"]
        change = changes.search(
            [
                ("endpoint_id", "=", self.id),
                ("state", "in", ("draft", "submitted", "approved")),
            ],
            limit=1,
        ) or changes.create({"endpoint_id": self.id})
        return {
            "type": "ir.actions.act_window",
            "res_model": "fi.endpoint.change",
            "res_id": change.id,
            "view_mode": "form",
        }
