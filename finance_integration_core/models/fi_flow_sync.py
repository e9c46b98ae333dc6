# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Outbound flows triggered by record changes, and the system-of-record rule.

An outbound flow watches an Odoo model through a standard automation rule
(base_automation) and sends the changed records. A change made while
processing an inbound message of a flow whose system of record is the
external system is never sent back to that system: no circular updates.
"""

import datetime
import logging
from decimal import Decimal

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

_logger = logging.getLogger(__name__)

CONTEXT_ORIGIN = "fi_inbound_flow_id"


class FiFlow(models.Model):
    _inherit = "fi.flow"

    model_id = fields.Many2one(
        "ir.model",
        "Odoo Object",
        ondelete="cascade",
        help="The Odoo object this flow reads or writes (e.g. Contact).",
    )
    model_name = fields.Char(related="model_id.model")
    trigger_on = fields.Selection(
        [
            ("none", "Only when called by code"),
            ("on_create", "On creation"),
            ("on_write", "On update"),
            ("on_create_or_write", "On creation and update"),
        ],
        default="none",
        required=True,
        help="Outbound: send the record when it changes.",
    )
    payload_field_ids = fields.Many2many(
        "ir.model.fields",
        string="Fields Sent",
        domain="[('model_id', '=', model_id), ('store', '=', True)]",
    )
    automation_id = fields.Many2one("base.automation", readonly=True, copy=False)

    @api.constrains("direction", "system_of_record")
    def _check_outbound_system_of_record(self):
        for flow in self:
            if flow.direction == "out" and flow.system_of_record == "external":
                raise ValidationError(
                    _(
                        "Flow %s sends to the external system, so Odoo must be the "
                        "system of record of what it sends.",
                        flow.name,
                    )
                )

    @api.constrains("trigger_on", "model_id", "direction")
    def _check_trigger(self):
        for flow in self.filtered(lambda f: f.trigger_on != "none"):
            if flow.direction != "out" or not flow.model_id:
                raise ValidationError(
                    _(
                        "Flow %s: only an outbound flow with an Odoo object can be "
                        "triggered by record changes.",
                        flow.name,
                    )
                )

    def _fi_sync_side_records(self, changed):
        super()._fi_sync_side_records(changed)
        if (
            changed is None
            or {
                "trigger_on",
                "model_id",
                "enabled",
                "payload_field_ids",
            }
            & changed
        ):
            self._fi_sync_automation()

    def _fi_side_records(self):
        return [*super()._fi_side_records(), self.automation_id]

    def _fi_sync_automation(self):
        """Keep one automation rule per triggered flow, matching its settings."""
        for flow in self.sudo():
            wanted = flow.enabled and flow.trigger_on != "none" and flow.model_id
            if not wanted:
                if flow.automation_id:
                    flow.automation_id.active = False
                continue
            values = {
                "name": _("Finance integration: %s", flow.name),
                "model_id": flow.model_id.id,
                "trigger": flow.trigger_on,
                "active": True,
                "trigger_field_ids": [(6, 0, flow.payload_field_ids.ids)],
            }
            if flow.automation_id:
                flow.automation_id.write(values)
                continue
            values["action_server_ids"] = [
                (
                    0,
                    0,
                    {
                        "name": _("Send with flow %s", flow.name),
                        "model_id": flow.model_id.id,
                        "state": "code",
                        "code": f"env['fi.flow'].browse({flow.id})"
                        "._fi_send_records(records)",
                    },
                )
            ]
            flow.automation_id = self.env["base.automation"].create(values)

    # ------------------------------------------------------------------
    def _fi_echo_origin(self):
        """The inbound flow whose processing causes the current change, if its
        system of record is this flow's external system."""
        origin_id = self.env.context.get(CONTEXT_ORIGIN)
        if not origin_id:
            return None
        origin = self.browse(origin_id).sudo()
        if (
            origin.endpoint_id == self.endpoint_id
            and origin.system_of_record == "external"
        ):
            return origin
        return None

    def _fi_send_records(self, records):
        """Send each record on this flow (called by its automation rule)."""
        self.ensure_one()
        flow = self.sudo()
        messages = self.env["fi.message"]
        if not flow.enabled or flow.endpoint_id.state in ("draft", "disabled"):
            return messages
        for record in records:
            message = flow.endpoint_id._fi_send(
                flow, flow._fi_payload(record), record=record
            )
            messages |= message
        return messages

    def _fi_payload(self, record):
        """JSON-safe payload of ``record``: ids for relations, ISO dates, exact
        decimals as strings (never binary floats)."""
        payload = {"model": record._name, "id": record.id}
        for field in self.payload_field_ids:
            value = record[field.name]
            if field.ttype in ("many2one",):
                value = value.id or None
            elif field.ttype in ("one2many", "many2many"):
                value = value.ids
            elif field.ttype in ("float", "monetary"):
                value = str(Decimal(repr(value))) if value is not False else None
            elif isinstance(value, datetime.date | datetime.datetime):
                value = value.isoformat()
            elif field.ttype == "binary":
                continue
            elif value is False and field.ttype != "boolean":
                value = None
            payload[field.name] = value
        return payload


class FiEndpoint(models.Model):
    _inherit = "fi.endpoint"

    def _fi_send(
        self, flow, payload, record=None, idempotency_key=None, correlation_id=None
    ):
        origin = flow._fi_echo_origin()
        if origin:
            _logger.info(
                "not sending %s on flow %s: the change comes from inbound flow %s, "
                "whose system of record is %s",
                record and record.display_name,
                flow.id,
                origin.id,
                self.name,
            )
            return self.env["fi.message"]
        return super()._fi_send(
            flow,
            payload,
            record=record,
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
        )


class FiMessage(models.Model):
    _inherit = "fi.message"

    def _fi_run_handler(self):
        """Whatever an inbound flow's handler changes carries the flow as its
        origin, so that outbound flows do not echo it back (whatever provider
        handles it)."""
        if self.direction != "in":
            return super()._fi_run_handler()
        return super(
            FiMessage, self.with_context(**{CONTEXT_ORIGIN: self.flow_id.id})
        )._fi_run_handler()

    def _fi_run_batch_handler(self, documents):
        """The same origin for a batch of one flow's messages."""
        return super(
            FiMessage, self.with_context(**{CONTEXT_ORIGIN: self.flow_id.id})
        )._fi_run_batch_handler(documents)
