# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import uuid
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError

REASON_CODES = [
    ("malformed_payload", "Malformed payload"),
    ("schema_invalid", "Schema validation failed"),
    ("unknown_event", "Unknown event type"),
    ("business_rule", "Business rule"),
    ("retries_exhausted", "Retries exhausted"),
    ("job_lost", "Processing job lost"),
    ("unexpected_error", "Unexpected error"),
    ("configuration", "Configuration"),
    ("missing_mapping", "Missing mapping"),
    ("circuit_open", "Circuit breaker opened"),
    ("payload_purged", "Payload purged"),
    ("authentication", "Authentication refused"),
    ("period_locked", "Accounting period locked"),
    ("other", "Other"),
]
OPEN_STATES = ("new", "in_progress")
#: error codes filed under a broader reason code of the queue
REASON_ALIASES = {"http_401": "authentication", "http_403": "authentication"}


class FiException(models.Model):
    """An item of the finance exception queue: something a person must decide."""

    _name = "fi.exception"
    _description = "Finance Integration Exception"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "priority_rank desc, sla_deadline, id"

    name = fields.Char(required=True, tracking=True)
    fi_message_id = fields.Many2one(
        "fi.message",
        "Message",
        required=True,
        readonly=True,
        index=True,
        ondelete="restrict",
    )
    endpoint_id = fields.Many2one(
        related="fi_message_id.endpoint_id", store=True, index=True, precompute=True
    )
    flow_id = fields.Many2one(
        related="fi_message_id.flow_id", store=True, index=True, precompute=True
    )
    company_id = fields.Many2one(
        related="fi_message_id.company_id", store=True, index=True, precompute=True
    )
    direction = fields.Selection(related="fi_message_id.direction")
    message_state = fields.Selection(
        related="fi_message_id.state", string="Message State"
    )
    payload_display = fields.Text(related="fi_message_id.payload_display")
    correlation_id = fields.Char(related="fi_message_id.correlation_id")
    res_model = fields.Char(related="fi_message_id.res_model")
    res_id = fields.Many2oneReference(related="fi_message_id.res_id")
    reason_code = fields.Selection(REASON_CODES, required=True, tracking=True)
    error_code = fields.Char(readonly=True, help="Detailed machine code of the error.")
    category = fields.Selection(
        [("technical", "Technical"), ("business", "Business")],
        required=True,
        tracking=True,
    )
    severity = fields.Selection(
        [
            ("low", "Low"),
            ("medium", "Medium"),
            ("high", "High"),
            ("critical", "Critical"),
        ],
        default="medium",
        required=True,
        tracking=True,
    )
    priority_rank = fields.Integer(compute="_compute_priority_rank", store=True)
    detail = fields.Text(readonly=True)
    state = fields.Selection(
        [
            ("new", "New"),
            ("in_progress", "In Progress"),
            ("resolved", "Resolved"),
            ("ignored", "Ignored"),
        ],
        default="new",
        required=True,
        tracking=True,
        index=True,
        group_expand="_group_expand_states",
    )
    user_id = fields.Many2one("res.users", "Assignee", tracking=True, index=True)
    date_opened = fields.Datetime(
        default=fields.Datetime.now, required=True, readonly=True
    )
    date_closed = fields.Datetime(readonly=True)
    sla_deadline = fields.Datetime(
        "SLA Deadline", compute="_compute_sla_deadline", store=True, index=True
    )
    is_overdue = fields.Boolean(compute="_compute_age", search="_search_is_overdue")
    age_hours = fields.Float("Age (h)", compute="_compute_age", digits=(16, 1))
    occurrences = fields.Integer(default=1, readonly=True)
    escalated_at = fields.Datetime(
        readonly=True,
        copy=False,
        help="When the item, open past its SLA, was escalated to its flow's "
        "escalation user (once).",
    )
    runbook = fields.Text(
        compute="_compute_runbook",
        help="What to check and who approves the manual path, from the runbook "
        "of the reason code (Configuration > Runbooks).",
    )
    runbook_approver_id = fields.Many2one(
        "res.users", "Approves the Manual Path", compute="_compute_runbook"
    )
    sla_due = fields.Datetime(
        "Due By",
        readonly=True,
        help="Deadline set by the case itself (a dispute's evidence due date): "
        "replaces the SLA of the flow.",
    )
    fi_standalone = fields.Boolean(
        "Case Item",
        readonly=True,
        help="Opened for a case, not for a failure of its message: processing "
        "the message does not close it.",
    )
    ignore_reason = fields.Text(readonly=True, tracking=True)
    resolution_note = fields.Text(tracking=True)

    @api.depends("severity")
    def _compute_priority_rank(self):
        ranks = {"low": 0, "medium": 1, "high": 2, "critical": 3}
        for item in self:
            item.priority_rank = ranks.get(item.severity, 1)

    @api.depends("date_opened", "sla_due", "flow_id.sla_max_exception_age_hours")
    def _compute_sla_deadline(self):
        for item in self:
            if item.sla_due:
                item.sla_deadline = item.sla_due
                continue
            hours = item.flow_id.sla_max_exception_age_hours or 24
            item.sla_deadline = (item.date_opened or fields.Datetime.now()) + timedelta(
                hours=hours
            )

    @api.depends("reason_code", "company_id")
    def _compute_runbook(self):
        runbooks = (
            self.env["fi.reason.runbook"]
            .sudo()
            ._fi_for(set(self.mapped("reason_code")))
        )
        for item in self:
            runbook = runbooks.get((item.reason_code, item.company_id.id)) or (
                runbooks.get((item.reason_code, False))
            )
            item.runbook = runbook.instructions if runbook else False
            item.runbook_approver_id = runbook.approver_id if runbook else False

    def _compute_age(self):
        now = fields.Datetime.now()
        for item in self:
            end = item.date_closed or now
            item.age_hours = (end - (item.date_opened or now)).total_seconds() / 3600
            item.is_overdue = item.state in OPEN_STATES and bool(
                item.sla_deadline and item.sla_deadline < now
            )

    def _search_is_overdue(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise UserError(_("Unsupported search on overdue."))
        overdue = [
            ("state", "in", OPEN_STATES),
            ("sla_deadline", "<", fields.Datetime.now()),
        ]
        if (operator == "=") == value:
            return overdue
        return ["!", "&", *overdue]

    @api.model
    def _group_expand_states(self, states, domain):
        return [key for key, _label in self._fields["state"].selection]

    # ------------------------------------------------------------------
    # opening
    # ------------------------------------------------------------------
    @api.model
    def _fi_open(self, message, reason_code, detail, category):
        codes = dict(self._fields["reason_code"].selection)
        known = REASON_ALIASES.get(reason_code, reason_code)
        if known not in codes:
            known = "business_rule" if category == "business" else "other"
        owner = self._fi_route_owner(message, category)
        severity = {"circuit_open": "critical", "retries_exhausted": "high"}.get(
            known, "medium"
        )
        item = self.sudo().create(
            {
                "name": _(
                    "%(reason)s: %(message)s",
                    reason=codes[known],
                    message=message.display_name,
                ),
                "fi_message_id": message.id,
                "reason_code": known,
                "error_code": reason_code,
                "category": category,
                "severity": severity,
                "detail": detail,
                "user_id": owner.id or False,
            }
        )
        if owner:
            # queued, not sent inline: a mail server hiccup must not fail processing
            item.with_context(mail_notify_force_send=False).activity_schedule(
                "mail.mail_activity_data_todo",
                date_deadline=item.sla_deadline.date(),
                summary=_("Finance integration exception to work"),
                note=detail and detail[:1000],
                user_id=owner.id,
            )
        return item

    @api.model
    def _fi_open_for(
        self,
        reason_code,
        detail,
        category="business",
        message=None,
        endpoint=None,
        record=None,
        deadline=None,
    ):
        """Open an item for a case rather than for a failure of a message (a
        dispute to answer by its evidence date, a reconciliation difference):
        processing its message never closes it, and ``deadline`` (a UTC
        datetime) replaces the flow's SLA. Without ``message``, an internal
        inbound message of ``endpoint``, done and pointing at ``record``,
        anchors the item (endpoint, company, correlation id as for any item)."""
        if message is None:
            if not endpoint:
                raise UserError(_("An exception item needs a message or an endpoint."))
            values = {
                "endpoint_id": endpoint.id,
                "company_id": endpoint.company_id.id,
                "direction": "in",
                "state": "done",
                "event_type": f"internal.{reason_code}",
                "correlation_id": uuid.uuid4().hex,
                "date_done": fields.Datetime.now(),
            }
            if record:
                values.update(res_model=record._name, res_id=record.id)
            message = self.env["fi.message"].sudo().create(values)
        item = self._fi_open(message, reason_code, detail, category)
        item.sudo().write({"fi_standalone": True, "sla_due": deadline or False})
        if deadline:
            item.activity_ids.sudo().write({"date_deadline": item.sla_deadline.date()})
        return item

    @api.model
    def _fi_route_owner(self, message, category):
        """Who works an item: technical failures go to the endpoint's technical
        owner, business exceptions to the flow's owner (both fall back to the
        endpoint's responsible)."""
        endpoint = message.endpoint_id
        business_owner = message.flow_id.owner_id or endpoint.responsible_id
        if category == "technical":
            return endpoint.technical_owner_id or business_owner
        return business_owner

    @api.model
    def _fi_escalate_overdue(self):
        """Escalate, once each, the open items past their SLA whose flow names
        an escalation user. The UPDATE claims them: two crons at once escalate
        each item once."""
        self.env.flush_all()
        self.env.cr.execute(
            """
            UPDATE fi_exception e
               SET escalated_at = now() at time zone 'UTC'
              FROM fi_flow f
             WHERE f.id = e.flow_id AND f.escalation_user_id IS NOT NULL
               AND e.state IN ('new', 'in_progress') AND e.escalated_at IS NULL
               AND e.sla_deadline < now() at time zone 'UTC'
            RETURNING e.id, f.escalation_user_id
            """
        )
        rows = self.env.cr.fetchall()
        self.invalidate_model(["escalated_at"])
        for item_id, user_id in rows:
            item = self.browse(item_id)
            user = self.env["res.users"].browse(user_id)
            note = _(
                "Open past its SLA deadline (%(deadline)s); assignee: %(assignee)s.",
                deadline=item.sla_deadline,
                assignee=item.user_id.name or _("nobody"),
            )
            item._message_log(body=_("Escalated to %s: %s", user.name, note))
            item.with_context(mail_notify_force_send=False).activity_schedule(
                "mail.mail_activity_data_todo",
                summary=_("Escalated: %s", item.name),
                note=note,
                user_id=user.id,
            )
        return len(rows)

    def _fi_refresh(self, reason_code, detail, category):
        for item in self:
            item.write(
                {
                    "occurrences": item.occurrences + 1,
                    "detail": detail,
                    "error_code": reason_code,
                    "category": category,
                }
            )
            item._message_log(
                body=_("The message failed again (%(code)s).", code=reason_code)
            )

    def _fi_close_by_success(self):
        for item in self.filtered(lambda e: not e.fi_standalone):
            item.write(
                {
                    "state": "resolved",
                    "date_closed": fields.Datetime.now(),
                    "resolution_note": item.resolution_note
                    or _("Closed automatically: the message was processed."),
                }
            )
            item.activity_ids.action_feedback(feedback=_("Message processed"))

    # ------------------------------------------------------------------
    # actions
    # ------------------------------------------------------------------
    def _check_open(self):
        closed = self.filtered(lambda e: e.state not in OPEN_STATES)
        if closed:
            raise UserError(
                _("Exception %s is already closed.", closed[0].display_name)
            )

    def action_take(self):
        self._check_open()
        self.write({"user_id": self.env.user.id, "state": "in_progress"})
        return True

    def action_retry(self):
        """Retry the message of each item now (attempts start again)."""
        self._check_open()
        self.fi_message_id.action_retry()
        self.write({"state": "in_progress"})
        for item in self:
            item._message_log(body=_("Retry requested by %s.", self.env.user.name))
        return True

    def action_replay(self):
        """Process the message of each item again from its stored payload."""
        self._check_open()
        self.fi_message_id.action_replay()
        self.write({"state": "in_progress"})
        for item in self:
            item._message_log(body=_("Replay requested by %s.", self.env.user.name))
        return True

    def action_resolve(self):
        self._check_open()
        self.write({"state": "resolved", "date_closed": fields.Datetime.now()})
        self.activity_ids.action_feedback(feedback=_("Resolved"))
        return True

    def action_ignore(self, reason=None):
        """Ignore items; a reason is mandatory (asked by a wizard in the UI)."""
        if not reason or not reason.strip():
            return {
                "type": "ir.actions.act_window",
                "res_model": "fi.exception.ignore.wizard",
                "view_mode": "form",
                "target": "new",
                "context": {"active_ids": self.ids, "active_model": self._name},
            }
        self._check_open()
        self.write(
            {
                "state": "ignored",
                "ignore_reason": reason.strip(),
                "date_closed": fields.Datetime.now(),
            }
        )
        self.activity_ids.action_feedback(feedback=_("Ignored: %s", reason.strip()))
        for item in self:
            if item.fi_message_id.state in ("failed", "dead", "invalid", "unroutable"):
                item.fi_message_id.sudo().state = "ignored"
        return True

    def action_open_message(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "fi.message",
            "res_id": self.fi_message_id.id,
            "view_mode": "form",
        }

    def action_open_related(self):
        return self.fi_message_id.action_open_related()
