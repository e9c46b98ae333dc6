# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""What core does that the chain records, hooked from this addon: change
control transitions, the exception queue, message processing and replays,
refused webhooks. (Received messages are chained from their own rows by the
sealer: nothing is added to the intake path.)"""

from odoo import api, models, tools

from odoo.addons.finance_integration_core.lib.hashing import sha256_hex

from .account_audit import TOUCHED

#: value maps consulted by the processing of the current message
VALUE_MAPS = "fi_audit_value_maps"
#: the records the last handler touched, until its message is marked done
TOUCHED_BY_HANDLER = "fi_audit_touched_by_handler"


class FiChangeLog(models.Model):
    _inherit = "fi.change.log"

    @api.model
    def _fi_record(self, records, from_state, to_state, note=None):
        rows = super()._fi_record(records, from_state, to_state, note=note)
        audit = self.env["fi.audit"]
        for record in records:
            audit._fi_event(
                f"change.{to_state}",
                f"{record.display_name}: {from_state or 'none'} -> {to_state}",
                record=record,
                facts={
                    "model": record._name,
                    "version": record.version,
                    "from_state": from_state or "none",
                    "to_state": to_state,
                    "note": note or None,
                },
            )
        return rows


class FiException(models.Model):
    _inherit = "fi.exception"

    @api.model_create_multi
    def create(self, vals_list):
        items = super().create(vals_list)
        for item in items:
            item._fi_audit(
                "exception.opened",
                f"Exception opened: {item.name}",
                {
                    "reason_code": item.reason_code,
                    "category": item.category,
                    "severity": item.severity,
                    "assignee_id": item.user_id.id or None,
                },
            )
        return items

    def write(self, vals):
        watched = {"state", "user_id"} & set(vals)
        before = (
            {item.id: (item.state, item.user_id.id) for item in self} if watched else {}
        )
        res = super().write(vals)
        for item in self if watched else ():
            state, user_id = before[item.id]
            if item.user_id.id != user_id:
                item._fi_audit(
                    "exception.assigned",
                    f"Exception {item.name} assigned to "
                    f"{item.user_id.name or 'nobody'}",
                    {
                        "from_user_id": user_id or None,
                        "to_user_id": item.user_id.id or None,
                    },
                )
            if item.state != state:
                kind = {
                    "resolved": "exception.resolved",
                    "ignored": "exception.ignored",
                    "in_progress": "exception.in_progress",
                    "new": "exception.reopened",
                }[item.state]
                facts = {"from_state": state, "to_state": item.state}
                if item.state == "ignored":
                    facts["reason"] = item.ignore_reason or None
                if item.state == "resolved":
                    facts["note"] = item.resolution_note or None
                item._fi_audit(
                    kind, f"Exception {item.name}: {state} -> {item.state}", facts
                )
        return res

    def _fi_audit(self, event_type, summary, facts):
        self.env["fi.audit"]._fi_event(
            event_type,
            summary,
            record=self,
            message=self.fi_message_id,
            facts=dict(facts, exception_id=self.id),
        )


class FiMessage(models.Model):
    _inherit = "fi.message"

    def _fi_audit(self, event_type, facts, record=None):
        self.env["fi.audit"]._fi_event(
            event_type,
            f"{self.display_name}: {event_type.split('.', 1)[1]}",
            record=record or self,
            message=self,
            facts=dict(facts, attempts=self.attempts, state=self.state),
        )

    def _fi_value_maps_used(self):
        """{map: active version} of the value maps looked up since the
        handler started (lib: fi.value.map.fi_lookup)."""
        used = self.env.cr.cache.pop(VALUE_MAPS, {})
        return dict(sorted(used.items())) or None

    def _fi_run_handler(self):
        cache = self.env.cr.cache
        cache.pop(VALUE_MAPS, None)
        cache[TOUCHED] = {}  # filled by account_audit.note_touched
        try:
            result = super()._fi_run_handler()
        finally:
            cache[TOUCHED_BY_HANDLER] = cache.pop(TOUCHED, None)
        if self.flow_id.schema_json:
            self._fi_audit(
                "message.validated",
                {"schema_version": self.flow_id.schema_version or None},
            )
        return result

    def _fi_mark_done(self, record=None):
        result = super()._fi_mark_done(record)
        self._fi_audit(
            "message.done",
            {
                "res_model": record._name if record else None,
                "res_id": record.id if record else None,
                "value_maps": self._fi_value_maps_used(),
            },
            record=record,
        )
        self._fi_audit_touched(record)
        return result

    def _fi_audit_touched(self, main):
        """One event per accounting record the handler created or changed
        besides its main record (``main``): the chain names each of them, and
        each is found from its own audit trail."""
        touched = self.env.cr.cache.pop(TOUCHED_BY_HANDLER, None) or {}
        main_key = (main._name, main.id) if main else None
        self._fi_audit_name_touched(
            touched,
            {main_key},
            {
                "main_model": main_key[0] if main_key else None,
                "main_id": main_key[1] if main_key else None,
            },
        )

    def _fi_audit_name_touched(self, touched, skipped, facts):
        """``record.<change>`` events of ``touched`` ({(model, id): change})
        on this message, but for the ``skipped`` (model, id) keys."""
        for (model, record_id), change in sorted(touched.items()):
            if (model, record_id) in skipped:
                continue
            record = self.env[model].sudo().browse(record_id).exists()
            if not record:  # created and removed again by the handler
                continue
            self.env["fi.audit"]._fi_event(
                f"record.{change}",
                f"{self.display_name}: {record.display_name} {change}",
                record=record,
                message=self,
                facts=dict(facts, change=change, model=model, res_id=record_id),
            )

    def _fi_run_batch_handler(self, documents):
        """A batch of messages (core's batched processing), recorded as each
        alone would be: ``message.validated`` for each message handled, and
        the records the batch touched besides the messages' main records named
        once each, on the batch's first message, with the batch in the facts."""
        cache = self.env.cr.cache
        cache.pop(VALUE_MAPS, None)
        cache[TOUCHED] = {}
        try:
            results = super()._fi_run_batch_handler(documents)
        finally:
            touched = cache.pop(TOUCHED, None) or {}
        handled = [
            (message, result)
            for message, result in zip(self, results, strict=False)
            if not isinstance(result, BaseException)
        ]
        for message, _result in handled:
            if message.flow_id.schema_json:
                message._fi_audit(
                    "message.validated",
                    {"schema_version": message.flow_id.schema_version or None},
                )
        if handled:
            mains = {(r._name, r.id) for _m, r in handled if r}
            handled[0][0]._fi_audit_name_touched(
                touched,
                mains,
                {"main_model": None, "main_id": None, "batch": self.ids},
            )
        return results

    def _fi_mark_ignored(self, reason):
        result = super()._fi_mark_ignored(reason)
        self._fi_audit("message.ignored", {"reason": reason})
        return result

    def _fi_handle_failure(self, err):
        # what the handler touched was rolled back with its savepoint
        self.env.cr.cache.pop(TOUCHED_BY_HANDLER, None)
        result = super()._fi_handle_failure(err)
        kind = {"failed": "message.failed", "dead": "message.dead"}.get(
            self.state, "message.retry_scheduled"
        )
        self._fi_audit(
            kind,
            {
                "error_code": self.error_code or None,
                "value_maps": self._fi_value_maps_used(),
                "error_class": self.error_class or None,
                "response_status": self.response_status or None,
            },
        )
        return result

    def _fi_store_response(self, result):
        res = super()._fi_store_response(result)
        self._fi_audit(
            "message.response",
            {
                "status": result.status,
                "body_sha256": sha256_hex(result.body or ""),
            },
        )
        return res

    def action_replay(self):
        return super(
            FiMessage, self.with_context(fi_audit_action="replay")
        ).action_replay()

    def action_retry(self):
        return super(
            FiMessage, self.with_context(fi_audit_action="retry")
        ).action_retry()

    def _fi_requeue(self):
        action = self.env.context.get("fi_audit_action") or "requeue"
        states = {message.id: message.state for message in self}
        res = super()._fi_requeue()
        for message in self:
            message._fi_audit(
                f"message.{'replayed' if action == 'replay' else 'retried'}",
                {"from_state": states[message.id], "action": action},
            )
        return res

    def action_fi_audit_trace(self):
        self.ensure_one()
        domain = [("message_id", "=", self.id)]
        if self.correlation_id:
            domain = ["|", ("correlation_id", "=", self.correlation_id), *domain]
        return self.env["fi.audit.event"]._fi_trace_action(
            domain, f"Audit trail of {self.display_name}"
        )


class FiSecurityEvent(models.Model):
    _inherit = "fi.security.event"

    @api.model_create_multi
    def create(self, vals_list):
        events = super().create(vals_list)
        for event in events:
            self.env["fi.audit"]._fi_event(
                "webhook.rejected",
                f"Webhook refused on {event.endpoint_id.display_name}: {event.reason}",
                record=event,
                endpoint=event.endpoint_id,
                facts={
                    "reason": event.reason,
                    "detail": event.detail or None,
                    "remote_addr": event.remote_addr or None,
                },
            )
        return events


class FiValueMap(models.Model):
    _inherit = "fi.value.map"

    def fi_lookup(self, map_code, external_code, endpoint=None, company=None):
        result = super().fi_lookup(
            map_code, external_code, endpoint=endpoint, company=company
        )
        company = company or (endpoint.company_id if endpoint else self.env.company)
        self.env.cr.cache.setdefault(VALUE_MAPS, {}).update(
            self._fi_audit_versions(
                map_code, endpoint.id if endpoint else False, company.id
            )
        )
        return result

    @api.model
    @tools.ormcache("map_code", "endpoint_id", "company_id")
    def _fi_audit_versions(self, map_code, endpoint_id, company_id):
        """Active versions of the maps a lookup of ``map_code`` consults (the
        endpoint's, then the global ones), cached as the lookups are (cleared
        when any map or version changes)."""
        maps = self.sudo().search(
            [
                ("code", "=", map_code),
                "|",
                ("endpoint_id", "=", False),
                ("endpoint_id", "=", endpoint_id),
                "|",
                ("company_id", "=", False),
                ("company_id", "=", company_id),
            ]
        )
        return tuple(
            (f"{vmap.code}#{vmap.id}", vmap.active_version_id.version or None)
            for vmap in maps
        )
