# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Pause and resume per flow, and the outbound circuit breaker per endpoint.

While a flow is paused or an endpoint's circuit is open, intake keeps storing
and messages wait in the outbox (state "Received") instead of failing; resuming
dispatches them again.
"""

import logging

from odoo import _, fields, models
from odoo.tools import SQL

_logger = logging.getLogger(__name__)


class FiFlow(models.Model):
    _inherit = "fi.flow"

    paused = fields.Boolean(
        tracking=True,
        help="Intake keeps storing the messages of a paused flow; processing "
        "waits until it is resumed.",
    )

    def _fi_check_operator(self):
        self.env["fi.message"]._fi_check_operator()

    def action_pause_flow(self):
        self._fi_check_operator()
        self.sudo().write({"paused": True})
        return True

    def action_resume_flow(self):
        self._fi_check_operator()
        self.sudo().write({"paused": False})
        for endpoint in self.endpoint_id:
            if endpoint.state == "active":
                endpoint._fi_enqueue_dispatcher()
        return True


class FiEndpoint(models.Model):
    _inherit = "fi.endpoint"

    circuit_state = fields.Selection(
        [("closed", "Closed"), ("open", "Open"), ("half_open", "Probing")],
        default="closed",
        required=True,
        readonly=True,
        tracking=True,
        help="Open: outbound sending is paused after repeated technical "
        "failures; after the cool-down one message probes the other side.",
    )
    circuit_failures = fields.Integer(
        "Consecutive Failures", readonly=True, copy=False, default=0
    )
    circuit_threshold = fields.Integer(
        "Open After (failures)",
        default=5,
        help="Consecutive technical failures of outbound requests that open "
        "the circuit.",
    )
    circuit_cooldown_minutes = fields.Integer("Cool-down (min)", default=10)
    circuit_opened_at = fields.Datetime(readonly=True, copy=False)
    circuit_probe_message_id = fields.Many2one(
        "fi.message", readonly=True, copy=False, ondelete="set null"
    )

    def init(self):
        super().init()
        # counters are bumped with SQL by concurrent jobs: no NULL arithmetic
        self.env.cr.execute(
            "ALTER TABLE fi_endpoint ALTER COLUMN circuit_failures SET DEFAULT 0, "
            "ALTER COLUMN circuit_state SET DEFAULT 'closed'"
        )

    def _fi_before_dispatch(self):
        super()._fi_before_dispatch()
        if self.circuit_state == "open":
            self._fi_circuit_try_probe()

    def _fi_dispatch_held_sql(self):
        self.ensure_one()
        return SQL(
            "(%s) OR COALESCE(f.paused, false) OR (m.direction = 'out' AND %s)",
            super()._fi_dispatch_held_sql(),
            self.circuit_state != "closed",
        )

    def _fi_circuit_try_probe(self):
        """After the cool-down, dispatch exactly one outbound message as a
        probe; the others follow when it succeeds."""
        self.env.flush_all()
        self.env.cr.execute(
            """
            WITH probe AS (
                SELECT id FROM fi_message
                 WHERE endpoint_id = %(id)s AND direction = 'out' AND state = 'new'
                 ORDER BY id LIMIT 1)
            UPDATE fi_endpoint
               SET circuit_state = 'half_open',
                   circuit_probe_message_id = (SELECT id FROM probe)
             WHERE id = %(id)s AND circuit_state = 'open'
               AND circuit_opened_at <= (now() at time zone 'UTC')
                                        - circuit_cooldown_minutes * interval '1 minute'
               AND EXISTS (SELECT 1 FROM probe)
            RETURNING circuit_probe_message_id
            """,
            {"id": self.id},
        )
        row = self.env.cr.fetchone()
        self.invalidate_recordset(["circuit_state", "circuit_probe_message_id"])
        if row:
            self.env["fi.message"].browse(row[0])._fi_enqueue_processing()
            _logger.info("endpoint %s: circuit half-open, probe %s", self.id, row[0])

    def _fi_circuit_record_failure(self, message):
        self.env.flush_all()
        self.env.cr.execute(
            """
            UPDATE fi_endpoint
               SET circuit_failures = circuit_failures + 1
             WHERE id = %s
            RETURNING circuit_failures, circuit_state, circuit_threshold
            """,
            (self.id,),
        )
        failures, state, threshold = self.env.cr.fetchone()
        self.invalidate_recordset(["circuit_failures"])
        if state == "half_open" or (state == "closed" and failures >= (threshold or 5)):
            self.sudo().write(
                {
                    "circuit_state": "open",
                    "circuit_opened_at": fields.Datetime.now(),
                    "circuit_probe_message_id": False,
                }
            )
            if state == "closed":
                # an item of its own, not merged into the message's own item
                self.env["fi.exception"]._fi_open(
                    message,
                    "circuit_open",
                    _(
                        "Outbound sending to %(endpoint)s is paused after "
                        "%(count)s consecutive technical failures (last: "
                        "%(error)s). It probes again in %(minutes)s minutes, or "
                        "close the circuit on the endpoint once the other side "
                        "is back.",
                        endpoint=self.name,
                        count=failures,
                        error=message.error_message,
                        minutes=self.circuit_cooldown_minutes,
                    ),
                    category="technical",
                )
            _logger.warning(
                "endpoint %s: circuit opened after %s failures", self.id, failures
            )

    def _fi_circuit_record_success(self):
        if self.circuit_state == "closed" and not self.circuit_failures:
            return
        was_open = self.circuit_state != "closed"
        self.sudo().write(
            {
                "circuit_state": "closed",
                "circuit_failures": 0,
                "circuit_opened_at": False,
                "circuit_probe_message_id": False,
            }
        )
        if was_open:
            self._fi_enqueue_dispatcher()

    def action_close_circuit(self):
        """Resume outbound sending now (the other side is back)."""
        self.env["fi.message"]._fi_check_operator()
        for endpoint in self.sudo():
            endpoint._fi_circuit_record_success()
            endpoint.sudo().write({"circuit_failures": 0})
            endpoint._fi_enqueue_dispatcher()
        return True


class FiMessage(models.Model):
    _inherit = "fi.message"

    def _fi_hold_reason(self):
        reason = super()._fi_hold_reason()
        if reason:
            return reason
        if self.flow_id.paused:
            return f"flow {self.flow_id.name} is paused"
        endpoint = self.endpoint_id
        if self.direction == "out" and endpoint.circuit_state != "closed":
            if not (
                endpoint.circuit_state == "half_open"
                and endpoint.circuit_probe_message_id == self
            ):
                return f"circuit of {endpoint.name} is open"
        return None

    def _fi_handle_failure(self, err):
        result = super()._fi_handle_failure(err)
        if self.direction == "out":
            if self.error_class == "technical":
                self.endpoint_id._fi_circuit_record_failure(self)
            else:  # the other side answered: it is up
                self.endpoint_id._fi_circuit_record_success()
        return result

    def _fi_mark_done(self, record=None):
        result = super()._fi_mark_done(record)
        if self.direction == "out":
            self.endpoint_id._fi_circuit_record_success()
        return result
