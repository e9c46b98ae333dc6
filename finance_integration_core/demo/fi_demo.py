# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Demo population, kept out of the models: real signed deliveries pushed
through the real intake and processing, so that the demo database shows
messages in every state and open exceptions."""

import json
import logging

from odoo import api, models
from odoo.exceptions import UserError

from odoo.addons.queue_job.job import Job

from ..lib.signature import sign

_logger = logging.getLogger(__name__)


class FiDemo(models.AbstractModel):
    _name = "fi.demo"
    _description = "Finance Integration Demo Data"

    @api.model
    def _fi_demo_populate(self, endpoint_ids):
        """Push signed demo events through intake and processing so that the
        demo database shows messages in every state and open exceptions."""
        endpoint = self.env["fi.endpoint"].browse(endpoint_ids)
        endpoint.ensure_one()
        secret = "whsec_demo_" + endpoint.key[:12]
        try:
            endpoint.webhook_secret = secret
        except UserError:
            _logger.warning(
                "demo endpoint %s has no webhook secret: no encryption key is set",
                endpoint.name,
            )
            return
        endpoint.credential = "sk_demo_outbound"
        endpoint.state = "active"
        events = [
            (
                "evt_demo_1001",
                "customer.created",
                {"customer_id": "cus_1001", "name": "Azure Interior"},
            ),
            (
                "evt_demo_1002",
                "customer.created",
                {"customer_id": "cus_1002", "name": "Deco Addict"},
            ),
            (
                "evt_demo_1003",
                "customer.created",
                {"customer_id": "cus_1003", "name": "Blocked Corp", "blocked": True},
            ),
            (
                "evt_demo_1004",
                "customer.created",
                {"customer_id": "cus_1004", "name": "Locked Ltd", "fail_times": 99},
            ),
            (
                "evt_demo_1005",
                "customer.created",
                {"customer_id": "cus_1005", "name": "Slow Sync SA", "fail_times": 1},
            ),
            (
                "evt_demo_1006",
                "customer.created",
                {"customer_id": "cus_1006", "name": ""},
            ),
            ("evt_demo_1007", "subscription.renewed", {"plan": "gold"}),
            (
                "evt_demo_1009",
                "customer.created",
                {
                    "customer_id": "cus_1009",
                    "name": "Pending Retry GmbH",
                    "fail_times": 2,
                },
            ),
        ]
        for event_id, event_type, data in events:
            body = json.dumps(
                {"id": event_id, "type": event_type, "data": data}
            ).encode()
            headers = {
                "Content-Type": "application/json",
                "X-Signature": sign(body, secret),
            }
            endpoint._fi_receive_webhook(
                endpoint.key, headers, lambda _n, b=body: b, len(body), "127.0.0.1"
            )
        broken = b'{"id": "evt_demo_1008", "type": "customer.created", "data": '
        endpoint._fi_receive_webhook(
            endpoint.key,
            {"Content-Type": "application/json", "X-Signature": sign(broken, secret)},
            lambda _n: broken,
            len(broken),
            "127.0.0.1",
        )
        # run the jobs now, as the job runner would: dispatch, then process;
        # one message is left waiting for its retry, one fails until it dies
        self._fi_demo_run_jobs(endpoint.env, waiting={"evt_demo_1009"}, rounds=8)
        flow = endpoint.flow_ids.filtered(lambda f: f.direction == "out")[:1]
        if flow:
            endpoint._fi_send(
                flow,
                {"invoice": "INV/2026/0001", "amount_minor": 125000, "currency": "EUR"},
            )
        endpoint.env.invalidate_all()

    @api.model
    def _fi_demo_run_jobs(self, env, waiting=(), rounds=10):
        """Run the pending jobs of the suite now, as the job runner would
        (round after round, so retries and follow-up jobs run too); messages
        whose event id is in ``waiting`` stay planned after their first try."""
        jobs = env["queue.job"].sudo()
        for _round in range(rounds):
            ran = False
            for record in jobs.search(
                [("state", "=", "pending"), ("model_name", "like", "fi.%")]
            ):
                message = env["fi.message"].search(
                    [("job_uuid", "=", record.uuid)], limit=1
                )
                if message.external_id in waiting and message.attempts >= 1:
                    continue
                job = Job.load(env, record.uuid)
                job.set_started()
                job.store()
                job.perform()
                job.set_done()
                job.store()
                ran = True
            if not ran:
                break

    @api.model
    def _fi_demo_populate_paused(self, endpoint_ids):
        """A paused endpoint: intake stores, nothing is processed."""
        endpoint = self.env["fi.endpoint"].browse(endpoint_ids)
        endpoint.ensure_one()
        secret = "whsec_demo_" + endpoint.key[:12]
        try:
            endpoint.webhook_secret = secret
        except UserError:
            return
        endpoint.state = "paused"
        for event_id, event_type in (
            ("evt_gw_2001", "settlement.created"),
            ("evt_gw_2002", "settlement.report_ready"),
        ):
            body = json.dumps({"id": event_id, "type": event_type, "data": {}}).encode()
            headers = {
                "Content-Type": "application/json",
                "X-Signature": sign(body, secret),
            }
            endpoint._fi_receive_webhook(
                endpoint.key, headers, lambda _n, b=body: b, len(body), "127.0.0.1"
            )
