# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..lib.schema import SchemaDefinitionError, compiled_validator

#: a flow without its own maximum latency (or a message without a flow) waits
#: this many minutes before it counts as late
DEFAULT_MAX_LATENCY_MINUTES = 15


def late_message_sql(now):
    """The one definition of a late message, as an SQL condition on ``m``
    (fi_message) and ``f`` (its fi_flow, possibly NULL): still waiting, for
    longer than the flow's maximum latency (0: no limit). ``now`` is an SQL
    expression (a column, or ``%s`` for a bound parameter); the dashboards and
    the alerts both use it."""
    latency = f"COALESCE(f.sla_max_latency_minutes, {DEFAULT_MAX_LATENCY_MINUTES})"
    return (
        f"(m.state IN ('new', 'queued', 'retry') AND {latency} > 0 "
        f"AND m.create_date < {now} - {latency} * interval '1 minute')"
    )


class FiFlow(models.Model):
    """One kind of exchange on an endpoint (e.g. "invoice posted -> tax commit")."""

    _name = "fi.flow"
    _description = "Finance Integration Flow"
    _inherit = ["mail.thread", "fi.lookup.cache.mixin"]
    _order = "endpoint_id, sequence, id"

    name = fields.Char(required=True, tracking=True)
    sequence = fields.Integer(default=10)
    endpoint_id = fields.Many2one(
        "fi.endpoint", required=True, ondelete="cascade", index=True, tracking=True
    )
    company_id = fields.Many2one(
        related="endpoint_id.company_id", store=True, index=True, precompute=True
    )
    provider = fields.Selection(related="endpoint_id.provider")
    enabled = fields.Boolean(default=True, tracking=True)
    direction = fields.Selection(
        [("in", "Inbound"), ("out", "Outbound")], required=True, default="in"
    )
    event_type = fields.Char(
        required=True,
        default="*",
        help="Inbound: the event type this flow handles ('*' for any event no "
        "other flow handles). Outbound: the kind of message sent.",
    )
    action = fields.Selection(
        [
            ("store", "Store only"),
            ("server_action", "Run a server action"),
        ],
        default="store",
        required=True,
        help="What processing does with an inbound message. Connector addons "
        "add their own handlers.",
    )
    server_action_id = fields.Many2one(
        "ir.actions.server",
        domain=[("model_id.model", "=", "fi.message")],
        help="Runs with the message as record; may raise FiTransientError or "
        "FiBusinessError to ask for a retry or open a finance exception.",
    )
    http_method = fields.Selection(
        [("POST", "POST"), ("PUT", "PUT"), ("PATCH", "PATCH"), ("DELETE", "DELETE")],
        default="POST",
    )
    path = fields.Char(help="Outbound: path appended to the endpoint's base URL.")
    response_id_pointer = fields.Char(
        default="/id", help="Outbound: JSON pointer to the external id in the answer."
    )
    sync_tier = fields.Selection(
        [
            ("realtime", "Realtime"),
            ("micro_batch", "Micro-batch"),
            ("batch", "Scheduled batch"),
        ],
        default="realtime",
        required=True,
    )
    channel = fields.Char(
        default="root.fi",
        required=True,
        help="queue_job channel the processing jobs of this flow run on.",
    )
    schema_json = fields.Text(
        "JSON Schema",
        help="Draft 2020-12 schema every message of this flow must match.",
    )
    schema_version = fields.Char(default="1")
    system_of_record = fields.Selection(
        [("odoo", "Odoo"), ("external", "External system")],
        default="odoo",
        required=True,
    )
    owner_id = fields.Many2one(
        "res.users", tracking=True, help="Receives an activity when an exception opens."
    )
    sla_max_latency_minutes = fields.Integer(
        "Max Latency (min)",
        default=DEFAULT_MAX_LATENCY_MINUTES,
        help="A message still waiting after this long is late (0: no limit).",
    )
    sla_max_exception_age_hours = fields.Integer("Max Exception Age (h)", default=24)
    max_attempts = fields.Integer(
        default=6, help="Tries before a transiently failing message is dead-lettered."
    )

    _sql_constraints = [
        (
            "max_attempts_positive",
            "CHECK(max_attempts > 0)",
            "A flow needs at least one attempt.",
        ),
    ]

    @api.constrains("schema_json")
    def _check_schema_json(self):
        for flow in self.filtered("schema_json"):
            try:
                compiled_validator(flow.schema_json)
            except SchemaDefinitionError as err:
                raise ValidationError(
                    _("Flow %(flow)s: %(error)s", flow=flow.name, error=err)
                ) from None

    @api.constrains("endpoint_id", "direction", "event_type", "enabled")
    def _check_unique_event_type(self):
        for flow in self.filtered(lambda f: f.enabled and f.direction == "in"):
            clash = self.search_count(
                [
                    ("id", "!=", flow.id),
                    ("endpoint_id", "=", flow.endpoint_id.id),
                    ("direction", "=", "in"),
                    ("enabled", "=", True),
                    ("event_type", "=", flow.event_type),
                ]
            )
            if clash:
                raise ValidationError(
                    _(
                        "Endpoint %(endpoint)s already has an enabled inbound flow for "
                        "event type %(type)s.",
                        endpoint=flow.endpoint_id.name,
                        type=flow.event_type,
                    )
                )

    @api.constrains("action", "server_action_id")
    def _check_server_action(self):
        for flow in self:
            if flow.action == "server_action" and not flow.server_action_id:
                raise ValidationError(
                    _("Flow %s runs a server action: choose which one.", flow.name)
                )

    # records that follow a flow's settings (automation rule, batch cron)
    @api.model_create_multi
    def create(self, vals_list):
        flows = super().create(vals_list)
        flows._fi_sync_side_records(None)
        return flows

    def write(self, vals):
        res = super().write(vals)
        self._fi_sync_side_records(set(vals))
        return res

    def unlink(self):
        side = self._fi_side_records()
        res = super().unlink()
        for records in side:
            records.sudo().unlink()
        return res

    def _fi_sync_side_records(self, changed):
        """Hook: bring the records that follow these flows' settings in step;
        ``changed`` holds the fields written (None: the flows are new)."""

    def _fi_side_records(self):
        """Hook: the records these flows own, deleted with them (a list of
        recordsets of any models)."""
        return []

    @api.ondelete(at_uninstall=False)
    def _unlink_except_logged(self):
        self.env["fi.message"]._fi_check_unreferenced("flow_id", self)

    def _fi_schema_errors(self, document):
        self.ensure_one()
        if not self.schema_json:
            return []
        from ..lib.schema import schema_errors

        return schema_errors(self.schema_json, document)

    def _fi_schema_pretty(self):
        return (
            json.dumps(json.loads(self.schema_json), indent=2)
            if self.schema_json
            else ""
        )
