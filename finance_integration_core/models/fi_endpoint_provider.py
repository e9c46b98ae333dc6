# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The provider surface: every hook a connector may override, in one place.

A connector adds its provider to ``fi.endpoint.provider`` with ``selection_add``
and overrides the hooks below, each guarded the same way, as Odoo's ``payment``
providers do::

    def _fi_verify_signature(self, config, body, headers):
        if self.provider != "stripe":
            return super()._fi_verify_signature(config, body, headers)
        ...

Every hook is called on ONE endpoint record (``self``). The defaults here are
what an endpoint whose provider adds nothing gets; core's own ``generic_hmac``
provider (``provider_generic_hmac.py``) is written against this surface like
any connector.

When each hook runs:

* intake -- in the webhook request, before the 2xx, as superuser. This is the
  hot path: read settings from ``config`` (the endpoint's cached intake
  configuration, see ``_fi_provider_config``) and make no query. Nothing of the
  payload is read before ``_fi_verify_signature`` accepted it.
* processing -- in the message's queue job, as the endpoint's integration
  user, inside a savepoint (a flow with a processing batch size above 1:
  several messages at once, ``_fi_handle_inbound_batch``). Never commit.
  Raise ``FiTransientError`` to retry with backoff, ``FiBusinessError`` to
  open a finance exception, ``FiIgnored`` to mark the message ignored with its
  reason.
* outbound -- in the outbound message's queue job, same rules.
* batch -- scheduled and micro-batch flows (``fi.flow.sync_tier``).
* configuration -- in the user's request (forms, buttons).

``readme/USAGE.md`` ("Writing a connector") has a worked example.
"""

import json
import re

from odoo import _, models
from odoo.exceptions import UserError

from ..lib.errors import SignatureError
from ..lib.redact import redacted_json

_JSON_TYPE = re.compile(r"^application/([a-z0-9.\-]+\+)?json$")

#: endpoint settings under change control for every provider (secrets are not:
#: they are write-only and rotated on the endpoint itself)
CORE_GOVERNED_FIELDS = (
    "base_url",
    "environment",
    "max_body_bytes",
    "timeout_connect",
    "timeout_read",
)


class FiEndpointProvider(models.Model):
    _inherit = "fi.endpoint"

    # ------------------------------------------------------------------
    # intake (webhook request, before the 2xx; no queries)
    # ------------------------------------------------------------------
    def _fi_provider_config(self):
        """Intake: the provider's settings, merged into the endpoint's cached
        intake ``config``.

        Called once per server process and endpoint when the configuration is
        built (and again after any change of an endpoint or flow), not per
        webhook: decrypt secrets here. Keys must not collide with core's:
        ``id``, ``provider``, ``company_id``, ``user_id``, ``max_body``,
        ``secrets`` (decrypted webhook secrets, the current one first),
        ``flows`` (event type -> flow id, ``"*"`` for any), ``unknown_exception``.

        :returns: a dict of plain, immutable-by-convention values
        """
        return {}

    def _fi_accepts_content_type(self, config, media_type):
        """Intake: whether a body of this media type (lower case, without
        parameters) is accepted; others are answered 415 before reading.

        Default: JSON (``application/json``, ``application/*+json``).
        """
        return bool(_JSON_TYPE.match(media_type))

    def _fi_verify_signature(self, config, body, headers):
        """Intake: raise ``SignatureError(reason, detail)`` unless ``body`` (the
        raw bytes) is authentic. Fail closed: no secret configured, no header,
        a stale timestamp are refusals (401, a ``fi.security.event``, nothing
        stored). ``reason`` is a value of ``fi.security.event.reason``; a
        provider adds its own reasons there with ``selection_add``.

        Default: refuse (``no_verifier``): an endpoint whose provider cannot
        verify accepts nothing.
        """
        raise SignatureError("no_verifier", f"provider {self.provider}")

    def _fi_signature_headers(self, config):
        """Intake: names of the request headers masked in the stored copy
        (signatures, tokens). ``Authorization`` and cookies are always masked.
        """
        return ()

    def _fi_parse_body(self, text, content_type):
        """Intake and processing: the document of a body (JSON-like Python
        values). Raise ``ValueError`` when it is malformed: the delivery is then
        stored as ``invalid`` and a technical exception opened.

        Called at intake on the verified body and again in the processing job
        on the stored one; ``content_type`` is the delivery's header (empty for
        outbound messages, whose payload core always stores as JSON).

        Default: JSON.
        """
        return json.loads(text)

    def _fi_redacted_copy(self, document):
        """Display: the copy of ``document`` shown in the message views, as a
        string with every secret masked. Called when a message is shown (never
        at intake: only the body is stored), on the document ``_fi_parse_body``
        returns for the stored payload. Default: indented JSON with the values
        of sensitive keys masked (``lib/redact.py``)."""
        return redacted_json(document)

    def _fi_parse_event(self, config, document):
        """Intake: ``(event_id, event_type)`` of an authentic document, each a
        string or None. The event id is the idempotency key (none: the body's
        SHA-256); the event type routes the message to its flow.

        Default: neither (every delivery is keyed by its hash, routed to the
        ``*`` flow).
        """
        return None, None

    # ------------------------------------------------------------------
    # processing (queue job, integration user, savepoint)
    # ------------------------------------------------------------------
    def _fi_handle_inbound(self, message, document):
        """Processing: turn an authentic, valid inbound message into Odoo
        records; returns the main record touched (or None).

        Rules: bind external ids through ``fi.binding`` (so a replay or a
        duplicate posts nothing twice), look codes up through
        ``fi.value.map.fi_lookup``, raise ``FiTransientError`` /
        ``FiBusinessError`` / ``FiIgnored``, never commit.

        Default: the flow's action (a server action receives the document in
        the context as ``fi_document``; ``store`` keeps the message only).
        """
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

    def _fi_handle_inbound_batch(self, messages, documents):
        """Processing, batched: handle several inbound messages of one flow
        together (a flow whose *Processing Batch Size* is above 1: the job of
        one of its messages claims up to that many queued ones).

        :param messages: the ``fi.message`` records, all of this endpoint and
            of one flow, each validated against the flow's schema
        :param documents: their documents, in the same order
        :returns: a list aligned with ``messages``: for each the main record
            touched (or None), or the exception it failed with
            (``FiTransientError``, ``FiBusinessError``, ``FiIgnored``...):
            core then marks each message done, ignored, retried or failed as
            if it had been processed alone.

        Same rules as ``_fi_handle_inbound``, plus: a message for which an
        exception is returned must have left nothing written (check first,
        write after, or use a savepoint per message). Raising instead fails
        the batch as a whole: everything it wrote is rolled back and each
        message is processed alone by ``_fi_handle_inbound`` in its own
        savepoint, so one bad message never fails its neighbours.

        Default: ``_fi_handle_inbound`` per message, each in its own savepoint.
        """
        results = []
        for message, document in zip(messages, documents, strict=True):
            try:
                with self.env.cr.savepoint():
                    results.append(self._fi_handle_inbound(message, document))
            except Exception as err:  # noqa: BLE001 - the message's own outcome
                results.append(err)
        return results

    # ------------------------------------------------------------------
    # outbound (queue job)
    # ------------------------------------------------------------------
    def _fi_build_request(self, message, document):
        """Outbound: the HTTP request that sends ``message``.

        :returns: ``dict(method=, url=, body=bytes, headers=dict)``

        Default: the stored JSON to ``base_url`` + the flow's path, with the
        message's ``Idempotency-Key`` and ``X-Correlation-ID`` and the
        provider's ``_fi_outbound_headers``. A provider with another body
        format (form-encoded, XML) builds its own.
        """
        flow = message.flow_id
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": message.idempotency_key,
            "X-Correlation-ID": message.correlation_id,
        }
        headers.update(self._fi_outbound_headers(message))
        return {
            "method": flow.http_method or "POST",
            "url": self._fi_url(flow.path),
            "body": message._fi_plaintext(message.sudo().payload).encode("utf-8"),
            "headers": headers,
        }

    def _fi_outbound_headers(self, message):
        """Outbound: authentication headers. Default: ``Bearer <credential>``
        when a credential is set."""
        credential = self._fi_secret("credential")
        return {"Authorization": f"Bearer {credential}"} if credential else {}

    def _fi_response_external_id(self, message, result, answer):
        """Outbound: the external id the answer gives the sent object (stored on
        the message), or None. ``answer`` is the parsed JSON body or None.

        Default: the flow's response id pointer (``/id``).
        """
        from ..lib.jsonpointer import resolve_pointer

        pointer = message.flow_id.response_id_pointer or "/id"
        value = resolve_pointer(answer, pointer)
        return str(value) if value not in (None, "") else None

    # ------------------------------------------------------------------
    # batch (scheduled and micro-batch flows)
    # ------------------------------------------------------------------
    def _fi_batch_units(self, flow):
        """Batch: the units of work of one run of ``flow``, each a JSON-able
        dict with a unique ``key``; core enqueues one job per unit (identity
        key = unit key) calling ``_fi_handle_batch_unit``. Polling connectors
        (statements, payouts, clearance status) return one unit per thing to
        fetch.

        Default: the flow's waiting outbox messages in chunks of its batch
        size (``fi_flow_tiers.py``).
        """
        return self._fi_outbox_units(flow)

    def _fi_handle_batch_unit(self, flow, unit):
        """Batch: process one unit (in its own job); returns a short summary.

        Default: process the unit's messages, each in its own savepoint with
        its own retry and exception handling.
        """
        messages = self.env["fi.message"].browse(unit.get("message_ids", []))
        results = [message._fi_process() for message in messages.exists()]
        return f"{len(results)} messages: " + "; ".join(results[:20])

    # ------------------------------------------------------------------
    # configuration
    # ------------------------------------------------------------------
    def _fi_governed_fields(self):
        """Configuration: endpoint fields that, on a live production endpoint,
        change only through an approved settings version (four eyes).

        A provider adds its own with ``super() + (...)``, and declares the
        same-named fields on ``fi.endpoint.change`` (``_inherit``) so that a
        version can hold them.
        """
        return CORE_GOVERNED_FIELDS

    def _fi_production_urls(self):
        """Configuration: URL prefixes of the provider's production system
        (``("https://api.stripe.com",)``...), compared case-insensitively with
        the start of the base URL: a sandbox endpoint refuses them, so a test
        setup never talks to the live system.

        Default: none known.
        """
        return ()

    def _fi_test_connection(self):
        """Configuration: reach the external system with the stored settings;
        returns a one-line summary for the user (account, mode ...). Raise
        ``UserError`` saying what to fix when it fails.

        Default: this provider cannot test.
        """
        raise UserError(
            _(
                "Endpoint %(endpoint)s: its provider (%(provider)s) has no "
                "connection test.",
                endpoint=self.display_name,
                provider=self.provider,
            )
        )

    # ------------------------------------------------------------------
    # period close (the controller's Close Readiness, a lock-date check)
    # ------------------------------------------------------------------
    def _fi_close_blockers(self, date_from, date_to):
        """Period close: what of this endpoint blocks closing the period
        ``date_from`` (None: since the beginning) - ``date_to`` of its company:
        unreconciled bank lines, unsettled payouts, tax not committed...

        Returns ``[{"code", "name", "count", "blocking", "res_model",
        "domain"}]``: ``blocking`` False is a warning that does not stop the
        close; ``res_model`` and ``domain`` are what the controller's *Open*
        button lists. Runs as superuser; read only, never write.
        ``fi.close.readiness._fi_count_blockers(checks)`` builds that list
        from ``(model_name, domain, code, name, blocking)`` searches.

        Default: none (core's own blockers are in ``fi_close_readiness.py``).
        """
        return []

    # ------------------------------------------------------------------
    # finance KPIs (Dashboards > Finance KPIs per Company)
    # ------------------------------------------------------------------
    def _fi_kpis(self, date_from, date_to):
        """Finance KPIs: figures only this provider knows, for the period
        ``date_from`` - ``date_to`` (dates): settlement variance of payouts,
        reconciliation rate (auto-matched / imported lines)...

        Returns ``[{"code", "name", "value"}]`` with ``value`` a short text
        ready to show ("0.00 EUR", "97.5 %"); computed from SQL aggregates,
        read only, as superuser.

        Default: none.
        """
        return []
