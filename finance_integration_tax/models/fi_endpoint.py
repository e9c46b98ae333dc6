# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import uuid

from odoo import _, api, fields, models
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
        kind = message.flow_id.event_type
        if kind == "einvoice.submit":
            doc = self.env["fi.einvoice.document"].browse(document["document_id"])
            return doc.exists()._fi_submit_now(message)
        move = self.env["account.move"].browse(document.get("move_id")).exists()
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
        self, event_type, record, reason, detail, facts=None, correlation_id=None
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
                "error_class": "business",
                "error_message": detail[:2000],
            }
        )
        return message._fi_open_exception(reason, detail, category="business")

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
