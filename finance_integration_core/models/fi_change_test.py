# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
""" "Test against recent messages": before a value-map, schema or endpoint
settings version is approved, the last N messages of its flows are processed
again twice in a dry run (once as things are, once with the version in use)
and the approver sees which would change outcome.

A dry run writes nothing: every run is inside a savepoint that is rolled back,
no outbound request leaves (``_fi_request`` stops it, context ``fi_dry_run``),
nothing is committed, and what a handler registered to run after the commit
(``cr.postcommit``) is dropped. Connectors never commit (provider surface), so
their handlers run unchanged.
"""

import json

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..lib.errors import FiIgnored
from .fi_change_log import CHANGE_CONTROL

#: how many recent messages a change test replays unless told otherwise
DEFAULT_TEST_MESSAGES = 50
TEST_MESSAGES_PARAM = "finance_integration_core.change_test_messages"
#: states of messages whose payload can be processed again
TESTABLE_STATES = ("new", "queued", "retry", "done", "failed", "dead", "ignored")


class FiDryRunStop(Exception):
    """Raised by ``_fi_request`` in a dry run: nothing leaves Odoo."""


class _Rollback(Exception):
    """Leaves a savepoint of the dry run, rolling it back."""


class FiChangeTestLine(models.Model):
    """One message of a change test: its outcome now and with the version."""

    _name = "fi.change.test.line"
    _description = "Finance Integration Change Test Result"
    _order = "changed desc, message_id desc"

    res_model = fields.Char("Version Model", required=True, index=True)
    res_id = fields.Many2oneReference(
        "Version", model_field="res_model", required=True, index=True
    )
    company_id = fields.Many2one("res.company", index=True)
    message_id = fields.Many2one(
        "fi.message", required=True, ondelete="cascade", index=True
    )
    flow_id = fields.Many2one(related="message_id.flow_id")
    received_at = fields.Datetime(related="message_id.create_date")
    outcome_before = fields.Char("Outcome Now")
    outcome_after = fields.Char("Outcome With the Version")
    detail_before = fields.Text("Detail Now")
    detail_after = fields.Text("Detail With the Version")
    changed = fields.Boolean(help="The version changes this message's outcome.")
    now_fails = fields.Boolean(
        "Would Now Fail", help="Processed without failure now, fails with the version."
    )
    tested_at = fields.Datetime(default=fields.Datetime.now, readonly=True)


class FiChangeControlMixin(models.AbstractModel):
    _inherit = "fi.change.control.mixin"

    test_line_count = fields.Integer("Messages Tested", compute="_compute_test_counts")
    test_changed_count = fields.Integer(
        "Messages Changed", compute="_compute_test_counts"
    )
    test_fail_count = fields.Integer(
        "Messages Now Failing", compute="_compute_test_counts"
    )

    def _compute_test_counts(self):
        lines = self.env["fi.change.test.line"].search(
            [("res_model", "=", self._name), ("res_id", "in", self.ids)]
        )
        for version in self:
            mine = lines.filtered(lambda line, v=version: line.res_id == v.id)
            version.test_line_count = len(mine)
            version.test_changed_count = len(mine.filtered("changed"))
            version.test_fail_count = len(mine.filtered("now_fails"))

    # -- hooks of the concrete versions ----------------------------------
    def _fi_test_flows(self):
        """The flows whose messages this version may change (none: not
        testable)."""
        return self.env["fi.flow"]

    def _fi_test_apply(self):
        """Put this version in use inside the dry run's savepoint (no log,
        no replay)."""
        raise NotImplementedError

    # -- the test ------------------------------------------------------
    def action_test_recent_messages(self):
        """Replay the last messages of this version's flows in a dry run and
        list which would change outcome."""
        self.ensure_one()
        self._fi_check_manager(_("test"))
        if self.state not in ("draft", "submitted", "approved"):
            raise UserError(
                _(
                    "%s is not waiting to be applied: test a draft, submitted or "
                    "approved version.",
                    self.display_name,
                )
            )
        self._fi_test_recent_messages()
        return self.action_open_test_lines()

    def _fi_test_messages(self, limit=None):
        if limit is None:
            param = (
                self.env["ir.config_parameter"].sudo().get_param(TEST_MESSAGES_PARAM)
            )
            limit = int(param or DEFAULT_TEST_MESSAGES)
        flows = self._fi_test_flows()
        if not flows:
            return self.env["fi.message"]
        return (
            self.env["fi.message"]
            .sudo()
            .search(
                [
                    ("flow_id", "in", flows.ids),
                    ("state", "in", TESTABLE_STATES),
                    ("payload_purged_at", "=", False),
                ],
                order="id desc",
                limit=limit,
            )
        )

    def _fi_test_recent_messages(self, limit=None):
        """Run the test and store one line per message; returns the lines."""
        self.ensure_one()
        messages = self._fi_test_messages(limit)
        cr = self.env.cr
        # what a handler asks to run after the commit (a savepoint rollback
        # keeps it) must not run for a dry run
        hooks = list(cr.postcommit._funcs)
        after = {}
        try:
            before = {m.id: m._fi_dry_run_outcome() for m in messages}
            with cr.savepoint():
                self.sudo().with_context(
                    fi_change_control=CHANGE_CONTROL
                )._fi_test_apply()
                for message in messages:
                    after[message.id] = message._fi_dry_run_outcome()
                raise _Rollback
        except _Rollback:
            pass
        finally:
            cr.postcommit._funcs.clear()
            cr.postcommit._funcs.extend(hooks)
            # lookups cached while the version was in use are not true now
            self.env.registry.clear_cache()
            self.env.invalidate_all()
        Line = self.env["fi.change.test.line"].sudo()
        Line.search([("res_model", "=", self._name), ("res_id", "=", self.id)]).unlink()
        values = []
        for message in messages:
            old, new = before[message.id], after[message.id]
            values.append(
                {
                    "res_model": self._name,
                    "res_id": self.id,
                    "company_id": message.company_id.id,
                    "message_id": message.id,
                    "outcome_before": old["label"],
                    "outcome_after": new["label"],
                    "detail_before": old["detail"],
                    "detail_after": new["detail"],
                    "changed": old["facts"] != new["facts"],
                    "now_fails": old["ok"] and not new["ok"],
                }
            )
        return Line.create(values)

    def action_open_test_lines(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Test of %s against recent messages", self.display_name),
            "res_model": "fi.change.test.line",
            "view_mode": "list,form",
            "domain": [("res_model", "=", self._name), ("res_id", "=", self.id)],
            "context": {"search_default_changed": 1},
        }


class FiValueMapVersion(models.Model):
    _inherit = "fi.value.map.version"

    def _fi_test_flows(self):
        vmap = self.map_id
        domain = [("company_id", "=", vmap.company_id.id)] if vmap.company_id else []
        if vmap.endpoint_id:
            domain = [("endpoint_id", "=", vmap.endpoint_id.id)]
        return self.env["fi.flow"].sudo().search(domain)

    def _fi_test_apply(self):
        self.map_id.write({"active_version_id": self.id})


class FiFlowSchemaVersion(models.Model):
    _inherit = "fi.flow.schema.version"

    def _fi_test_flows(self):
        return self.flow_id

    def _fi_test_apply(self):
        self.flow_id.write({"schema_json": self.schema_json})


class FiEndpointChange(models.Model):
    _inherit = "fi.endpoint.change"

    def _fi_test_flows(self):
        return self.endpoint_id.flow_ids

    def _fi_test_apply(self):
        names = self.endpoint_id._fi_governed_fields()
        self.endpoint_id.write(
            {
                name: self[name].id
                if isinstance(self[name], models.BaseModel)
                else self[name]
                for name in names
            }
        )


class FiMessage(models.Model):
    _inherit = "fi.message"

    def _fi_dry_run_outcome(self):
        """Process this message again, as its endpoint's integration user,
        in a savepoint rolled back: ``{"ok", "label", "detail", "facts"}``
        where facts (outcome, reason, mapped values, record touched) are what
        two runs are compared by."""
        self.ensure_one()
        endpoint = self.endpoint_id.sudo()
        trace = []
        message = (
            self.with_user(endpoint.integration_user_id)
            .with_company(endpoint.company_id)
            .with_context(fi_dry_run=True, fi_lookup_trace=trace)
        )
        facts = {}
        try:
            with self.env.cr.savepoint():
                record = message._fi_run_handler()
                facts = {"outcome": "done", "record": _describe(record)}
                raise _Rollback
        except _Rollback:
            pass
        except FiDryRunStop as err:
            facts = {"outcome": "request", "detail": str(err)}
        except FiIgnored as err:
            facts = {"outcome": "ignored", "detail": err.reason}
        except Exception as err:  # noqa: BLE001 - the outcome being tested
            kind, reason, text, _retry = self._fi_classify(err)
            facts = {"outcome": kind, "reason": reason, "detail": text}
        finally:
            self.env.invalidate_all()
        facts["lookups"] = trace
        labels = {
            "done": _("Processed"),
            "request": _("Would call the other side"),
            "ignored": _("Ignored"),
            "transient": _("Would retry"),
            "business": _("Fails: business exception"),
            "technical": _("Fails: technical"),
        }
        label = labels.get(facts["outcome"], facts["outcome"])
        if facts.get("reason"):
            label = f"{label} ({facts['reason']})"
        detail = [facts.get("detail") or ""]
        if facts.get("record"):
            detail.append(_("Record: %s", facts["record"]))
        detail.extend(f"{code} / {value}: {result}" for code, value, result in trace)
        return {
            "ok": facts["outcome"] in ("done", "request", "ignored"),
            "label": label,
            "detail": "\n".join(line for line in detail if line),
            "facts": json.dumps(facts, sort_keys=True, default=str),
        }


def _describe(record):
    if not isinstance(record, models.BaseModel) or not record:
        return None
    return f"{record._name}: {', '.join(record.sudo().mapped('display_name'))}"


class FiEndpoint(models.Model):
    _inherit = "fi.endpoint"

    def _fi_request(self, method, url, body, headers):
        if self.env.context.get("fi_dry_run"):
            raise FiDryRunStop(
                _("dry run: %(method)s %(url)s not sent", method=method, url=url)
            )
        return super()._fi_request(method, url, body, headers)


class FiValueMap(models.Model):
    _inherit = "fi.value.map"

    @api.model
    def fi_lookup(self, map_code, external_code, endpoint=None, company=None):
        """Records each answer in the context's ``fi_lookup_trace`` (a change
        test compares the mapped values of two runs)."""
        trace = self.env.context.get("fi_lookup_trace")
        if trace is None:
            return super().fi_lookup(map_code, external_code, endpoint, company)
        try:
            value = super().fi_lookup(map_code, external_code, endpoint, company)
        except Exception:
            trace.append([map_code, str(external_code), None])
            raise
        shown = (
            f"{value._name},{value.id}"
            if isinstance(value, models.BaseModel)
            else value
        )
        trace.append([map_code, str(external_code), shown])
        return value


class FiConfigImport(models.Model):
    _inherit = "fi.config.import"

    def _fi_test_flows(self):
        return (
            self.env["fi.flow"]
            .sudo()
            .search([("endpoint_id.company_id", "=", self.company_id.id)])
        )

    def _fi_test_apply(self):
        config, _digest = self._fi_parsed()
        self.env["fi.config.transfer"].with_company(self.company_id)._fi_apply(
            config, self.file_name or "file", _("Change test")
        )
