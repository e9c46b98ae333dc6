# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json
import logging
import time
import uuid

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.finance_integration_core.lib.errors import (
    FiBusinessError,
    FiIgnored,
    FiTransientError,
)

from ..lib import catchup, const, signature
from ..lib.api import StripeApi, build_request

_logger = logging.getLogger(__name__)

#: endpoint fields whose change on a production endpoint needs four eyes
GOVERNED_FIELDS = (
    "stripe_api_version",
    "stripe_journal_id",
    "stripe_clearing_account_id",
    "stripe_settlement_journal_id",
    "stripe_fee_account_id",
    "stripe_dispute_account_id",
    "stripe_transit_account_id",
    "stripe_fx_account_id",
    "stripe_dispute_loss_account_id",
    "stripe_writeoff_account_id",
    "stripe_opening_account_id",
    "stripe_credit_adjustment_account_id",
    "stripe_currency_settings",
)


class FiEndpoint(models.Model):
    _inherit = "fi.endpoint"

    provider = fields.Selection(
        selection_add=[("stripe", "Stripe")], ondelete={"stripe": "set default"}
    )
    stripe_api_version = fields.Char(
        "Stripe API Version",
        default=const.API_VERSION,
        tracking=True,
        help="Pinned Stripe-Version sent with every request; events rendered "
        "in another version are re-fetched in this one.",
    )
    stripe_journal_id = fields.Many2one(
        "account.journal",
        "Stripe Clearing Journal",
        domain="[('type', 'in', ('bank', 'cash')), ('company_id', '=', company_id)]",
        help="Journal of the payments and refunds received through Stripe.",
    )
    stripe_clearing_account_id = fields.Many2one(
        "account.account",
        "Stripe Clearing Account",
        help="Outstanding account of the Stripe payments: what Stripe holds for "
        "the company until a payout (compared with /v1/balance).",
    )
    stripe_settlement_journal_id = fields.Many2one(
        "account.journal",
        "Settlement Journal",
        domain="[('type', '=', 'general'), ('company_id', '=', company_id)]",
        help="Journal of the payout settlement entries.",
    )
    stripe_fee_account_id = fields.Many2one("account.account", "Stripe Fee Account")
    stripe_dispute_account_id = fields.Many2one("account.account", "Dispute Account")
    stripe_transit_account_id = fields.Many2one(
        "account.account",
        "Payout Transit Account",
        help="Receives the net of each payout until the bank statement line "
        "of the payout is matched.",
    )
    stripe_fx_account_id = fields.Many2one("account.account", "FX Difference Account")
    stripe_account_ref = fields.Char(
        "Stripe Account", readonly=True, copy=False, help="Set by Test Connection."
    )
    stripe_last_event_created = fields.Integer(
        "Last Caught-up Event Time",
        readonly=True,
        copy=False,
        help="Unix time of the newest Stripe event the catch-up has seen.",
    )

    # ------------------------------------------------------------------
    # intake hooks (hot path: settings come from the cached config)
    # ------------------------------------------------------------------
    def _fi_provider_config(self):
        if self.provider != "stripe":
            return super()._fi_provider_config()
        return {
            "stripe_tolerance": self.timestamp_tolerance or signature.DEFAULT_TOLERANCE
        }

    def _fi_verify_signature(self, config, body, headers):
        if self.provider != "stripe":
            return super()._fi_verify_signature(config, body, headers)
        signature.verify(
            body,
            headers.get(signature.HEADER),
            config["secrets"],
            tolerance=config.get("stripe_tolerance") or signature.DEFAULT_TOLERANCE,
        )

    def _fi_signature_headers(self, config):
        if self.provider != "stripe":
            return super()._fi_signature_headers(config)
        return (signature.HEADER,)

    def _fi_parse_event(self, config, document):
        if self.provider != "stripe":
            return super()._fi_parse_event(config, document)
        if not isinstance(document, dict) or document.get("object") != "event":
            return None, None
        return document.get("id") or None, document.get("type") or None

    def _fi_governed_fields(self):
        if self.provider != "stripe":
            return super()._fi_governed_fields()
        return super()._fi_governed_fields() + GOVERNED_FIELDS

    def _fi_build_request(self, message, document):
        """Outbound: Stripe takes form bodies, Bearer auth, the pinned
        Stripe-Version and the message's Idempotency-Key."""
        if self.provider != "stripe":
            return super()._fi_build_request(message, document)
        flow = message.flow_id
        method, url, body, headers = build_request(
            flow.http_method or "POST",
            self.base_url or const.DEFAULT_BASE_URL,
            flow.path,
            self._fi_secret("credential"),
            document,
            api_version=self.stripe_api_version,
            idempotency_key=message.idempotency_key,
        )
        headers["X-Correlation-ID"] = message.correlation_id
        return {"method": method, "url": url, "body": body or b"", "headers": headers}

    # ------------------------------------------------------------------
    # the Stripe API
    # ------------------------------------------------------------------
    def _fi_stripe_api(self):
        self.ensure_one()
        return StripeApi(
            self._fi_request,
            self.base_url or const.DEFAULT_BASE_URL,
            self._fi_secret("credential"),
            self.stripe_api_version or const.API_VERSION,
        )

    def _fi_stripe_mode(self, key):
        if not key:
            raise UserError(_("Endpoint %s has no Stripe API key.", self.name))
        prefix = key.split("_", 2)
        if len(prefix) < 3 or prefix[0] not in ("sk", "rk"):
            raise UserError(
                _(
                    "Endpoint %s: the API key must be a secret (sk_) or "
                    "restricted (rk_) key.",
                    self.name,
                )
            )
        mode = prefix[1]
        if mode == "live" and self.environment != "production":
            raise UserError(
                _(
                    "Endpoint %s is a sandbox: a live Stripe key is refused. Use a "
                    "test key (sk_test_/rk_test_).",
                    self.name,
                )
            )
        if mode != "live" and self.environment == "production":
            raise UserError(
                _(
                    "Endpoint %s is a production endpoint: a test Stripe key is "
                    "refused. Use a live key (sk_live_/rk_live_).",
                    self.name,
                )
            )
        return mode

    def _fi_test_connection(self):
        if self.provider != "stripe":
            return super()._fi_test_connection()
        self.ensure_one()
        mode = self._fi_stripe_mode(self._fi_secret("credential"))
        try:
            account = self._fi_stripe_api().get("/v1/account")
        except (FiBusinessError, FiTransientError) as err:
            raise UserError(_("Stripe refused the connection test: %s", err)) from None
        self.stripe_account_ref = account.get("id")
        return _(
            "Connected to Stripe account %(account)s in %(mode)s mode "
            "(API version %(version)s).",
            account=account.get("id"),
            mode=mode,
            version=self.stripe_api_version,
        )

    def action_fi_stripe_test_connection(self):
        message = self._fi_test_connection()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"title": _("Stripe"), "message": message, "type": "success"},
        }

    def _fi_stripe_fetch(self, object_type, object_id):
        """The current object, in the pinned API version (Stripe does not
        order events: handlers act on what the object is now)."""
        if not object_id:
            raise FiBusinessError(
                _("A Stripe %s reference is missing.", object_type), "stripe_field"
            )
        path = const.OBJECT_PATHS[object_type].format(id=object_id)
        return self._fi_stripe_api().get(path)

    # ------------------------------------------------------------------
    # processing
    # ------------------------------------------------------------------
    def _fi_handle_inbound(self, message, document):
        if self.provider != "stripe":
            return super()._fi_handle_inbound(message, document)
        suffix, obj = self._fi_stripe_event_object(message, document)
        handler = getattr(self, f"_fi_stripe_on_{suffix}")
        return handler(message, document, obj)

    def _fi_stripe_event_object(self, message, document):
        """``(handler suffix, data.object)`` of an event this endpoint handles;
        raises ``FiIgnored`` (not handled, other mode) or ``FiBusinessError``
        (no object)."""
        event_type = document.get("type")
        suffix = const.HANDLED_EVENTS.get(event_type)
        if not suffix:
            raise FiIgnored(
                _("Stripe event type %s is not handled by this connector.", event_type)
            )
        livemode = bool(document.get("livemode"))
        if livemode != (self.environment == "production"):
            raise FiIgnored(
                _(
                    "A %(mode)s event on a %(env)s endpoint is not this endpoint's "
                    "business.",
                    mode="live" if livemode else "test",
                    env=self.environment,
                )
            )
        obj = (document.get("data") or {}).get("object")
        if not isinstance(obj, dict) or not obj.get("id"):
            raise FiBusinessError(
                _("Stripe event %s carries no data.object with an id.", message.id),
                "stripe_field",
            )
        return suffix, obj

    def _fi_stripe_required(self, obj, *names):
        """Fail into an exception when the object lacks a field a handler
        needs (never read a missing field as 0 or empty)."""
        missing = [name for name in names if name not in obj]
        if missing:
            raise FiBusinessError(
                _(
                    "Stripe %(type)s %(id)s (API version %(version)s) lacks "
                    "%(fields)s: check the pinned API version.",
                    type=obj.get("object"),
                    id=obj.get("id"),
                    version=self.stripe_api_version,
                    fields=", ".join(missing),
                ),
                "stripe_field_missing",
            )

    def _fi_stripe_currency(self, code):
        currency = (
            self.env["res.currency"]
            .with_context(active_test=False)
            .search([("name", "=", (code or "").upper())], limit=1)
        )
        if not currency or not currency.active:
            raise FiBusinessError(
                _(
                    "Currency %s is not active in Odoo: activate it, then replay.",
                    (code or "").upper(),
                ),
                "currency",
            )
        return currency

    def _fi_stripe_check_accounts(self, *names):
        missing = [self._fields[n].string for n in names if not self[n]]
        if missing:
            raise FiBusinessError(
                _(
                    "Endpoint %(name)s lacks its %(fields)s: configure it, then "
                    "replay.",
                    name=self.name,
                    fields=", ".join(missing),
                ),
                "configuration",
            )

    def _fi_stripe_audit(self, event_type, summary, record, message, facts):
        self.env["fi.audit"]._fi_event(
            event_type,
            summary,
            record=record,
            message=message,
            endpoint=self,
            flow=message.flow_id if message else None,
            correlation_id=message.correlation_id if message else None,
            facts=facts,
        )

    # ------------------------------------------------------------------
    # flows: install the defaults of one endpoint
    # ------------------------------------------------------------------
    def action_fi_stripe_install_flows(self):
        """One inbound flow per handled event type, and the balance-category
        value map as a draft version for two managers to approve."""
        for endpoint in self:
            if endpoint.provider != "stripe":
                raise UserError(
                    _("Endpoint %s is not a Stripe endpoint.", endpoint.name)
                )
            existing = set(endpoint.flow_ids.mapped("event_type"))
            for event_type in const.HANDLED_EVENTS:
                if event_type in existing:
                    continue
                self.env["fi.flow"].create(
                    {
                        "name": f"Stripe {event_type}",
                        "endpoint_id": endpoint.id,
                        "direction": "in",
                        "event_type": event_type,
                        "action": "stripe",
                        "system_of_record": "external",
                        "owner_id": endpoint.responsible_id.id,
                        "process_batch_size": const.BATCH_SIZES.get(event_type, 1),
                    }
                )
            endpoint._fi_stripe_refund_flow()
            endpoint._fi_stripe_default_value_map()
        return True

    def _fi_stripe_default_value_map(self):
        """The endpoint's reporting-category -> account map, first version
        drafted from the endpoint's accounts (submitted for approval)."""
        self.ensure_one()
        maps = self.env["fi.value.map"]
        vmap = maps.search(
            [("code", "=", const.BALANCE_CATEGORY_MAP), ("endpoint_id", "=", self.id)],
            limit=1,
        )
        if vmap:
            return vmap
        vmap = maps.create(
            {
                "name": f"{self.name}: balance categories -> accounts",
                "code": const.BALANCE_CATEGORY_MAP,
                "endpoint_id": self.id,
                "company_id": self.company_id.id,
                "value_type": "record",
                "target_model_id": self.env.ref("account.model_account_account").id,
            }
        )
        defaults = {
            "charge": self.stripe_clearing_account_id,
            "refund": self.stripe_clearing_account_id,
            "refund_failure": self.stripe_clearing_account_id,
            "dispute": self.stripe_dispute_account_id,
            "dispute_reversal": self.stripe_dispute_account_id,
            "fee": self.stripe_fee_account_id,
        }
        lines = [
            (0, 0, {"external_code": code, "value_ref": f"account.account,{acc.id}"})
            for code, acc in defaults.items()
            if acc
        ]
        if lines:
            version = self.env["fi.value.map.version"].create(
                {
                    "map_id": vmap.id,
                    "change_note": _("Stripe defaults"),
                    "line_ids": lines,
                }
            )
            version.action_submit()
        return vmap

    # ------------------------------------------------------------------
    # catch-up: /v1/events since the last one seen, through the same intake
    # ------------------------------------------------------------------
    def _fi_stripe_catch_up(self):
        """Feed the events Stripe has but this endpoint may have missed
        (outage, paused endpoint, restored database) through intake: stored
        once (the event id is the idempotency key), processed as usual. When
        the last event seen is older than ``/v1/events`` reaches back (30
        days), the objects created since are listed instead
        (``_fi_stripe_backfill``). Returns ``(seen, stored)``."""
        self.ensure_one()
        config = self._fi_stripe_intake_config()
        if catchup.needs_object_listing(self.stripe_last_event_created, time.time()):
            report = self._fi_stripe_backfill(self.stripe_last_event_created - 1)
            return report["seen"], report["stored"]
        params = {}
        if self.stripe_last_event_created:
            # one second back: events of the same second are deduplicated
            params["created"] = {"gte": self.stripe_last_event_created - 1}
        seen = stored = 0
        newest = self.stripe_last_event_created or 0
        api = self._fi_stripe_api()
        for event in api.iterate("/v1/events", params):
            seen += 1
            newest = max(newest, int(event.get("created") or 0))
            stored += self._fi_stripe_feed(config, event)
        self.sudo().stripe_last_event_created = newest
        return seen, stored

    def _fi_stripe_intake_config(self):
        if self.provider != "stripe":
            raise UserError(_("Endpoint %s is not a Stripe endpoint.", self.name))
        self.env.flush_all()
        config = self.env["fi.endpoint"]._fi_endpoint_config(self.key)
        if config is None:
            raise UserError(
                _("Endpoint %s must be active or paused to catch up.", self.name)
            )
        return config

    def _fi_stripe_feed(self, config, event):
        """One event through intake, as a delivery would; 1 when stored, 0
        when it was a duplicate."""
        body = json.dumps(event, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Correlation-ID": f"catchup-{event.get('id')}",
        }
        _status, answer = self.sudo()._fi_store_inbound(
            config, body, headers, "stripe-catch-up"
        )
        return 0 if answer.get("status") == "duplicate" else 1

    def _fi_stripe_backfill(self, since, dry_run=False, max_listed=50, opening=False):
        """The objects Stripe created since ``since`` (unix time): customers,
        invoices, charges, refunds, disputes, payouts (``created[gte]``, paged),
        each fed through intake as the event a webhook would have delivered
        (``lib/catchup.py``): for an outage longer than ``/v1/events`` keeps,
        and for the first run of an endpoint (cut-over date).

        ``opening`` (a first run): the opening balance of the clearing
        account, Stripe's balance at ``since`` per currency, is listed and
        (not a dry run) booked once per currency (``_fi_stripe_book_opening``).

        ``dry_run``: nothing is stored; the report says what would be
        created. Returns ``{"seen", "stored", "known", "would_create": {kind:
        count}, "examples": {kind: [ids]}, "opening": [{currency, amount,
        move, ...}], "registered": {payout id: state}}`` (``max_listed`` ids
        per kind; ``registered``: the payouts missing from the payout register,
        added, or for a dry run that would be, ``_fi_stripe_register_payout``)."""
        self.ensure_one()
        config = self._fi_stripe_intake_config()
        started = int(time.time())
        correlation_id = f"stripe-backfill-{uuid.uuid4().hex}"
        opening_rows = []
        if opening:
            if not since:
                raise UserError(
                    _("The opening balance of %s needs a cut-over date.", self.name)
                )
            opening_rows = self._fi_stripe_opening_balance(since)
            if not dry_run:
                self._fi_stripe_book_opening(since, opening_rows, correlation_id)
        binding = self.env["fi.binding"]
        messages = self.env["fi.message"].sudo()
        api = self._fi_stripe_api()
        report = {
            "seen": 0,
            "stored": 0,
            "known": 0,
            "would_create": {},
            "examples": {},
            "opening": opening_rows,
            "registered": {},
        }
        version = self.stripe_api_version or const.API_VERSION
        for path, kind in catchup.OBJECT_SOURCES:
            params = {"created": {"gte": int(since)}} if since else {}
            for obj in api.iterate(path, params):
                settled = None
                if kind == "payout":
                    # before its event: a settlement entry found is bound first
                    settled = self._fi_stripe_register_payout(obj, report, dry_run)
                event = catchup.synthetic_event(obj, version)
                if event is None:
                    continue
                report["seen"] += 1
                if not dry_run:
                    report["stored"] += self._fi_stripe_feed(config, event)
                    continue
                bound_id = event["data"]["object"]["id"]
                done = settled or binding.to_odoo(self, catchup.CREATES[kind], bound_id)
                stored = messages.search_count(
                    [("endpoint_id", "=", self.id), ("external_id", "=", event["id"])],
                    limit=1,
                )
                if done or stored:
                    report["known"] += 1
                    continue
                label = catchup.CREATES[kind]
                report["would_create"][label] = report["would_create"].get(label, 0) + 1
                examples = report["examples"].setdefault(label, [])
                if len(examples) < max_listed:
                    examples.append(bound_id)
        if not dry_run:
            self.sudo().stripe_last_event_created = max(
                self.stripe_last_event_created or 0, started
            )
        self.env["fi.audit"]._fi_event(
            "stripe.backfill_dry_run" if dry_run else "stripe.backfill",
            _("Stripe objects since %s listed", since),
            record=self,
            endpoint=self,
            correlation_id=correlation_id,
            facts={
                "since": int(since or 0),
                "seen": report["seen"],
                "stored": report["stored"],
                "known": report["known"],
                "would_create": report["would_create"],
                "registered": report["registered"],
                "opening": {
                    row["currency"]: str(row["amount"]) for row in opening_rows
                },
            },
        )
        return report

    def action_fi_stripe_catch_up(self):
        seen, stored = self._fi_stripe_catch_up()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Stripe catch-up"),
                "message": _(
                    "%(seen)s events listed by Stripe, %(new)s were new.",
                    seen=seen,
                    new=stored,
                ),
                "type": "success",
            },
        }

    @api.model
    def _cron_fi_stripe_catch_up(self):
        for endpoint in self.search(
            [("provider", "=", "stripe"), ("state", "=", "active")]
        ):
            try:
                with self.env.cr.savepoint():
                    endpoint._fi_stripe_catch_up()
            except (FiBusinessError, FiTransientError, UserError) as err:
                _logger.warning("Stripe catch-up of %s failed: %s", endpoint.name, err)


class FiEndpointChange(models.Model):
    _inherit = "fi.endpoint.change"

    stripe_api_version = fields.Char("Stripe API Version")
    stripe_journal_id = fields.Many2one("account.journal", "Stripe Clearing Journal")
    stripe_clearing_account_id = fields.Many2one(
        "account.account", "Stripe Clearing Account"
    )
    stripe_settlement_journal_id = fields.Many2one(
        "account.journal", "Settlement Journal"
    )
    stripe_fee_account_id = fields.Many2one("account.account", "Stripe Fee Account")
    stripe_dispute_account_id = fields.Many2one("account.account", "Dispute Account")
    stripe_transit_account_id = fields.Many2one(
        "account.account", "Payout Transit Account"
    )
    stripe_fx_account_id = fields.Many2one("account.account", "FX Difference Account")
    stripe_dispute_loss_account_id = fields.Many2one(
        "account.account", "Dispute Loss Account"
    )
    stripe_writeoff_account_id = fields.Many2one(
        "account.account", "Bad-debt Write-off Account"
    )
    stripe_opening_account_id = fields.Many2one(
        "account.account", "Opening Balance Account"
    )
    stripe_credit_adjustment_account_id = fields.Many2one(
        "account.account", "Credit Note Adjustments Account"
    )
