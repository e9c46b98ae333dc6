# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Dispatch: the stored inbound messages are an outbox, drained by queue jobs
per endpoint in batches, planned on one-second slots (``lib/outbox.py``)."""

import logging
import time
from functools import partial

from odoo import SUPERUSER_ID, api, models
from odoo.tools import SQL

from ..lib.outbox import SLOT_SECONDS, PlannedSlots, dispatch_slot, naive_utc

_logger = logging.getLogger(__name__)

#: per server process: dispatcher slots known to be planned (lib/outbox.py)
PLANNED_DISPATCH = PlannedSlots()
#: queue_job priority of dispatcher jobs (lower runs first; processing jobs 10)
DISPATCH_PRIORITY = 5


class FiEndpointDispatch(models.Model):
    _inherit = "fi.endpoint"

    def _fi_dispatcher_identity(self, slot=None):
        suffix = "" if slot is None else f":{slot}"
        return f"fi.dispatch:{self.id}{suffix}"

    def _fi_enqueue_dispatcher(self, user_id=None, slot=None, eta=None):
        """A dispatcher job for this endpoint (one pending per identity): now,
        or planned for a dispatch ``slot`` starting at ``eta`` (naive UTC)."""
        self.ensure_one()
        endpoint = self.with_user(user_id or self.integration_user_id.id)
        return endpoint.with_delay(
            channel="root.fi",
            eta=eta,
            # before the processing jobs already queued (queue_job's default
            # priority 10; the runner starts due jobs by priority): else a
            # dispatcher waits behind every job of the previous dispatch (13 s
            # behind 238 queued messages measured) and messages get their jobs
            # in bursts
            priority=DISPATCH_PRIORITY,
            identity_key=self._fi_dispatcher_identity(slot),
            description=f"Dispatch received messages of endpoint {self.id}",
        )._fi_dispatch()

    @api.model
    def _fi_plan_dispatch(self, config):
        """Make sure a dispatcher job starts after this transaction commits.

        Intake plans dispatchers on slot boundaries (lib/outbox.py): the first
        message of a slot in a server process looks for the slot's pending
        dispatcher (creating it when missing); the following ones rely on it
        without a query. After the commit, a message committed too late for
        that slot's dispatcher gets a dispatcher of its own.

        A message that finds no dispatcher pending at all (the endpoint was
        idle) also gets one that starts at once: created in this transaction,
        the runner sees it only after the commit, so it finds the message; the
        slot's dispatcher takes the messages that follow. A lone event is
        processed within milliseconds, not at the next slot.
        """
        cr = self.env.cr
        key = (cr.dbname, config["id"])
        now = time.time()
        slot, start = dispatch_slot(now)
        if not PLANNED_DISPATCH.covers(key, slot):
            endpoint = self.browse(config["id"])
            wanted = (slot, slot + 1)
            at_once = endpoint._fi_dispatcher_identity()
            cr.execute(
                "SELECT identity_key FROM queue_job "
                "WHERE identity_key IN %s AND state = 'pending'",
                (
                    tuple(endpoint._fi_dispatcher_identity(n) for n in wanted)
                    + (at_once,),
                ),
            )
            found = {row[0] for row in cr.fetchall()}
            planned = found - {at_once}
            if not planned:
                if not found:
                    endpoint._fi_enqueue_dispatcher(config["user_id"])
                endpoint._fi_enqueue_dispatcher(
                    config["user_id"],
                    slot=slot,
                    eta=naive_utc(start),
                )
            elif endpoint._fi_dispatcher_identity(slot) not in planned:
                slot, start = slot + 1, start + SLOT_SECONDS  # the next one
            cr.postcommit.add(partial(PLANNED_DISPATCH.mark, key, slot))
        cr.postcommit.add(partial(self._fi_dispatch_if_late, config, start))

    @api.model
    def _fi_dispatch_if_late(self, config, start):
        """After commit: when the slot's dispatcher may have started before this
        message was committed, queue a dispatcher that starts after it."""
        if time.time() < start:
            return
        try:
            with self.env.registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                env["fi.endpoint"].browse(config["id"])._fi_enqueue_dispatcher(
                    config["user_id"]
                )
        except Exception:  # noqa: BLE001 - the message is stored: the cron catches up
            _logger.exception(
                "endpoint %s: no dispatcher queued after a late commit; the "
                "dispatch cron will pick the message up",
                config["id"],
            )

    def _fi_dispatch(self, batch=500, max_batches=20):
        """Turn received messages into processing jobs, in batches: one job
        per message, or per group of a batched flow's messages
        (``_fi_enqueue_dispatched``)."""
        self.ensure_one()
        if self.state not in ("active",):
            return f"endpoint in state {self.state}: nothing dispatched"
        self.env.flush_all()
        total = 0
        self._fi_before_dispatch()
        held = self._fi_dispatch_held_sql()
        for _i in range(max_batches):
            self.env.cr.execute(
                SQL(
                    "SELECT m.id FROM fi_message m LEFT JOIN fi_flow f "
                    "ON f.id = m.flow_id WHERE m.endpoint_id = %s "
                    "AND m.state = 'new' AND NOT (%s) "
                    "ORDER BY m.id LIMIT %s FOR UPDATE OF m SKIP LOCKED",
                    self.id,
                    held,
                    batch,
                )
            )
            ids = [row[0] for row in self.env.cr.fetchall()]
            if not ids:
                break
            self.env["fi.message"].browse(ids)._fi_enqueue_dispatched()
            self.env.flush_all()  # the next batch's query must see them queued
            total += len(ids)
            if len(ids) < batch:
                break
        else:
            # a backlog larger than one run: the next run follows at once
            self._fi_enqueue_dispatcher()
            return f"{total} messages dispatched, more to follow"
        return f"{total} messages dispatched"

    def _fi_before_dispatch(self):
        """Called once per dispatcher run, before messages are selected (the
        circuit breaker's cool-down probe starts here)."""

    def _fi_dispatch_held_sql(self):
        """The condition (an ``odoo.tools.SQL``) on ``m`` (message) and ``f``
        (flow) selecting the messages that stay in the outbox for now. Pure:
        extensions combine conditions, they change nothing."""
        return SQL("false")

    @api.model
    def _cron_fi_dispatch(self):
        """Safety net: dispatch whatever intake stored but no job picked up."""
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT DISTINCT endpoint_id FROM fi_message m JOIN fi_endpoint e "
            "ON e.id = m.endpoint_id WHERE m.state = 'new' AND e.state = 'active'"
        )
        for (endpoint_id,) in self.env.cr.fetchall():
            endpoint = self.sudo().browse(endpoint_id)
            endpoint.with_user(endpoint.integration_user_id).with_company(
                endpoint.company_id
            )._fi_dispatch()
