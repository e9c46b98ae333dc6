# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Outbound: business events queued as outbound messages with an idempotency
key fixed before the first try, sent by their job through the endpoint's one
request method (the request itself is built by the provider hook
``_fi_build_request``)."""

import uuid

from odoo import _, models
from odoo.exceptions import UserError

from ..lib import http as fi_http
from ..lib.errors import FiBusinessError
from ..lib.hashing import canonical_json, sha256_hex


class FiEndpointOutbound(models.Model):
    _inherit = "fi.endpoint"

    def _fi_send(
        self, flow, payload, record=None, idempotency_key=None, correlation_id=None
    ):
        """Queue ``payload`` for sending on ``flow``; returns the fi.message.

        The idempotency key is fixed here, before the first try, so every retry
        and every replay carries the same key to the external system.
        """
        self.ensure_one()
        if flow.endpoint_id != self or flow.direction != "out":
            raise UserError(
                _(
                    "Flow %(flow)s is not an outbound flow of endpoint %(endpoint)s.",
                    flow=flow.display_name,
                    endpoint=self.display_name,
                )
            )
        if self.state in ("draft", "disabled"):
            raise UserError(
                _(
                    "Endpoint %(endpoint)s is %(state)s: nothing can be sent.",
                    endpoint=self.display_name,
                    state=self.state,
                )
            )
        if idempotency_key:
            # the same business key sends once: the first message answers
            existing = (
                self.env["fi.message"]
                .sudo()
                .search(
                    [
                        ("endpoint_id", "=", self.id),
                        ("direction", "=", "out"),
                        ("idempotency_key", "=", idempotency_key),
                    ],
                    limit=1,
                )
            )
            if existing:
                return existing
        body = canonical_json(payload)
        message = (
            self.env["fi.message"]
            .sudo()
            .create(
                {
                    "endpoint_id": self.id,
                    "company_id": self.company_id.id,
                    "flow_id": flow.id,
                    "direction": "out",
                    "state": "new",
                    "event_type": flow.event_type,
                    "idempotency_key": idempotency_key or str(uuid.uuid4()),
                    "correlation_id": correlation_id or uuid.uuid4().hex,
                    "payload": body.decode("utf-8"),
                    "payload_sha256": sha256_hex(body),
                    "payload_size": len(body),
                    "res_model": record._name if record else False,
                    "res_id": record.id if record else False,
                }
            )
        )
        if (
            not self.env.context.get("fi_defer_sending")
            and not message._fi_hold_reason()
        ):
            message._fi_enqueue_processing()
        return message

    def _fi_request(self, method, url, body, headers):
        """The one place every outbound request of an endpoint goes through."""
        self.ensure_one()
        return fi_http.send(
            method,
            url,
            headers=headers,
            data=body,
            timeout=(self.timeout_connect or 5.0, self.timeout_read or 30.0),
        )

    def _fi_url(self, path):
        """``path`` under the endpoint's base URL."""
        self.ensure_one()
        if not self.base_url:
            raise FiBusinessError(
                _("Endpoint %s has no base URL.", self.name), "configuration"
            )
        return self.base_url.rstrip("/") + "/" + (path or "").lstrip("/")
