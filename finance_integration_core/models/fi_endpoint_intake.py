# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Webhook intake: the hot path. One cached lookup, the provider's signature
check, one INSERT statement, then 2xx. Nothing from the payload is read before
the signature is verified; the provider hooks it calls are documented in
``fi_endpoint_provider.py``."""

import base64
import json
import logging
import re
import uuid

from odoo import api, models, tools
from odoo.tools.cache import get_cache_key_counter

from ..lib.errors import SignatureError
from ..lib.hashing import sha256_hex
from ..lib.network import address_allowed, parse_networks
from ..lib.redact import redact_headers
from .fi_endpoint_secrets import secret_box

_logger = logging.getLogger(__name__)

_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class FiEndpointIntake(models.Model):
    _inherit = "fi.endpoint"

    @api.model
    @tools.ormcache("key")
    def _fi_endpoint_config(self, key):
        """Everything intake needs about one endpoint, decrypted once per process;
        the provider adds its settings through ``_fi_provider_config``."""
        endpoint = self.sudo().search(
            [("key", "=", key), ("state", "in", ("active", "paused"))], limit=1
        )
        if not endpoint or endpoint._fi_refuses_production():
            # a production endpoint in a database that is not production (a
            # copy) receives nothing, whatever its state says
            return None
        box = None
        secrets_ = []
        for column in ("webhook_secret_enc", "webhook_secret_next_enc"):
            if endpoint[column]:
                box = box or secret_box()
                secrets_.append(box.decrypt(endpoint[column]))
        flows = {
            flow.event_type: flow.id
            for flow in endpoint.flow_ids
            if flow.enabled and flow.direction == "in"
        }
        config = endpoint._fi_provider_config()
        config.update(
            {
                "id": endpoint.id,
                "provider": endpoint.provider,
                "company_id": endpoint.company_id.id,
                "user_id": endpoint.integration_user_id.id,
                "max_body": endpoint.max_body_bytes,
                "secrets": tuple(secrets_),
                "unknown_exception": endpoint.unknown_event_policy == "exception",
                "flows": flows,
                "networks": parse_networks(endpoint.webhook_allowed_networks),
                # the suite's keys, built once: encrypting costs no lookup
                "payload_box": secret_box() if endpoint.encrypt_payloads else None,
            }
        )
        return config

    @api.model
    def _fi_cached_config(self, key):
        """``_fi_endpoint_config(key)``, read straight from the registry cache
        when it is there: on the hot path the cached method's generic wrapper
        (it binds the arguments to the signature) costs more than the lookup."""
        cache, cache_key, _counter = get_cache_key_counter(
            self._fi_endpoint_config, key
        )
        try:
            return cache[cache_key]
        except KeyError:
            return self._fi_endpoint_config(key)

    @api.model
    def _fi_source_allowed(self, config, remote_addr):
        """Whether the delivering address is in the endpoint's allowlist (from
        the cached config: no query). ``remote_addr`` is Odoo's: the forwarded
        address only when Odoo runs with proxy_mode."""
        return address_allowed(remote_addr, config["networks"])

    @api.model
    def _fi_intake_endpoint(self, config):
        """The endpoint record of ``config`` for the provider hooks, its provider
        known without a query (the hooks' guard reads it)."""
        endpoint = self.browse(config["id"])
        self.env.cache.set(endpoint, self._fields["provider"], config["provider"])
        return endpoint

    @api.model
    def _fi_receive_webhook(self, key, headers, read_body, content_length, remote_addr):
        """Handle one webhook delivery; returns ``(http_status, json_answer)``.

        ``read_body(n)`` returns the raw body, at most ``n`` bytes of it, or
        None when it is longer (the reader stops there: a body over the
        endpoint's limit is refused without being read whole).
        """
        config = self._fi_cached_config(key)
        if config is None:
            return 404, {"error": "unknown endpoint"}
        endpoint = self._fi_intake_endpoint(config)
        if config["networks"] and not self._fi_source_allowed(config, remote_addr):
            endpoint._fi_record_auth_failure(
                config,
                SignatureError(
                    "source_refused",
                    f"source {remote_addr} is outside the allowed networks",
                ),
                remote_addr,
            )
            return 403, {"error": "source not allowed"}
        limit = config["max_body"]
        if content_length is not None and content_length > limit:
            return 413, {"error": f"body larger than {limit} bytes"}
        media_type = headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if not endpoint._fi_accepts_content_type(config, media_type):
            return 415, {"error": "unsupported content type"}
        body = read_body(limit + 1)
        if body is None or len(body) > limit:
            return 413, {"error": f"body larger than {limit} bytes"}
        try:
            endpoint._fi_verify_signature(config, body, headers)
        except SignatureError as err:
            endpoint._fi_record_auth_failure(config, err, remote_addr)
            return 401, {"error": "signature verification failed"}
        return endpoint._fi_store_inbound(config, body, headers, remote_addr)

    def _fi_record_auth_failure(self, config, error, remote_addr):
        events = self.env["fi.security.event"].sudo()
        reason, detail = error.reason, error.detail
        if reason not in events._fi_reasons():
            # a provider's reason not declared with selection_add: still refused
            # and recorded, never a 500 that the sender would retry
            reason, detail = "bad_signature", f"{error.reason}: {detail}"
        events.create(
            {
                "endpoint_id": config["id"],
                "reason": reason,
                "detail": detail[:500],
                "remote_addr": remote_addr,
            }
        )
        self.env.cr.execute(
            "UPDATE fi_endpoint "
            "SET auth_failure_count = COALESCE(auth_failure_count, 0) + 1, "
            "last_auth_failure_at = now() at time zone 'UTC' WHERE id = %s",
            (config["id"],),
        )
        _logger.warning(
            "webhook refused on endpoint %s from %s: %s",
            config["id"],
            remote_addr,
            error.reason,
        )

    def _fi_store_inbound(self, config, body, headers, remote_addr):
        """Store an authentic delivery durably before answering 2xx."""
        state, error, document = "new", None, None
        event_id = event_type = flow_id = None
        encoding = "text"
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as err:
            text, encoding = base64.b64encode(body).decode("ascii"), "base64"
            state, error = "invalid", f"body is not UTF-8 text: {err}"
        if state == "new":
            try:
                document = self._fi_parse_body(text, headers.get("Content-Type", ""))
            except ValueError as err:
                state, error = "invalid", f"malformed payload: {err}"
        if document is not None:
            event_id, event_type = self._fi_parse_event(config, document)
            flows = config["flows"]
            flow_id = flows.get(event_type) or flows.get("*")
            if not flow_id:
                state = "unroutable" if config["unknown_exception"] else "ignored"
                error = f"no enabled inbound flow handles event type {event_type!r}"
        digest = sha256_hex(body)
        idempotency_key = event_id or f"sha256:{digest}"
        correlation_id = headers.get("X-Correlation-ID") or headers.get("X-Request-ID")
        if not correlation_id or not _CORRELATION_ID.match(correlation_id):
            correlation_id = uuid.uuid4().hex
        box = config["payload_box"]
        stored = text
        if box is not None:
            # encrypted at rest; the hash above stays on the plaintext body
            stored = box.encrypt(text)
            encoding = "fernet" if encoding == "text" else "fernet_base64"
        stored_headers = json.dumps(
            redact_headers(dict(headers), self._fi_signature_headers(config))
        )
        message_id = self.env["fi.message"]._fi_insert_inbound(
            config,
            {
                "flow_id": flow_id,
                "state": state,
                "event_type": event_type,
                "external_id": event_id,
                "idempotency_key": idempotency_key,
                "correlation_id": correlation_id,
                "payload": stored,
                "payload_encoding": encoding,
                "payload_sha256": digest,
                "payload_size": len(body),
                "headers_json": stored_headers,
                "remote_addr": remote_addr,
                "error_message": error,
            },
        )
        if message_id is None:
            return 200, {"status": "duplicate", "idempotency_key": idempotency_key}
        message = self.env["fi.message"].browse(message_id)
        if state == "new":
            self._fi_plan_dispatch(config)
        elif state != "ignored":
            reason = "malformed_payload" if state == "invalid" else "unknown_event"
            message.with_user(config["user_id"])._fi_open_exception(
                reason,
                error,
                category="technical" if state == "invalid" else "business",
            )
        return 200, {
            "status": "received" if state == "new" else state,
            "message_id": message_id,
            "correlation_id": correlation_id,
        }
