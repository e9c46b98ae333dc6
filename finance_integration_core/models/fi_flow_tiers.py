# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Service tiers: realtime, micro-batch every N minutes, scheduled batch.

Realtime messages are dispatched as they arrive. Micro-batch and scheduled
batch messages wait in the outbox; at each interval the flow cuts what waits
into units of work and enqueues one job per unit.
"""

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class FiFlow(models.Model):
    _inherit = "fi.flow"

    batch_interval_minutes = fields.Integer(
        "Batch Interval (min)",
        default=5,
        help="Micro-batch and scheduled batch: how often waiting messages are "
        "processed.",
    )
    batch_size = fields.Integer(default=100, help="Messages per unit of work (job).")
    last_batch_at = fields.Datetime(readonly=True, copy=False)
    cron_id = fields.Many2one("ir.cron", "Schedule", readonly=True, copy=False)

    @api.constrains("batch_interval_minutes", "batch_size")
    def _check_batch_settings(self):
        for flow in self:
            if flow.batch_interval_minutes < 1 or flow.batch_size < 1:
                raise ValidationError(
                    _("Flow %s: batch interval and size must be at least 1.", flow.name)
                )

    def _fi_sync_side_records(self, changed):
        super()._fi_sync_side_records(changed)
        if (
            changed is None
            or {
                "sync_tier",
                "batch_interval_minutes",
                "enabled",
                "name",
            }
            & changed
        ):
            self._fi_sync_cron()

    def _fi_side_records(self):
        return [*super()._fi_side_records(), self.cron_id]

    def _fi_sync_cron(self):
        """A scheduled batch flow runs on a cron of its own."""
        for flow in self.sudo():
            if flow.sync_tier != "batch" or not flow.enabled:
                if flow.cron_id:
                    flow.cron_id.active = False
                continue
            values = {
                "name": _("Finance Integration: batch %s", flow.name),
                "model_id": self.env.ref("finance_integration_core.model_fi_flow").id,
                "state": "code",
                "code": f"model._fi_cron_run_flow({flow.id})",
                "interval_number": flow.batch_interval_minutes,
                "interval_type": "minutes",
                "user_id": self.env.ref("base.user_root").id,
                "active": True,
            }
            if flow.cron_id:
                flow.cron_id.write(values)
            else:
                flow.cron_id = self.env["ir.cron"].create(values)

    @api.model
    def _fi_cron_run_flow(self, flow_id):
        flow = self.sudo().browse(flow_id).exists()
        if (
            flow
            and flow.enabled
            and not flow.paused
            and flow.endpoint_id.state == "active"
        ):
            flow._fi_run_scheduled()

    @api.model
    def _cron_fi_micro_batches(self):
        """Run every micro-batch flow whose interval has elapsed."""
        now = fields.Datetime.now()
        for flow in self.sudo().search(
            [
                ("sync_tier", "=", "micro_batch"),
                ("enabled", "=", True),
                ("paused", "=", False),
                ("endpoint_id.state", "=", "active"),
            ]
        ):
            due = not flow.last_batch_at or (
                (now - flow.last_batch_at).total_seconds()
                >= flow.batch_interval_minutes * 60
            )
            if due:
                flow._fi_run_scheduled()

    def _fi_run_scheduled(self):
        """Cut what waits into units and enqueue one job per unit."""
        self.ensure_one()
        endpoint = self.endpoint_id
        units = endpoint._fi_batch_units(self)
        user = endpoint.integration_user_id
        for unit in units:
            job = (
                self.with_user(user)
                .with_company(endpoint.company_id)
                .with_delay(
                    channel=self.channel or "root.fi",
                    identity_key=f"fi.batch:{self.id}:{unit['key']}",
                    description=f"Batch {unit['key']} of flow {self.name}",
                    max_retries=5,
                )
                ._fi_run_batch_unit(unit)
            )
            if unit.get("message_ids"):
                self.env["fi.message"].sudo().browse(unit["message_ids"]).write(
                    {"state": "queued", "job_uuid": job.uuid}
                )
        self.sudo().last_batch_at = fields.Datetime.now()
        return len(units)

    def _fi_run_batch_unit(self, unit):
        """Job: one unit of work of a batch flow."""
        self.ensure_one()
        return self.endpoint_id._fi_handle_batch_unit(self, unit)


class FiEndpoint(models.Model):
    _inherit = "fi.endpoint"

    def _fi_dispatch_held_clause(self):
        clause, params = super()._fi_dispatch_held_clause()
        return f"({clause}) OR COALESCE(f.sync_tier, 'realtime') != 'realtime'", params

    def _fi_outbox_units(self, flow):
        """The default batch units (``_fi_batch_units``): the messages waiting
        in the flow's outbox, in units of ``flow.batch_size``."""
        self.ensure_one()
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT id FROM fi_message WHERE flow_id = %s AND state = 'new' "
            "ORDER BY id FOR UPDATE SKIP LOCKED",
            (flow.id,),
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        size = flow.batch_size or 100
        return [
            {"key": f"messages:{chunk[0]}-{chunk[-1]}", "message_ids": chunk}
            for chunk in (ids[i : i + size] for i in range(0, len(ids), size))
        ]

    def _fi_send(
        self, flow, payload, record=None, idempotency_key=None, correlation_id=None
    ):
        if flow.sync_tier == "realtime":
            return super()._fi_send(
                flow,
                payload,
                record=record,
                idempotency_key=idempotency_key,
                correlation_id=correlation_id,
            )
        # batch tiers: stored now, sent at the flow's next run
        return super(FiEndpoint, self.with_context(fi_defer_sending=True))._fi_send(
            flow,
            payload,
            record=record,
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
        )

    @api.model
    def _cron_fi_dispatch(self):
        res = super()._cron_fi_dispatch()
        self.env["fi.flow"]._cron_fi_micro_batches()
        return res
