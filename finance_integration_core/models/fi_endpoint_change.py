# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..lib.governance import diff_values, format_diff
from .fi_change_log import CHANGE_CONTROL, is_change_control

#: settings of a production endpoint that change through an approved version;
#: secrets are not among them (write-only, rotated on the endpoint itself)
GOVERNED_FIELDS = (
    "base_url",
    "environment",
    "signature_header",
    "signature_encoding",
    "timestamp_header",
    "timestamp_tolerance",
    "event_id_pointer",
    "event_type_pointer",
    "max_body_bytes",
    "timeout_connect",
    "timeout_read",
)


def _snapshot(record):
    """The governed settings of an endpoint (or a change) as plain values."""
    return {name: record[name] for name in GOVERNED_FIELDS}


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
    _fi_content_fields = GOVERNED_FIELDS

    endpoint_id = fields.Many2one(
        "fi.endpoint", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(
        related="endpoint_id.company_id", store=True, index=True, precompute=True
    )
    is_baseline = fields.Boolean(
        readonly=True, help="The settings from before the first change."
    )
    base_url = fields.Char("Base URL")
    environment = fields.Selection(
        [("sandbox", "Sandbox"), ("production", "Production")], required=True
    )
    signature_header = fields.Char()
    signature_encoding = fields.Selection(
        [("hex", "Hexadecimal"), ("base64", "Base64")], required=True
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

    @api.depends(*GOVERNED_FIELDS, "previous_values_json", "state")
    def _compute_diff_display(self):
        labels = {
            name: self._fields[name].get_description(self.env)["string"]
            for name in GOVERNED_FIELDS
        }
        for change in self:
            if change.previous_values_json and change.state != "draft":
                current = json.loads(change.previous_values_json)
            else:
                current = _snapshot(change.endpoint_id)
            text = format_diff(diff_values(current, _snapshot(change)), labels)
            change.diff_display = text or _("No change to the current settings.")

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            endpoint = self.env["fi.endpoint"].browse(vals.get("endpoint_id"))
            for name, value in _snapshot(endpoint).items():
                vals.setdefault(name, value)
        return super().create(vals_list)

    def _fi_on_activate(self):
        endpoint = self.endpoint_id
        previous = _snapshot(endpoint)
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
        endpoint.with_context(fi_change_control=CHANGE_CONTROL).write(_snapshot(self))


class FiEndpoint(models.Model):
    _inherit = "fi.endpoint"

    change_ids = fields.One2many(
        "fi.endpoint.change", "endpoint_id", "Settings Versions"
    )

    def _fi_is_governed(self):
        return self.environment == "production" and self.state in ("active", "paused")

    def write(self, vals):
        touched = set(vals) & set(GOVERNED_FIELDS)
        if touched and not is_change_control(self.env):
            for endpoint in self.filtered(lambda e: e._fi_is_governed()):
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
        field = self._fields[name]
        new = field.convert_to_record(field.convert_to_cache(value, self), self)
        old = self[name]
        if not old and not new:
            return False
        return old != new

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
