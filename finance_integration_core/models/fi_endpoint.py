# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json
import logging
import os
import re
import secrets
import time
import uuid
from functools import partial

from odoo import SUPERUSER_ID, _, api, fields, models, tools
from odoo.exceptions import UserError, ValidationError

from ..lib import http as fi_http
from ..lib.crypto import EncryptionKeyError, SecretBox, parse_keys
from ..lib.errors import SignatureError
from ..lib.hashing import sha256_hex
from ..lib.jsonpointer import resolve_pointer
from ..lib.outbox import SLOT_SECONDS, PlannedSlots, dispatch_slot, naive_utc
from ..lib.redact import redact_headers, redacted_json
from ..lib.signature import verify_hmac_sha256

_logger = logging.getLogger(__name__)

#: write-only secret fields -> the column holding their ciphertext
SECRET_FIELDS = {
    "credential": "credential_enc",
    "webhook_secret": "webhook_secret_enc",
    "webhook_secret_next": "webhook_secret_next_enc",
}

_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_JSON_TYPE = re.compile(r"^application/([a-z0-9.\-]+\+)?json$")

#: per server process: dispatcher slots known to be planned (lib/outbox.py)
_PLANNED_DISPATCH = PlannedSlots()


def _secret_box():
    """The configured encryption keys: server configuration, then environment."""
    value = tools.config.get("fi_encryption_keys") or os.environ.get(
        "FI_ENCRYPTION_KEYS"
    )
    try:
        return SecretBox(parse_keys(value))
    except EncryptionKeyError as err:
        raise UserError(str(err)) from None


class FiEndpoint(models.Model):
    """A connection to one external system for one company."""

    _name = "fi.endpoint"
    _description = "Finance Integration Endpoint"
    _inherit = ["mail.thread", "mail.activity.mixin", "fi.lookup.cache.mixin"]
    _order = "sequence, name, id"

    name = fields.Char(required=True, tracking=True)
    sequence = fields.Integer(default=10)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    provider = fields.Selection(
        [("generic_hmac", "Generic (HMAC-SHA256 signed JSON)")],
        required=True,
        default="generic_hmac",
        tracking=True,
    )
    environment = fields.Selection(
        [("sandbox", "Sandbox"), ("production", "Production")],
        required=True,
        default="sandbox",
        tracking=True,
    )
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("active", "Active"),
            ("paused", "Paused"),
            ("disabled", "Disabled"),
        ],
        required=True,
        default="draft",
        tracking=True,
        help="Draft and disabled endpoints refuse webhooks (404) and send "
        "nothing. A paused endpoint keeps storing incoming messages but "
        "processes nothing until it is resumed.",
    )
    base_url = fields.Char(
        "Base URL",
        tracking=True,
        help="Root URL of the external API for outbound flows.",
    )
    key = fields.Char(
        "Webhook Key",
        required=True,
        copy=False,
        readonly=True,
        default=lambda self: secrets.token_urlsafe(24),
        help="Unguessable part of the webhook URL of this endpoint.",
    )
    webhook_url = fields.Char(compute="_compute_webhook_url")
    integration_user_id = fields.Many2one(
        "res.users",
        required=True,
        default=lambda self: self.env.ref(
            "finance_integration_core.user_fi_integration", raise_if_not_found=False
        ),
        tracking=True,
        help="Processing jobs of this endpoint run as this user, never as superuser.",
    )
    responsible_id = fields.Many2one("res.users", tracking=True)
    flow_ids = fields.One2many("fi.flow", "endpoint_id")

    # -- webhook authentication (generic_hmac) --
    signature_header = fields.Char(default="X-Signature", tracking=True)
    signature_encoding = fields.Selection(
        [("hex", "Hexadecimal"), ("base64", "Base64")], default="hex", required=True
    )
    timestamp_header = fields.Char(
        tracking=True,
        help="When set, the sender signs '<timestamp>.<body>' and sends the Unix "
        "timestamp in this header; older messages are refused.",
    )
    timestamp_tolerance = fields.Integer("Timestamp Tolerance (s)", default=300)
    event_id_pointer = fields.Char(
        "Event Id Pointer",
        default="/id",
        help="JSON pointer (RFC 6901) to the event id: the idempotency key.",
    )
    event_type_pointer = fields.Char("Event Type Pointer", default="/type")
    unknown_event_policy = fields.Selection(
        [("ignore", "Store and ignore"), ("exception", "Store and open an exception")],
        default="ignore",
        required=True,
        help="What to do with an authenticated event that no flow handles.",
    )
    max_body_bytes = fields.Integer("Max Body Size (bytes)", default=1024 * 1024)

    # -- outbound --
    timeout_connect = fields.Float("Connect Timeout (s)", default=5.0)
    timeout_read = fields.Float("Read Timeout (s)", default=30.0)
    retry_base_seconds = fields.Integer("Retry Base Delay (s)", default=10)
    retry_cap_seconds = fields.Integer("Retry Max Delay (s)", default=3600)

    # -- secrets: write-only inputs, ciphertext readable by no group --
    credential = fields.Char(
        compute="_compute_secret_inputs",
        inverse="_inverse_credential",
        help="API key or token sent to the external system (write-only).",
    )
    webhook_secret = fields.Char(
        compute="_compute_secret_inputs",
        inverse="_inverse_webhook_secret",
        help="Secret the external system signs webhooks with (write-only).",
    )
    webhook_secret_next = fields.Char(
        "Next Webhook Secret",
        compute="_compute_secret_inputs",
        inverse="_inverse_webhook_secret_next",
        help="Second accepted secret while the sender rotates (write-only).",
    )
    credential_enc = fields.Char(
        groups="finance_integration_core.group_fi_vault", copy=False
    )
    webhook_secret_enc = fields.Char(
        groups="finance_integration_core.group_fi_vault", copy=False
    )
    webhook_secret_next_enc = fields.Char(
        groups="finance_integration_core.group_fi_vault", copy=False
    )
    credential_set = fields.Boolean(readonly=True, copy=False)
    webhook_secret_set = fields.Boolean(readonly=True, copy=False)
    webhook_secret_next_set = fields.Boolean(readonly=True, copy=False)

    # -- monitoring --
    auth_failure_count = fields.Integer(readonly=True, copy=False)
    last_auth_failure_at = fields.Datetime(readonly=True, copy=False)
    message_count = fields.Integer(compute="_compute_counts")
    open_exception_count = fields.Integer(compute="_compute_counts")

    _sql_constraints = [
        ("key_unique", "unique(key)", "The webhook key must be unique."),
        (
            "max_body_positive",
            "CHECK(max_body_bytes > 0)",
            "The maximum body size must be positive.",
        ),
    ]

    # ------------------------------------------------------------------
    # computes and constraints
    # ------------------------------------------------------------------
    def _compute_webhook_url(self):
        base = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "")
        for endpoint in self:
            endpoint.webhook_url = f"{base.rstrip('/')}/fi/webhook/{endpoint.key}"

    def _compute_secret_inputs(self):
        for endpoint in self:
            endpoint.credential = False
            endpoint.webhook_secret = False
            endpoint.webhook_secret_next = False

    def _compute_counts(self):
        messages = dict(
            self.env["fi.message"]._read_group(
                [("endpoint_id", "in", self.ids)], ["endpoint_id"], ["__count"]
            )
        )
        exceptions = dict(
            self.env["fi.exception"]._read_group(
                [
                    ("endpoint_id", "in", self.ids),
                    ("state", "in", ("new", "in_progress")),
                ],
                ["endpoint_id"],
                ["__count"],
            )
        )
        for endpoint in self:
            endpoint.message_count = messages.get(endpoint, 0)
            endpoint.open_exception_count = exceptions.get(endpoint, 0)

    @api.constrains("base_url", "environment")
    def _check_base_url(self):
        for endpoint in self:
            url = endpoint.base_url
            if not url:
                continue
            if not re.match(r"^https?://[^\s/]+", url):
                raise ValidationError(
                    _(
                        "Endpoint %(name)s: base URL %(url)s is not an http(s) URL.",
                        name=endpoint.name,
                        url=url,
                    )
                )
            local = re.match(r"^https?://(127\.0\.0\.1|localhost|\[::1\])(:|/|$)", url)
            if (
                endpoint.environment == "production"
                and not url.startswith("https://")
                and not local
            ):
                raise ValidationError(
                    _(
                        "Endpoint %(name)s: a production endpoint must use https "
                        "(base URL %(url)s).",
                        name=endpoint.name,
                        url=url,
                    )
                )

    # ------------------------------------------------------------------
    # secrets
    # ------------------------------------------------------------------
    def _fi_store_secret(self, field_name, value):
        column = SECRET_FIELDS[field_name]
        box = _secret_box() if value else None
        for endpoint in self.sudo():
            endpoint.write(
                {
                    column: box.encrypt(value) if value else False,
                    f"{field_name}_set": bool(value),
                }
            )

    def _inverse_credential(self):
        for endpoint in self:
            if endpoint.credential:
                endpoint._fi_store_secret("credential", endpoint.credential)

    def _inverse_webhook_secret(self):
        for endpoint in self:
            if endpoint.webhook_secret:
                endpoint._fi_store_secret("webhook_secret", endpoint.webhook_secret)

    def _inverse_webhook_secret_next(self):
        for endpoint in self:
            if endpoint.webhook_secret_next:
                endpoint._fi_store_secret(
                    "webhook_secret_next", endpoint.webhook_secret_next
                )

    def _fi_secret(self, field_name):
        """The decrypted secret, for server-side use only: never sent to a client."""
        self.ensure_one()
        token = self.sudo()[SECRET_FIELDS[field_name]]
        return _secret_box().decrypt(token) if token else False

    def action_clear_secret_next(self):
        """End a rotation: forget the second webhook secret."""
        self._fi_store_secret("webhook_secret_next", False)
        return True

    def action_promote_secret_next(self):
        """End a rotation: the next secret becomes the only one."""
        for endpoint in self:
            new = endpoint._fi_secret("webhook_secret_next")
            if not new:
                raise UserError(
                    _(
                        "Endpoint %s has no next webhook secret to promote.",
                        endpoint.name,
                    )
                )
            endpoint._fi_store_secret("webhook_secret", new)
            endpoint._fi_store_secret("webhook_secret_next", False)
        return True

    @api.model
    def _fi_reencrypt_all(self):
        """Re-encrypt every stored secret under the newest configured key."""
        box = _secret_box()
        count = 0
        for endpoint in self.sudo().with_context(active_test=False).search([]):
            values = {}
            for column in SECRET_FIELDS.values():
                if endpoint[column]:
                    values[column] = box.rotate(endpoint[column])
                    count += 1
            if values:
                endpoint.write(values)
        return count

    def action_reencrypt_secrets(self):
        count = self._fi_reencrypt_all()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Secrets re-encrypted"),
                "message": _(
                    "%s secrets are now encrypted with the newest key.", count
                ),
                "type": "success",
            },
        }

    # ------------------------------------------------------------------
    # life cycle
    # ------------------------------------------------------------------
    @api.model_create_multi
    def create(self, vals_list):
        secrets_list = [
            {name: vals.pop(name) for name in SECRET_FIELDS if vals.get(name)}
            for vals in vals_list
        ]
        endpoints = super().create(vals_list)
        for endpoint, values in zip(endpoints, secrets_list, strict=True):
            for name, value in values.items():
                endpoint._fi_store_secret(name, value)
        return endpoints

    @api.ondelete(at_uninstall=False)
    def _unlink_except_logged(self):
        self.env["fi.message"]._fi_check_unreferenced("endpoint_id", self)

    def action_activate(self):
        """Activate or resume: what waited in the outbox is dispatched again."""
        self.write({"state": "active"})
        for endpoint in self:
            endpoint._fi_enqueue_dispatcher()
        return True

    def action_pause(self):
        self.write({"state": "paused"})
        return True

    def action_disable(self):
        self.write({"state": "disabled"})
        return True

    def action_regenerate_key(self):
        for endpoint in self:
            endpoint.key = secrets.token_urlsafe(24)
        return True

    # ------------------------------------------------------------------
    # webhook intake: the hot path. One cached lookup, the signature check,
    # one INSERT statement. Nothing from the payload is read before the
    # signature is verified.
    # ------------------------------------------------------------------
    @api.model
    @tools.ormcache("key")
    def _fi_endpoint_config(self, key):
        """Everything intake needs about one endpoint, decrypted once per process."""
        endpoint = self.sudo().search(
            [("key", "=", key), ("state", "in", ("active", "paused"))], limit=1
        )
        if not endpoint:
            return None
        box = None
        secrets_ = []
        for column in ("webhook_secret_enc", "webhook_secret_next_enc"):
            if endpoint[column]:
                box = box or _secret_box()
                secrets_.append(box.decrypt(endpoint[column]))
        flows = {
            flow.event_type: flow.id
            for flow in endpoint.flow_ids
            if flow.enabled and flow.direction == "in"
        }
        return {
            "id": endpoint.id,
            "provider": endpoint.provider,
            "company_id": endpoint.company_id.id,
            "user_id": endpoint.integration_user_id.id,
            "max_body": endpoint.max_body_bytes,
            "secrets": tuple(secrets_),
            "signature_header": endpoint.signature_header or "X-Signature",
            "signature_encoding": endpoint.signature_encoding,
            "timestamp_header": endpoint.timestamp_header or None,
            "tolerance": endpoint.timestamp_tolerance,
            "event_id_pointer": endpoint.event_id_pointer or None,
            "event_type_pointer": endpoint.event_type_pointer or None,
            "unknown_exception": endpoint.unknown_event_policy == "exception",
            "flows": flows,
        }

    @api.model
    def _fi_receive_webhook(self, key, headers, read_body, content_length, remote_addr):
        """Handle one webhook delivery; returns ``(http_status, json_answer)``.

        ``read_body(limit)`` returns the raw body (a reader may stop after
        ``limit`` bytes; a longer answer is refused as too large).
        """
        config = self._fi_endpoint_config(key)
        if config is None:
            return 404, {"error": "unknown endpoint"}
        limit = config["max_body"]
        if content_length is not None and content_length > limit:
            return 413, {"error": f"body larger than {limit} bytes"}
        if not self._fi_content_type_ok(config, headers.get("Content-Type", "")):
            return 415, {"error": "unsupported content type"}
        body = read_body(limit + 1)
        if len(body) > limit:
            return 413, {"error": f"body larger than {limit} bytes"}
        try:
            self._fi_verify_signature(config, body, headers)
        except SignatureError as err:
            self._fi_record_auth_failure(config, err, remote_addr)
            return 401, {"error": "signature verification failed"}
        return self._fi_store_inbound(config, body, headers, remote_addr)

    @api.model
    def _fi_content_type_ok(self, config, content_type):
        media_type = content_type.split(";", 1)[0].strip().lower()
        return bool(_JSON_TYPE.match(media_type))

    @api.model
    def _fi_verify_signature(self, config, body, headers):
        """Provider hook: raise SignatureError unless ``body`` is authentic."""
        if config["provider"] != "generic_hmac":
            raise SignatureError("no_verifier", f"provider {config['provider']}")
        timestamp = None
        if config["timestamp_header"]:
            timestamp = headers.get(config["timestamp_header"]) or False
        verify_hmac_sha256(
            body,
            headers.get(config["signature_header"]),
            config["secrets"],
            timestamp=timestamp,
            tolerance=config["tolerance"],
            encoding=config["signature_encoding"],
        )

    @api.model
    def _fi_signature_headers(self, config):
        """Provider hook: headers whose value is masked in stored copies."""
        return (config["signature_header"],)

    @api.model
    def _fi_parse_event(self, config, document):
        """Provider hook: ``(event_id, event_type)`` of an authentic document."""
        event_id = event_type = None
        if config["event_id_pointer"]:
            event_id = resolve_pointer(document, config["event_id_pointer"])
        if config["event_type_pointer"]:
            event_type = resolve_pointer(document, config["event_type_pointer"])
        return (
            str(event_id) if event_id not in (None, "") else None,
            str(event_type) if event_type not in (None, "") else None,
        )

    def _fi_record_auth_failure(self, config, error, remote_addr):
        self.env["fi.security.event"].sudo().create(
            {
                "endpoint_id": config["id"],
                "reason": error.reason,
                "detail": error.detail[:500],
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
            import base64

            text, encoding = base64.b64encode(body).decode("ascii"), "base64"
            state, error = "invalid", f"body is not UTF-8 text: {err}"
        if state == "new":
            try:
                document = json.loads(text)
            except ValueError as err:
                state, error = "invalid", f"malformed JSON: {err}"
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
        redacted = redacted_json(document) if document is not None else None
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
                "payload": text,
                "payload_encoding": encoding,
                "payload_redacted": redacted,
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

    # ------------------------------------------------------------------
    # dispatch: the stored messages are an outbox drained by queue jobs
    # ------------------------------------------------------------------
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
        """
        cr = self.env.cr
        key = (cr.dbname, config["id"])
        now = time.time()
        slot, start = dispatch_slot(now)
        if not _PLANNED_DISPATCH.covers(key, slot):
            endpoint = self.browse(config["id"])
            wanted = (slot, slot + 1)
            cr.execute(
                "SELECT identity_key FROM queue_job "
                "WHERE identity_key IN %s AND state = 'pending'",
                (tuple(endpoint._fi_dispatcher_identity(n) for n in wanted),),
            )
            found = {row[0] for row in cr.fetchall()}
            if not found:
                endpoint._fi_enqueue_dispatcher(
                    config["user_id"],
                    slot=slot,
                    eta=naive_utc(start),
                )
            elif endpoint._fi_dispatcher_identity(slot) not in found:
                slot, start = slot + 1, start + SLOT_SECONDS  # the next one
            cr.postcommit.add(partial(_PLANNED_DISPATCH.mark, key, slot))
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
        """Turn received messages into one processing job each, in batches."""
        self.ensure_one()
        if self.state not in ("active",):
            return f"endpoint in state {self.state}: nothing dispatched"
        self.env.flush_all()
        total = 0
        held, held_params = self._fi_dispatch_held_clause()
        for _i in range(max_batches):
            self.env.cr.execute(
                "SELECT m.id FROM fi_message m LEFT JOIN fi_flow f ON f.id = m.flow_id "
                f"WHERE m.endpoint_id = %s AND m.state = 'new' AND NOT ({held}) "
                "ORDER BY m.id LIMIT %s FOR UPDATE OF m SKIP LOCKED",
                (self.id, *held_params, batch),
            )
            ids = [row[0] for row in self.env.cr.fetchall()]
            if not ids:
                break
            self.env["fi.message"].browse(ids)._fi_enqueue_processing()
            self.env.flush_all()  # the next batch's query must see them queued
            total += len(ids)
            if len(ids) < batch:
                break
        else:
            # a backlog larger than one run: the next run follows at once
            self._fi_enqueue_dispatcher()
            return f"{total} messages dispatched, more to follow"
        return f"{total} messages dispatched"

    def _fi_dispatch_held_clause(self):
        """SQL condition on ``m`` (message) and ``f`` (flow) selecting the
        messages that stay in the outbox for now, with its parameters."""
        return "false", ()

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

    # ------------------------------------------------------------------
    # outbound
    # ------------------------------------------------------------------
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
        from ..lib.hashing import canonical_json

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
                    "payload_redacted": redacted_json(payload),
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

    def _fi_outbound_headers(self, message):
        """Provider hook: authentication headers for an outbound request."""
        self.ensure_one()
        credential = self._fi_secret("credential")
        return {"Authorization": f"Bearer {credential}"} if credential else {}

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

    # ------------------------------------------------------------------
    # inbound processing
    # ------------------------------------------------------------------
    def _fi_handle_inbound(self, message, document):
        """Provider hook: turn an authentic, valid inbound message into Odoo
        records; returns the main record touched (or None).

        Connectors override it for their flows (``if self.provider != 'x':
        return super()...``). The generic behaviour follows the flow's action.
        """
        self.ensure_one()
        flow = message.flow_id
        if flow.action == "server_action":
            result = (
                flow.server_action_id.with_env(self.env)
                .with_context(
                    active_model="fi.message",
                    active_id=message.id,
                    active_ids=message.ids,
                    fi_document=document,
                )
                .run()
            )
            if isinstance(result, models.BaseModel) and len(result) == 1:
                return result
        return None

    # ------------------------------------------------------------------
    # demo data: real deliveries through the real pipeline
    # ------------------------------------------------------------------
    def _fi_demo_populate(self):
        """Push signed demo events through intake and processing so that the
        demo database shows messages in every state and open exceptions."""
        from odoo.addons.queue_job.job import Job

        from ..lib.signature import sign

        self.ensure_one()
        secret = "whsec_demo_" + self.key[:12]
        try:
            self.webhook_secret = secret
        except UserError:
            _logger.warning(
                "demo endpoint %s has no webhook secret: no encryption key is set",
                self.name,
            )
            return
        self.credential = "sk_demo_outbound"
        self.state = "active"
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
            self._fi_receive_webhook(
                self.key, headers, lambda _n, b=body: b, len(body), "127.0.0.1"
            )
        broken = b'{"id": "evt_demo_1008", "type": "customer.created", "data": '
        self._fi_receive_webhook(
            self.key,
            {"Content-Type": "application/json", "X-Signature": sign(broken, secret)},
            lambda _n: broken,
            len(broken),
            "127.0.0.1",
        )
        # run the jobs now, as the job runner would: dispatch, then process;
        # one message is left waiting for its retry, one fails until it dies
        waiting = {"evt_demo_1009"}
        jobs = self.env["queue.job"].sudo()
        for _round in range(8):
            pending = jobs.search(
                [("state", "=", "pending"), ("model_name", "like", "fi.%")]
            )
            ran = False
            for record in pending:
                message = self.env["fi.message"].search(
                    [("job_uuid", "=", record.uuid)]
                )
                if message.external_id in waiting and message.attempts >= 1:
                    continue
                job = Job.load(self.env, record.uuid)
                job.set_started()
                job.store()
                job.perform()
                job.set_done()
                job.store()
                ran = True
            if not ran:
                break
        flow = self.flow_ids.filtered(lambda f: f.direction == "out")[:1]
        if flow:
            self._fi_send(
                flow,
                {"invoice": "INV/2026/0001", "amount_minor": 125000, "currency": "EUR"},
            )
        self.env.invalidate_all()

    def _fi_demo_populate_paused(self):
        """A paused endpoint: intake stores, nothing is processed."""
        from ..lib.signature import sign

        self.ensure_one()
        secret = "whsec_demo_" + self.key[:12]
        try:
            self.webhook_secret = secret
        except UserError:
            return
        self.state = "paused"
        for event_id, event_type in (
            ("evt_gw_2001", "settlement.created"),
            ("evt_gw_2002", "settlement.report_ready"),
        ):
            body = json.dumps({"id": event_id, "type": event_type, "data": {}}).encode()
            headers = {
                "Content-Type": "application/json",
                "X-Signature": sign(body, secret),
            }
            self._fi_receive_webhook(
                self.key, headers, lambda _n, b=body: b, len(body), "127.0.0.1"
            )
