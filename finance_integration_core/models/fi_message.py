# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json
import logging
from datetime import timedelta

import psycopg2
from psycopg2 import errorcodes

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, MissingError, UserError, ValidationError
from odoo.tools import SQL

from ..lib.backoff import CONFLICT_RETRIES, conflict_retry_delay, next_retry_delay
from ..lib.errors import FiBusinessError, FiError, FiIgnored
from ..lib.http import raise_for_outcome
from ..lib.redact import pretty_json
from .fi_endpoint_secrets import secret_box

_logger = logging.getLogger(__name__)

STATES = [
    ("new", "Received"),
    ("queued", "Queued"),
    ("retry", "Waiting to Retry"),
    ("done", "Done"),
    ("failed", "Failed"),
    ("dead", "Dead Letter"),
    ("invalid", "Invalid Payload"),
    ("unroutable", "No Flow"),
    ("ignored", "Ignored"),
]
#: states from which processing may (re)start
PROCESSABLE = ("queued", "retry")
#: identity keys of the jobs of one message (``_fi_job_identity``) begin so
SINGLE_JOB_IDENTITY = "fi.message:"
#: PostgreSQL errors that a later try can overcome
TRANSIENT_PGCODES = {
    errorcodes.LOCK_NOT_AVAILABLE,
    errorcodes.SERIALIZATION_FAILURE,
    errorcodes.DEADLOCK_DETECTED,
    errorcodes.UNIQUE_VIOLATION,
}
#: transient failures caused by a concurrent transaction, not by the other side
CONFLICT_REASONS = frozenset({"binding_race", "database_concurrency"})
#: what a stored response keeps of an answer
RESPONSE_KEEP = 64 * 1024


#: parameters of the intake statement, in order ($1, $2 ...)
INTAKE_PARAMS = (
    "endpoint",
    "flow_id",
    "company",
    "state",
    "event_type",
    "external_id",
    "idempotency_key",
    "correlation_id",
    "payload",
    "payload_encoding",
    "payload_sha256",
    "payload_size",
    "headers_json",
    "remote_addr",
    "error_message",
    "error_class",
)
INTAKE_SQL = """
    INSERT INTO fi_message AS m
        (endpoint_id, flow_id, company_id, direction, state,
         event_type, external_id, idempotency_key,
         correlation_id, payload, payload_encoding,
         payload_sha256, payload_size, headers_json, remote_addr,
         error_message, error_class, attempts, duplicate_count,
         create_date, write_date)
    VALUES (%s, %s, %s, 'in', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
            %s, %s, 0, 0,
            now() at time zone 'UTC', now() at time zone 'UTC')
    ON CONFLICT (endpoint_id, direction, idempotency_key) DO UPDATE
       SET duplicate_count = m.duplicate_count + 1,
           last_duplicate_at = now() at time zone 'UTC'
    RETURNING CASE WHEN xmax = 0 THEN m.id END
"""


class LogReference(fields.Many2one):
    """A Many2one of the message log whose column has no foreign key.

    PostgreSQL checks a foreign key with one query per inserted row, planned
    again in every request (Odoo resets pooled connections): on the webhook
    path the checks of endpoint, flow and company cost more than the insert
    itself. The ORM keeps these references instead: an endpoint, flow or company
    the log refers to cannot be deleted (``_fi_check_unreferenced``).
    """

    def update_db_foreign_key(self, model, column):
        return


class FiMessage(models.Model):
    """One exchanged message, inbound or outbound, with its whole history."""

    _name = "fi.message"
    _description = "Finance Integration Message"
    _order = "id desc"
    _rec_name = "display_name"

    endpoint_id = LogReference(
        "fi.endpoint", required=True, readonly=True, ondelete="restrict"
    )
    flow_id = LogReference("fi.flow", readonly=True, index=True, ondelete="restrict")
    company_id = LogReference(
        "res.company", required=True, readonly=True, ondelete="restrict"
    )
    direction = fields.Selection(
        [("in", "Inbound"), ("out", "Outbound")], required=True, readonly=True
    )
    state = fields.Selection(STATES, required=True, default="new", readonly=True)
    event_type = fields.Char(readonly=True)
    external_id = fields.Char(readonly=True)
    idempotency_key = fields.Char(readonly=True)
    duplicate_count = fields.Integer(
        readonly=True, help="Later deliveries of the same key, refused as duplicates."
    )
    last_duplicate_at = fields.Datetime(readonly=True)
    correlation_id = fields.Char(readonly=True)
    # raw payload: used by processing and replay, shown to nobody
    payload = fields.Text(
        readonly=True, groups="finance_integration_core.group_fi_vault"
    )
    payload_encoding = fields.Selection(
        [
            ("text", "Text"),
            ("base64", "Base64 (not UTF-8)"),
            ("fernet", "Encrypted text"),
            ("fernet_base64", "Encrypted Base64 (not UTF-8)"),
        ],
        default="text",
        readonly=True,
    )
    # One copy of each body is stored: the view masks its secrets when it is
    # shown (the provider's _fi_redacted_copy), so no webhook pays for a second
    # copy and today's masking rules apply to old messages too.
    payload_display = fields.Text(
        "Payload (redacted)", compute="_compute_payload_display"
    )
    payload_sha256 = fields.Char("Payload SHA-256", readonly=True)
    payload_size = fields.Integer(readonly=True)
    headers_json = fields.Text("Headers (redacted)", readonly=True)
    remote_addr = fields.Char(readonly=True)
    attempts = fields.Integer(readonly=True)
    conflict_count = fields.Integer(
        readonly=True,
        help="Tries lost to a concurrent transaction (settled by its commit), "
        "retried within seconds without spending an attempt.",
    )
    next_retry_at = fields.Datetime(readonly=True)
    date_done = fields.Datetime(readonly=True)
    latency_ms = fields.Float(
        digits=(16, 0),
        readonly=True,
        help="Milliseconds from receipt to the end of the first successful "
        "processing (a later replay does not change it).",
    )
    error_class = fields.Selection(
        [("technical", "Technical"), ("business", "Business")], readonly=True
    )
    error_code = fields.Char(readonly=True)
    error_message = fields.Text(readonly=True)
    response_status = fields.Integer(readonly=True)
    response_body = fields.Text(readonly=True)
    res_model = fields.Char("Related Model", readonly=True)
    res_id = fields.Many2oneReference(
        "Related Record", model_field="res_model", readonly=True
    )
    job_uuid = fields.Char(readonly=True, copy=False)
    exception_ids = fields.One2many("fi.exception", "fi_message_id", readonly=True)

    @api.depends("payload_encoding", "payload_purged_at")
    def _compute_payload_display(self):
        for message in self:
            message.payload_display = message.sudo()._fi_redacted_view()

    def _fi_redacted_view(self):
        """The payload as shown: parsed as at intake, secrets masked by the
        provider, indented; a body that cannot be parsed is not shown (its
        secrets could not be found to be masked)."""
        if not self.payload:
            return False
        try:
            document = self._fi_document()
        except FiBusinessError:
            return _(
                "(not shown: the body is not a valid document, so its secrets "
                "cannot be masked; %(size)s bytes, SHA-256 %(digest)s)",
                size=self.payload_size,
                digest=self.payload_sha256,
            )
        return pretty_json(self.endpoint_id._fi_redacted_copy(document))

    def _fi_plaintext(self, stored):
        """A stored payload column in clear: decrypted when the endpoint
        encrypted the payload at rest (for processing and the redacted view
        only; never written back)."""
        if stored and self.payload_encoding in ("fernet", "fernet_base64"):
            return secret_box().decrypt(stored)
        return stored

    def _compute_display_name(self):
        for message in self:
            direction = "IN" if message.direction == "in" else "OUT"
            message.display_name = (
                f"{direction} #{message.id or ''} {message.event_type or ''}"
            )

    def init(self):
        # webhook intake inserts with raw SQL: the columns need their defaults
        self.env.cr.execute(
            "ALTER TABLE fi_message ALTER COLUMN attempts SET DEFAULT 0, "
            "ALTER COLUMN payload_encoding SET DEFAULT 'text'"
        )
        # Every index costs each webhook an insert: a few composite and partial
        # ones serve the dispatcher, the watchdog, retention and the problem
        # filters instead of one index per field.
        self.env.cr.execute(
            "ALTER TABLE fi_message ALTER COLUMN duplicate_count SET DEFAULT 0"
        )
        # A webhook row (a body of a few kB) stays whole in its heap
        # page: neither compressed nor moved to the TOAST table, both of which
        # cost every webhook CPU. Only rows over 8 kB are compressed.
        self.env.cr.execute(
            "ALTER TABLE fi_message SET (toast_tuple_target = 8160), "
            "ALTER COLUMN payload SET STORAGE EXTENDED"
        )
        for name, definition in (
            ("fi_message_endpoint_date_idx", "(endpoint_id, create_date)"),
            (
                "fi_message_pending_idx",
                "(endpoint_id, id) WHERE state IN ('new', 'queued', 'retry')",
            ),
            (
                "fi_message_job_idx",
                "(job_uuid) WHERE state IN ('queued', 'retry')",
            ),
            (
                "fi_message_problem_idx",
                "(state, endpoint_id) WHERE state IN "
                "('failed', 'dead', 'invalid', 'unroutable')",
            ),
            ("fi_message_res_idx", "(res_model, res_id) WHERE res_id IS NOT NULL"),
        ):
            self.env.cr.execute(
                f"CREATE INDEX IF NOT EXISTS {name} ON fi_message {definition}"
            )
        # references kept by the ORM, not by foreign keys (LogReference)
        self.env.cr.execute(
            "ALTER TABLE fi_message "
            "DROP CONSTRAINT IF EXISTS fi_message_endpoint_id_fkey, "
            "DROP CONSTRAINT IF EXISTS fi_message_flow_id_fkey, "
            "DROP CONSTRAINT IF EXISTS fi_message_company_id_fkey"
        )
        # the idempotency keys: unique per endpoint and direction, in the database
        self.env.cr.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS fi_message_idempotency_key_uniq "
            "ON fi_message (endpoint_id, direction, idempotency_key)"
        )

    @api.model
    def _fi_check_unreferenced(self, field_name, records):
        """Refuse to delete ``records`` while messages refer to them through
        ``field_name`` (the foreign key the log does without)."""
        if not records:
            return
        self.flush_model([field_name])
        column = SQL.identifier(field_name)
        self.env.cr.execute(
            SQL(
                "SELECT %s, count(*) FROM fi_message WHERE %s IN %s GROUP BY 1",
                column,
                column,
                tuple(records.ids),
            )
        )
        counts = dict(self.env.cr.fetchall())
        referenced = [
            self.env._(
                "%(name)s (%(count)s messages)",
                name=rec.display_name,
                count=counts[rec.id],
            )
            for rec in records
            if rec.id in counts
        ]
        if referenced:
            raise UserError(
                self.env._(
                    "%(records)s cannot be deleted: the message log refers to "
                    "it. Archive or disable it instead.",
                    records=", ".join(referenced),
                )
            )

    # ------------------------------------------------------------------
    # intake
    # ------------------------------------------------------------------
    @api.model
    def _fi_insert_inbound(self, config, values):
        """Store one inbound message in one statement.

        Returns the new message's id, or None when the idempotency key was
        already used (a duplicate delivery: nothing is
        created, the first message's duplicate counter goes up). The unique
        index on (endpoint, direction, key) makes this hold for simultaneous
        deliveries on different workers.

        The row carries no create_uid/write_uid: each foreign key checked at
        insert locks its parent row, and concurrent webhooks would all queue on
        the same user row. The endpoint says which integration user received it.
        """
        cr = self.env.cr
        values = dict(
            values,
            endpoint=config["id"],
            company=config["company_id"],
            error_class="technical" if values["state"] == "invalid" else None,
        )
        cr.execute(INTAKE_SQL, [values.get(name) for name in INTAKE_PARAMS])
        return cr.fetchone()[0]

    # ------------------------------------------------------------------
    # processing
    # ------------------------------------------------------------------
    def _fi_enqueue_processing(self, eta=None):
        """One processing job per message, on its flow's channel, as the
        endpoint's integration user. Identity keys stop a second job for the
        same attempt."""
        for message in self:
            flow = message.flow_id
            user = message.endpoint_id.integration_user_id
            job = (
                message.with_user(user)
                .with_company(message.company_id)
                .with_delay(
                    channel=flow.channel or "root.fi",
                    eta=eta,
                    identity_key=message._fi_job_identity(),
                    description=f"{'Send' if message.direction == 'out' else 'Process'}"
                    f" {message.display_name}",
                    max_retries=5,
                )
                ._fi_process()
            )
            message.sudo().write(
                {"state": "queued" if not eta else "retry", "job_uuid": job.uuid}
            )

    def _fi_job_identity(self):
        """One job per message and try: attempt number, and the conflict
        number when a conflict retries the same attempt."""
        identity = f"{SINGLE_JOB_IDENTITY}{self.id}:{self.attempts}"
        return f"{identity}:c{self.conflict_count}" if self.conflict_count else identity

    def _fi_process(self):
        """Job: process (inbound) or send (outbound) one message.

        The handler runs in a savepoint: when it fails, what it wrote is rolled
        back and the failure is written into the message (retry, dead letter or
        finance exception) instead of being raised at the job runner.
        """
        self.ensure_one()
        message = self
        if message.state not in PROCESSABLE:
            return f"nothing to do: message is {message.state}"
        hold = message._fi_hold_reason()
        if hold:
            # back into the outbox, without a job: dispatched again on resume
            message.write({"state": "new", "job_uuid": False})
            return f"held back: {hold}"
        size = message._fi_batch_size()
        if size > 1:
            # fi_message_batch.py: with up to size - 1 queued neighbours
            return message._fi_process_batch(size)
        return message._fi_process_one()

    def _fi_process_one(self):
        """Run the handler of this message alone, in its own savepoint, and
        record the outcome (done, ignored, retry, failed)."""
        try:
            with self.env.cr.savepoint():
                return self._fi_mark_done(self._fi_run_handler())
        except FiIgnored as err:
            return self._fi_mark_ignored(err.reason)
        except Exception as err:  # noqa: BLE001 - classified below, never swallowed
            return self._fi_handle_failure(err)

    def _fi_mark_ignored(self, reason):
        """The handler said the message is none of its business: kept, marked
        ignored with the reason, any open exception item closed."""
        self.write(
            {
                "state": "ignored",
                "attempts": self.attempts + 1,
                "next_retry_at": False,
                "error_class": False,
                "error_code": "ignored",
                "error_message": reason,
            }
        )
        self.exception_ids.filtered(
            lambda e: e.state in ("new", "in_progress")
        )._fi_close_by_success()
        return f"ignored: {reason}"

    def _fi_hold_reason(self):
        """Why this message must wait instead of being processed now, or None."""
        if self.endpoint_id.state != "active":
            return f"endpoint {self.endpoint_id.name} is {self.endpoint_id.state}"
        if self.endpoint_id._fi_refuses_production():
            return (
                f"endpoint {self.endpoint_id.name} is a production endpoint in a "
                "database that is not production"
            )
        return None

    def _fi_run_handler(self):
        """Validate against the flow's schema, then run the direction's handler."""
        document = self._fi_valid_document()
        if self.direction == "out":
            return self._fi_send_now(document)
        return self.endpoint_id._fi_handle_inbound(self, document)

    def _fi_valid_document(self):
        """The stored document, checked against the flow's schema (a
        ``FiBusinessError`` ``schema_invalid`` naming what does not match)."""
        document = self._fi_document()
        errors = self.flow_id._fi_schema_errors(document) if self.flow_id else []
        if errors:
            raise FiBusinessError(
                _(
                    "Payload does not match the schema of flow %(flow)s (version "
                    "%(version)s): %(errors)s",
                    flow=self.flow_id.name,
                    version=self.flow_id.schema_version,
                    errors="; ".join(errors),
                ),
                "schema_invalid",
            )
        return document

    def _fi_document(self):
        """The stored payload as a document, parsed by the endpoint's provider
        (``_fi_parse_body``) as at intake."""
        self.ensure_one()
        if self.payload_encoding not in ("text", "fernet"):
            raise FiBusinessError(
                _("The payload is not UTF-8 text."), "malformed_payload"
            )
        content_type = ""
        if self.direction == "in" and self.headers_json:
            headers = {k.lower(): v for k, v in json.loads(self.headers_json).items()}
            content_type = headers.get("content-type", "")
        try:
            return self.endpoint_id._fi_parse_body(
                self._fi_plaintext(self.sudo().payload) or "null", content_type
            )
        except ValueError as err:
            raise FiBusinessError(
                _("Malformed payload: %s", err), "malformed_payload"
            ) from None

    def _fi_send_now(self, document):
        """Send an outbound message: the provider builds the request, the
        endpoint's one request method sends it."""
        endpoint = self.endpoint_id
        request = endpoint._fi_build_request(self, document)
        method, url = request["method"], request["url"]
        result = endpoint._fi_request(method, url, request["body"], request["headers"])
        self._fi_store_response(result)
        try:
            raise_for_outcome(result, what=f"{method} {url}")
        except FiError as err:
            err.http_result = result
            raise
        try:
            answer = json.loads(result.body) if result.body else None
        except ValueError:
            answer = None
        external_id = endpoint._fi_response_external_id(self, result, answer)
        if external_id:
            self.external_id = external_id
        return None

    def _fi_store_response(self, result):
        self.write(
            {
                "response_status": result.status,
                "response_body": (result.body or "")[:RESPONSE_KEEP],
            }
        )

    def _fi_mark_done(self, record=None):
        now = fields.Datetime.now()
        values = {
            "state": "done",
            "date_done": now,
            "attempts": self.attempts + 1,
            "next_retry_at": False,
            "error_class": False,
            "error_code": False,
            "error_message": False,
        }
        if not self.date_done:
            # receipt is stamped by the database, completion by this process:
            # clocks a few ms apart must not give a negative latency
            elapsed = (now - self.create_date).total_seconds() * 1000
            values["latency_ms"] = max(0, round(elapsed))
        if record:
            values.update(res_model=record._name, res_id=record.id)
        self.write(values)
        self.exception_ids.filtered(
            lambda e: e.state in ("new", "in_progress")
        )._fi_close_by_success()
        return f"done{f': {record._name},{record.id}' if record else ''}"

    @api.model
    def _fi_classify(self, err):
        """``(kind, reason_code, message, retry_after)`` of an error."""
        if isinstance(err, FiError):
            kind = "transient" if err.retryable else err.category
            return kind, err.reason_code, str(err), err.retry_after
        if isinstance(err, psycopg2.OperationalError | psycopg2.IntegrityError) and (
            err.pgcode in TRANSIENT_PGCODES
        ):
            return "transient", "database_concurrency", str(err).strip(), None
        if isinstance(err, UserError | ValidationError | AccessError | MissingError):
            return "business", "business_rule", str(err), None
        return "technical", "unexpected_error", f"{type(err).__name__}: {err}", None

    def _fi_route_kind(self, kind, reason):
        """Technical failures that a classified error may hide: the other side
        refusing our credentials (401/403) and an inbound payload that no longer
        matches its flow's schema (the provider's schema drifted) are for the
        technical owner, not for finance."""
        if kind == "business" and (
            reason in ("http_401", "http_403")
            or (reason == "schema_invalid" and self.direction == "in")
        ):
            return "technical"
        return kind

    def _fi_handle_failure(self, err):
        kind, reason, text, retry_after = self._fi_classify(err)
        if kind == "technical":
            _logger.exception("message %s failed unexpectedly", self.id, exc_info=err)
        kind = self._fi_route_kind(kind, reason)
        attempts = self.attempts + 1
        values = {"attempts": attempts, "error_code": reason, "error_message": text}
        result = getattr(err, "http_result", None)
        if result is not None:
            values["response_status"] = result.status
            values["response_body"] = (result.body or "")[:RESPONSE_KEEP]
        if (
            kind == "transient"
            and reason in CONFLICT_REASONS
            and self.conflict_count < CONFLICT_RETRIES
        ):
            # the concurrent transaction's commit settles it: retry in seconds
            conflicts = self.conflict_count + 1
            delay = conflict_retry_delay(conflicts)
            eta = fields.Datetime.now() + timedelta(seconds=delay)
            values.update(
                attempts=self.attempts,
                conflict_count=conflicts,
                error_class="technical",
                next_retry_at=eta,
            )
            self.write(values)
            self._fi_enqueue_processing(eta=eta)
            return (
                f"conflict ({reason}), retry in {delay:.1f}s without spending "
                "an attempt"
            )
        if kind == "transient":
            if attempts < (self.flow_id.max_attempts or 1):
                endpoint = self.endpoint_id
                delay = next_retry_delay(
                    attempts,
                    retry_after=retry_after,
                    base=endpoint.retry_base_seconds or 10,
                    cap=endpoint.retry_cap_seconds or 3600,
                )
                eta = fields.Datetime.now() + timedelta(seconds=delay)
                values.update(error_class="technical", next_retry_at=eta)
                self.write(values)
                self._fi_enqueue_processing(eta=eta)
                return f"transient failure ({reason}), retry {attempts} in {delay:.0f}s"
            values.update(state="dead", error_class="technical", next_retry_at=False)
            self.write(values)
            self._fi_open_exception(
                "retries_exhausted",
                _(
                    "Gave up after %(n)s attempts; last error: %(error)s",
                    n=attempts,
                    error=text,
                ),
                category="technical",
            )
            return f"dead letter after {attempts} attempts"
        values.update(
            state="failed", error_class=kind if kind == "business" else "technical"
        )
        self.write(values)
        self._fi_open_exception(reason, text, category=values["error_class"])
        return f"failed ({reason}): exception opened"

    def _fi_open_exception(self, reason_code, detail, category="business"):
        """Open (or refresh) the finance exception item of this message."""
        self.ensure_one()
        exceptions = self.env["fi.exception"].sudo()
        existing = exceptions.search(
            [
                ("fi_message_id", "=", self.id),
                ("state", "in", ("new", "in_progress")),
                ("fi_standalone", "=", False),
            ],
            limit=1,
        )
        if existing:
            existing._fi_refresh(reason_code, detail, category)
            return existing
        return exceptions._fi_open(self, reason_code, detail, category)

    # ------------------------------------------------------------------
    # operator actions: retry and replay
    # ------------------------------------------------------------------
    def _fi_check_operator(self):
        if not self.env.user.has_group("finance_integration_core.group_fi_operator"):
            raise AccessError(
                _("Only Finance Integration Operators may retry or replay messages.")
            )

    def action_retry(self):
        """Try a waiting, failed or dead message again now, attempts reset."""
        self._fi_check_operator()
        todo = self.filtered(lambda m: m.state in ("retry", "failed", "dead", "queued"))
        if not todo:
            raise UserError(_("Only waiting, failed or dead messages can be retried."))
        todo._fi_requeue()
        return True

    def action_replay(self):
        """Process messages again, even done ones. Bindings and idempotency keys
        make a replay post nothing twice."""
        self._fi_check_operator()
        todo = self.filtered(lambda m: m.state not in ("new",) and m.flow_id)
        if not todo:
            raise UserError(_("None of these messages has a flow to replay it with."))
        todo._fi_requeue()
        return True

    def _fi_requeue(self):
        self.sudo().write(
            {
                "attempts": 0,
                "conflict_count": 0,
                "next_retry_at": False,
                "state": "queued",
            }
        )
        self.sudo()._fi_enqueue_processing()

    def action_open_related(self):
        self.ensure_one()
        if not self.res_model or not self.res_id:
            raise UserError(
                _("Message %s is not linked to a record.", self.display_name)
            )
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
        }

    def action_open_job(self):
        self.ensure_one()
        job = (
            self.env["queue.job"].sudo().search([("uuid", "=", self.job_uuid)], limit=1)
        )
        if not job:
            raise UserError(
                _("The job of message %s no longer exists.", self.display_name)
            )
        return {
            "type": "ir.actions.act_window",
            "res_model": "queue.job",
            "res_id": job.id,
            "view_mode": "form",
        }

    # ------------------------------------------------------------------
    # watchdog: a message never stays silently stuck
    # ------------------------------------------------------------------
    @api.model
    def _cron_fi_watchdog(self, stale_minutes=30):
        """Dead-letter queued messages whose job failed or vanished."""
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT m.id FROM fi_message m
              LEFT JOIN queue_job j ON j.uuid = m.job_uuid
             WHERE m.state IN ('queued', 'retry')
               AND m.write_date < (now() at time zone 'UTC') - %s * interval '1 minute'
               AND (j.id IS NULL OR j.state IN ('failed', 'cancelled', 'done'))
            """,
            (stale_minutes,),
        )
        for message in self.browse([row[0] for row in self.env.cr.fetchall()]):
            message.write(
                {
                    "state": "dead",
                    "error_class": "technical",
                    "error_code": "job_lost",
                    "error_message": _("Its processing job failed or vanished."),
                }
            )
            message._fi_open_exception(
                "job_lost",
                _("The processing job of this message failed or vanished."),
                category="technical",
            )
