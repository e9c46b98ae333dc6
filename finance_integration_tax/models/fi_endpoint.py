# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import logging
import uuid
from datetime import timedelta

import psycopg2

from odoo import SUPERUSER_ID, _, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.finance_integration_core.lib.errors import (
    FiBusinessError,
    FiIgnored,
    FiTransientError,
)
from odoo.addons.finance_integration_core.models.provider_generic_hmac import (
    hmac_intake_config,
    verify_hmac_delivery,
)

from ..lib import clearance as clr
from ..lib import engine as eng
from ..lib.engine import EngineError, engine_for

#: the flows the connector creates on its endpoints: event type -> values
TAX_FLOWS = {
    "avatax": {
        "tax.calculate": {"name": "Tax calculation (held or provisional)"},
        "tax.commit": {"name": "Commit tax transaction"},
        "tax.void": {"name": "Void tax transaction"},
        "tax.reconcile": {"name": "Tax reconciliation", "sync_tier": "batch"},
    },
    "clearance": {
        "einvoice.submit": {"name": "Submit e-invoice", "path": "documents"},
        "einvoice.poll": {"name": "Poll e-invoice statuses", "sync_tier": "batch"},
        "document.status": {"name": "E-invoice status webhook", "direction": "in"},
    },
}


_logger = logging.getLogger(__name__)

#: core's circuit breaker fields (fi_flow_control.py) and ours
CIRCUIT_FIELDS = [
    "circuit_state",
    "circuit_failures",
    "circuit_opened_at",
    "circuit_probe_message_id",
    "fi_unavailable_since",
]

#: key in ``cr.postcommit.data`` (cleared at commit and rollback) of the
#: {endpoint id: since} of the circuits this transaction's own calls opened:
#: its snapshot (repeatable read) does not see the committed count, and the
#: next invoices of the same batch must not wait for the timeout again
OPENED_HERE = "finance_integration_tax.circuit_opened"

#: clearance webhooks are signed as core's generic provider: its settings
SIGNATURE_FIELDS = (
    "signature_header",
    "signature_encoding",
    "timestamp_header",
    "timestamp_tolerance",
)


def engine_error_to_fi(err):
    """A classified core error of an engine failure."""
    if err.outcome == eng.TRANSIENT:
        return FiTransientError(str(err), "engine_unavailable")
    if err.outcome == eng.AUTH:
        return FiBusinessError(str(err), "configuration")
    return FiBusinessError(str(err), err.code or err.outcome)


class FiEndpoint(models.Model):
    _inherit = "fi.endpoint"

    provider = fields.Selection(
        selection_add=[
            ("avatax", "Avalara AvaTax"),
            ("clearance", "E-invoicing clearance platform"),
        ],
        ondelete={"avatax": "set default", "clearance": "set default"},
    )
    fi_avatax_account_id = fields.Char(
        "AvaTax Account Id",
        tracking=True,
        help="The account id of Basic authentication; the license key is the "
        "endpoint's credential (write-only, encrypted).",
    )
    fi_avatax_company_code = fields.Char("AvaTax Company Code", tracking=True)
    fi_unavailable_since = fields.Datetime(
        "Unavailable Since",
        readonly=True,
        copy=False,
        help="Set when the circuit breaker opened after consecutive transport "
        "failures or timeouts (the first opening: failed probes keep it); "
        "cleared when the engine answers again.",
    )

    # ------------------------------------------------------------------
    # core hooks
    # ------------------------------------------------------------------
    def _fi_governed_fields(self):
        fields_ = super()._fi_governed_fields()
        if self.provider == "avatax":
            return fields_ + ("fi_avatax_account_id", "fi_avatax_company_code")
        if self.provider == "clearance":
            return fields_ + SIGNATURE_FIELDS
        return fields_

    def _fi_test_connection(self):
        if self.provider == "avatax":
            engine = self._fi_tax_engine()
            try:
                return self._fi_engine_call(engine.ping(), engine.parse_ping)
            except (EngineError, FiTransientError) as err:
                raise UserError(
                    _(
                        "AvaTax connection failed on %(name)s: %(error)s",
                        name=self.name,
                        error=err,
                    )
                ) from None
        if self.provider == "clearance":
            try:
                result = self._fi_clearance_call("GET", "health")
            except (clr.ClearanceError, FiTransientError) as err:
                raise UserError(
                    _(
                        "Clearance platform %(name)s: %(error)s",
                        name=self.name,
                        error=err,
                    )
                ) from None
            return _("Clearance platform answered: %s", result.get("status", "ok"))
        return super()._fi_test_connection()

    # -- intake of clearance status webhooks: HMAC-SHA256 as core's generic
    # provider, with the same settings fields; event id /id, type /type
    def _fi_provider_config(self):
        if self.provider != "clearance":
            return super()._fi_provider_config()
        return hmac_intake_config(self)

    def _fi_verify_signature(self, config, body, headers):
        if self.provider != "clearance":
            return super()._fi_verify_signature(config, body, headers)
        verify_hmac_delivery(config, body, headers)

    def _fi_signature_headers(self, config):
        if self.provider != "clearance":
            return super()._fi_signature_headers(config)
        return (config["signature_header"],)

    def _fi_parse_event(self, config, document):
        if self.provider != "clearance":
            return super()._fi_parse_event(config, document)
        if not isinstance(document, dict):
            return None, None
        event_id, event_type = document.get("id"), document.get("type")
        return (
            str(event_id) if event_id not in (None, "") else None,
            str(event_type) if event_type not in (None, "") else None,
        )

    def _fi_handle_inbound(self, message, document):
        if self.provider != "clearance":
            return super()._fi_handle_inbound(message, document)
        if message.event_type != "document.status":
            raise FiIgnored(f"event type {message.event_type} is not a status")
        try:
            update = clr.parse_status(document, event_id=message.external_id or "x")
        except ValueError as err:
            raise FiBusinessError(str(err), "malformed_payload") from None
        doc = (
            self.env["fi.einvoice.document"]
            .sudo()
            .search(
                [
                    ("platform_id", "=", update.document_id),
                    ("endpoint_id", "=", self.id),
                ],
                limit=1,
            )
        )
        if not doc:
            raise FiTransientError(
                f"document {update.document_id} is not known yet", "not_there_yet"
            )
        doc._fi_apply_status(update, "webhook", message=message)
        return doc.move_id

    def _fi_batch_units(self, flow):
        if self.provider == "clearance" and flow.event_type == "einvoice.poll":
            docs = (
                self.env["fi.einvoice.document"]
                .sudo()
                .search(
                    [
                        ("endpoint_id", "=", self.id),
                        ("state", "in", ("submitted", "received")),
                        ("platform_id", "!=", False),
                    ]
                )
            )
            return [{"key": f"doc:{d.id}:{d.state}", "document_id": d.id} for d in docs]
        if self.provider == "avatax" and flow.event_type == "tax.reconcile":
            today = fields.Date.context_today(self)
            first = today.replace(day=1)
            return [
                {
                    "key": f"period:{first}",
                    "date_from": str(first),
                    "date_to": str(today),
                }
            ]
        return super()._fi_batch_units(flow)

    def _fi_handle_batch_unit(self, flow, unit):
        if self.provider == "clearance" and flow.event_type == "einvoice.poll":
            doc = self.env["fi.einvoice.document"].sudo().browse(unit["document_id"])
            return doc._fi_poll_status()
        if self.provider == "avatax" and flow.event_type == "tax.reconcile":
            return self.env["account.move"]._fi_tax_reconcile(
                self,
                fields.Date.to_date(unit["date_from"]),
                fields.Date.to_date(unit["date_to"]),
            )
        return super()._fi_handle_batch_unit(flow, unit)

    # ------------------------------------------------------------------
    # outbound work of this connector (see fi.message._fi_send_now)
    # ------------------------------------------------------------------
    def _fi_tax_process(self, message, document):
        """Job body of an outbound message of this connector; returns the
        record concerned."""
        self.ensure_one()
        # the circuit of this call is core's, counted by the message outcome
        env = self.with_context(fi_tax_in_job=message.id).env
        kind = message.flow_id.event_type
        if kind == "einvoice.submit":
            doc = env["fi.einvoice.document"].browse(document["document_id"])
            return doc.exists()._fi_submit_now(message)
        move = env["account.move"].browse(document.get("move_id")).exists()
        if not move:
            raise FiBusinessError(
                f"invoice {document.get('move_id')} no longer exists", "business_rule"
            )
        if kind == "tax.commit":
            return move._fi_tax_commit_now(message, document)
        if kind == "tax.void":
            return move._fi_tax_void_now(message, document)
        if kind == "tax.calculate":
            return move._fi_tax_retry(message, document)
        raise FiBusinessError(f"unknown tax flow {kind}", "configuration")

    # ------------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------------
    def _fi_tax_engine(self):
        self.ensure_one()
        try:
            return engine_for(
                self.provider,
                account_id=self.fi_avatax_account_id,
                license_key=self._fi_secret("credential"),
                company_code=self.fi_avatax_company_code,
                environment=self.environment,
                url=self.base_url or None,
            )
        except ValueError as err:
            raise UserError(
                _(
                    "Tax engine %(name)s is not configured: %(error)s",
                    name=self.name,
                    error=err,
                )
            ) from None

    def _fi_engine_call(self, request, parse):
        """Send one engine request through the endpoint's one HTTP method and
        parse the answer (raises EngineError or FiTransientError)."""
        self.ensure_one()
        result = self._fi_request(
            request.method, request.url, request.body, request.headers
        )
        return parse(result.status, result.body)

    # ------------------------------------------------------------------
    # circuit breaker of the engine (core's fields, fi_flow_control.py)
    #
    # Jobs (held and provisional invoices, commit, void) count through core:
    # an outbound message failing technically counts, its success closes, and
    # while the circuit is open they wait in the outbox. Synchronous calls at
    # invoice validation count here, each in a transaction of its own so that
    # the count survives a refused validation; once the circuit is open they
    # do not call the engine at all and the company's engine-down policy
    # applies at once. A half-open probe (a ping) closes it; the dispatcher
    # then sends the held messages.
    # ------------------------------------------------------------------
    def _fi_tax_in_job(self):
        return bool(self.env.context.get("fi_tax_in_job"))

    def _fi_tax_unavailable_since(self):
        """Synchronous path: since when the engine is known to be unavailable
        (its circuit open or probing), or None when it may be called."""
        self.ensure_one()
        if self._fi_tax_in_job():
            return None  # core holds a message while the circuit is open
        opened = self.env.cr.postcommit.data.get(OPENED_HERE, {}).get(self.id)
        if opened:
            return opened
        if self.circuit_state != "closed":
            return (
                self.fi_unavailable_since
                or self.circuit_opened_at
                or fields.Datetime.now()
            )
        return None

    def _fi_tax_circuit_error(self, since):
        return FiTransientError(
            _(
                "%(name)s has been unavailable since %(since)s UTC (circuit open "
                "after %(n)s consecutive failures or timeouts): not called",
                name=self.name,
                since=fields.Datetime.to_string(since),
                n=max(self.circuit_threshold, 1),
            ),
            "circuit_open",
        )

    def _fi_tax_own_transaction(self, work):
        """Run ``work(endpoint)`` on this endpoint in a transaction of its own,
        committed at once; returns its result. Counting never breaks the
        validation that counts: a concurrent counter (serialization failure)
        makes it try again in a new transaction, a row locked beyond 2 s or
        any other error loses this one count (logged), nothing else."""
        self.ensure_one()
        registry = self.env.registry
        self.env.flush_all()  # (in test mode that cursor shares this transaction)
        try:
            for attempt in range(1, 4):
                try:
                    with registry.cursor() as cr:
                        if not registry.in_test_mode():
                            cr.execute("SET LOCAL lock_timeout = '2s'")
                        env = api.Environment(cr, SUPERUSER_ID, {})
                        return work(env["fi.endpoint"].browse(self.id).exists())
                except psycopg2.errors.SerializationFailure:
                    if attempt == 3:
                        raise
        except Exception:  # noqa: BLE001 - an auxiliary count, logged
            _logger.exception("endpoint %s: circuit count lost", self.id)
            return None
        finally:
            self.invalidate_recordset(CIRCUIT_FIELDS)

    def _fi_tax_count_failure(self, err):
        """Synchronous path: one more consecutive transport failure or
        timeout; opens the circuit at the endpoint's threshold. Returns since
        when the circuit is open, or None."""
        self.ensure_one()
        if self._fi_tax_in_job():
            return None

        def count(endpoint):
            if not endpoint:
                return None
            endpoint.env.cr.execute(
                "SELECT circuit_state, circuit_failures FROM fi_endpoint "
                "WHERE id = %s FOR UPDATE",
                (endpoint.id,),
            )
            state, failures = endpoint.env.cr.fetchone()
            failures = (failures or 0) + 1
            values = {"circuit_failures": failures}
            if state == "closed" and failures >= max(endpoint.circuit_threshold, 1):
                values.update(
                    circuit_state="open",
                    circuit_opened_at=fields.Datetime.now(),
                    circuit_probe_message_id=False,
                )
            endpoint.invalidate_recordset(CIRCUIT_FIELDS)
            endpoint.write(values)
            if state == "closed" and endpoint.circuit_state == "open":
                endpoint._fi_tax_exception(
                    "tax.calculate",
                    endpoint,
                    "circuit_open",
                    endpoint.env._(
                        "Tax engine %(name)s is unavailable after %(n)s consecutive "
                        "failures or timeouts (last: %(error)s). Invoices follow "
                        "the company's engine-down policy without calling it; it "
                        "is probed every %(minutes)s minutes.",
                        name=endpoint.name,
                        n=failures,
                        error=str(err)[:300],
                        minutes=endpoint.circuit_cooldown_minutes,
                    ),
                    category="technical",
                )
                _logger.warning(
                    "endpoint %s: circuit opened after %s failures at validation",
                    endpoint.id,
                    failures,
                )
            if endpoint.circuit_state == "closed":
                return None
            return endpoint.fi_unavailable_since or endpoint.circuit_opened_at

        since = self._fi_tax_own_transaction(count)
        if since:
            self.env.cr.postcommit.data.setdefault(OPENED_HERE, {})[self.id] = since
        return since

    def _fi_tax_count_success(self):
        """Synchronous path: the engine answered; resets the failure count
        (a query only when there were failures)."""
        self.ensure_one()
        if self._fi_tax_in_job() or (
            self.circuit_state == "closed" and not self.circuit_failures
        ):
            return
        self._fi_tax_own_transaction(
            lambda endpoint: endpoint and endpoint._fi_circuit_record_success()
        )

    def _fi_tax_sync_call(self, request, parse):
        """``_fi_engine_call`` on the synchronous path (invoice validation,
        address validation): refused at once while the circuit is open, its
        transport failures and timeouts counted, an answer resets the count."""
        self.ensure_one()
        since = self._fi_tax_unavailable_since()
        if since:
            raise self._fi_tax_circuit_error(since)
        try:
            result = self._fi_engine_call(request, parse)
        except FiTransientError as err:
            if err.reason_code in ("timeout", "connection"):
                self._fi_tax_count_failure(err)
            raise
        except EngineError as err:
            if err.transient:
                self._fi_tax_count_failure(err)
            else:
                self._fi_tax_count_success()  # it answered: it is up
            raise
        self._fi_tax_count_success()
        return result

    def _fi_circuit_try_probe(self):
        """The engine's half-open probe is a ping (no side effect, and no
        held message needed: under the block policy there is none)."""
        if self.provider != "avatax":
            return super()._fi_circuit_try_probe()
        self.env.flush_all()
        self.env.cr.execute(
            """
            UPDATE fi_endpoint
               SET circuit_state = 'half_open', circuit_probe_message_id = NULL
             WHERE id = %(id)s AND circuit_state = 'open'
               AND circuit_opened_at
                   + COALESCE(circuit_cooldown_minutes, 0) * interval '1 minute'
                   <= %(now)s
            RETURNING id
            """,
            {"id": self.id, "now": fields.Datetime.now()},
        )
        claimed = self.env.cr.fetchone()
        self.invalidate_recordset(CIRCUIT_FIELDS)
        if not claimed:
            return
        engine = self._fi_tax_engine()
        try:
            self._fi_engine_call(engine.ping(), engine.parse_ping)
        except (EngineError, FiTransientError) as err:
            if isinstance(err, FiTransientError) or err.transient:
                self.sudo().write(
                    {
                        "circuit_state": "open",
                        "circuit_opened_at": fields.Datetime.now(),
                    }
                )
                _logger.info("endpoint %s: probe failed (%s), still open", self.id, err)
                return
            # it answered (refusing the credentials is an answer): it is up
        _logger.info("endpoint %s: probe answered, circuit closed", self.id)
        self._fi_circuit_record_success()

    def _fi_tax_schedule_probe(self):
        """A job probing the engine once the cool-down of its circuit is over
        (the dispatcher runs the probe, then sends what waited)."""
        for endpoint in self.filtered(lambda e: e.circuit_state == "open"):
            eta = (endpoint.circuit_opened_at or fields.Datetime.now()) + timedelta(
                minutes=endpoint.circuit_cooldown_minutes or 0
            )
            endpoint.with_user(endpoint.integration_user_id).with_delay(
                channel="root.fi",
                eta=eta,
                identity_key=f"fi.tax.probe:{endpoint.id}",
                description=f"Probe tax engine of endpoint {endpoint.id}",
            )._fi_tax_probe()

    def _fi_tax_probe(self):
        """Job: probe after the cool-down (core's dispatcher calls
        ``_fi_circuit_try_probe``) and dispatch the held messages when the
        engine answers. A failed probe opens the circuit again, which plans
        the next probe (see ``write``)."""
        self.ensure_one()
        if self.circuit_state == "closed":
            return "circuit closed: nothing to probe"
        result = self._fi_dispatch()
        return f"circuit {self.circuit_state}: {result}"

    @api.model
    def _cron_fi_tax_probe(self):
        """Safety net: probe the open circuits of tax engines whatever became
        of their probe job."""
        for endpoint in self.sudo().search(
            [
                ("provider", "=", "avatax"),
                ("state", "=", "active"),
                ("circuit_state", "=", "open"),
            ]
        ):
            endpoint.with_user(endpoint.integration_user_id).with_company(
                endpoint.company_id
            )._fi_dispatch()

    def write(self, vals):
        state = vals.get("circuit_state")
        if state == "closed":
            vals = dict(vals, fi_unavailable_since=False)
            opened_here = self.env.cr.postcommit.data.get(OPENED_HERE, {})
            for endpoint_id in self.ids:
                opened_here.pop(endpoint_id, None)
        result = super().write(vals)
        if state == "open":
            tax = self.filtered(lambda e: e.provider in TAX_FLOWS)
            fresh = tax.filtered(lambda e: not e.fi_unavailable_since)
            if fresh:
                super(FiEndpoint, fresh).write(
                    {"fi_unavailable_since": fields.Datetime.now()}
                )
            tax.filtered(lambda e: e.provider == "avatax")._fi_tax_schedule_probe()
        return result

    def _fi_clearance_call(self, method, path, body=None, headers=None):
        self.ensure_one()
        if not self.base_url:
            raise clr.ClearanceError(
                clr.PRECONDITION, f"endpoint {self.name} has no base URL"
            )
        all_headers = {"Accept": "application/json"}
        if body is not None:
            all_headers["Content-Type"] = "application/json"
        all_headers.update(self._fi_outbound_headers(None))
        all_headers.update(headers or {})
        url = self.base_url.rstrip("/") + "/" + path.lstrip("/")
        result = self._fi_request(method, url, body, all_headers)
        return clr.classify(result.status, result.body, what=self.name)

    def _fi_tax_flow(self, event_type):
        """This endpoint's flow of ``event_type`` (created on first use)."""
        self.ensure_one()
        flow = self.flow_ids.filtered(lambda f: f.event_type == event_type)[:1]
        if flow:
            return flow
        values = dict(TAX_FLOWS.get(self.provider, {}).get(event_type) or {})
        values.setdefault("name", event_type)
        values.setdefault("direction", "out")
        return (
            self.env["fi.flow"]
            .sudo()
            .create(
                dict(
                    values,
                    endpoint_id=self.id,
                    event_type=event_type,
                    owner_id=self.responsible_id.id or False,
                )
            )
        )

    def _fi_tax_ensure_flows(self):
        for endpoint in self:
            for event_type in TAX_FLOWS.get(endpoint.provider, {}):
                endpoint._fi_tax_flow(event_type)

    def _fi_tax_exception(
        self,
        event_type,
        record,
        reason,
        detail,
        facts=None,
        correlation_id=None,
        category="business",
    ):
        """Open a finance exception about ``record`` on a message of its own
        (a failed record of what was attempted)."""
        self.ensure_one()
        flow = self._fi_tax_flow(event_type)
        message = self.with_context(fi_defer_sending=True)._fi_send(
            flow,
            dict(facts or {}, reason=reason, record=f"{record._name},{record.id}"),
            record=record,
            idempotency_key=f"{event_type}:{reason}:{record.id}:{uuid.uuid4().hex}",
            correlation_id=correlation_id,
        )
        message.sudo().write(
            {
                "state": "failed",
                "error_code": reason,
                "error_class": category,
                "error_message": detail[:2000],
            }
        )
        return message._fi_open_exception(reason, detail, category=category)

    @api.model_create_multi
    def create(self, vals_list):
        endpoints = super().create(vals_list)
        endpoints.filtered(
            lambda e: e.provider in TAX_FLOWS
        ).sudo()._fi_tax_ensure_flows()
        return endpoints


class FiEndpointChange(models.Model):
    _inherit = "fi.endpoint.change"

    fi_avatax_account_id = fields.Char("AvaTax Account Id")
    fi_avatax_company_code = fields.Char("AvaTax Company Code")
