# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import logging

from odoo import _, api, fields, models

from .fi_flow import late_message_sql

_logger = logging.getLogger(__name__)

ALERT_KINDS = [
    ("exception_sla", "Exceptions past their SLA"),
    ("latency_sla", "Messages waiting past the maximum latency"),
    ("backlog", "Exception backlog over threshold"),
    ("silence", "Expected traffic missing"),
    ("refused_spike", "Spike of refused webhooks"),
]
#: kinds about an endpoint as a whole (no flow), for its technical owner
ENDPOINT_KINDS = ("refused_spike",)


class FiFlow(models.Model):
    _inherit = "fi.flow"

    backlog_threshold = fields.Integer(
        "Exception Backlog Threshold",
        default=10,
        help="The owner is alerted when this many exceptions of the flow are "
        "open at once (0: never).",
    )
    alert_ids = fields.One2many("fi.alert", "flow_id", readonly=True)
    expected_interval_minutes = fields.Integer(
        "Expect a Message Every (min)",
        default=0,
        help="The owner is alerted, once per gap, when no message of this flow "
        "arrived for this many minutes of working time (the company's working "
        "calendar when the resource module provides one, else all hours); "
        "0: no expectation.",
    )
    escalation_user_id = fields.Many2one(
        "res.users",
        "Escalate To",
        tracking=True,
        help="An exception of this flow still open past its SLA is escalated once "
        "to this user (an activity), on top of its assignee.",
    )

    def _fi_working_minutes(self, start, end):
        """Minutes of working time between two UTC datetimes: within the
        company's working calendar when the ``resource`` module gives companies
        one (core does not depend on it), else every minute counts."""
        self.ensure_one()
        company = self.company_id
        calendar = (
            company["resource_calendar_id"]
            if "resource_calendar_id" in company._fields
            else None
        )
        if not calendar:
            return max(0.0, (end - start).total_seconds() / 60)
        return calendar.get_work_hours_count(start, end, compute_leaves=True) * 60


class FiEndpoint(models.Model):
    _inherit = "fi.endpoint"

    refused_spike_count = fields.Integer(
        "Refused Webhooks Alert: Count",
        default=20,
        help="The technical owner is alerted once per spike when this many "
        "webhooks are refused (bad signature, refused source...) within the "
        "window below (0: never).",
    )
    refused_spike_minutes = fields.Integer(
        "Refused Webhooks Alert: Window (min)", default=10
    )


class FiAlert(models.Model):
    """A threshold breached on a flow or an endpoint: one record per breach.

    A breach lasts as long as its condition holds. The alert cron opens one
    alert when a breach starts (an activity and a message to the flow owner),
    updates its figures while it lasts and closes it when the condition no
    longer holds; the next breach is a new alert. At most one alert per flow and
    kind is open, which a partial unique index guarantees even for two crons
    running at once.
    """

    _name = "fi.alert"
    _description = "Finance Integration Alert"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "state desc, date_opened desc, id desc"

    name = fields.Char(required=True, readonly=True)
    flow_id = fields.Many2one("fi.flow", readonly=True, index=True, ondelete="cascade")
    endpoint_id = fields.Many2one(
        "fi.endpoint",
        compute="_compute_endpoint_id",
        store=True,
        readonly=False,
        index=True,
        precompute=True,
        ondelete="cascade",
    )
    company_id = fields.Many2one(
        related="endpoint_id.company_id", store=True, index=True, precompute=True
    )
    kind = fields.Selection(ALERT_KINDS, required=True, readonly=True)
    state = fields.Selection(
        [("open", "Open"), ("closed", "Closed")],
        default="open",
        required=True,
        readonly=True,
        index=True,
        tracking=True,
    )
    user_id = fields.Many2one("res.users", "Alerted User", readonly=True)
    date_opened = fields.Datetime(
        default=fields.Datetime.now, required=True, readonly=True
    )
    date_closed = fields.Datetime(readonly=True)
    value = fields.Integer(
        "Items in Breach", readonly=True, help="At the last check of the breach."
    )
    peak_value = fields.Integer("Peak", readonly=True, aggregator="max")
    threshold = fields.Integer(readonly=True)
    oldest_date = fields.Datetime(
        "Oldest Item",
        readonly=True,
        help="Oldest exception, message or refusal in breach; for a silence, "
        "the last message received.",
    )
    detail = fields.Char(
        readonly=True, help="Breakdown at the last check (refusals per reason)."
    )

    _sql_constraints = [
        (
            "target_set",
            "CHECK(flow_id IS NOT NULL OR endpoint_id IS NOT NULL)",
            "An alert is about a flow or an endpoint.",
        ),
    ]

    def init(self):
        self.env.cr.execute("DROP INDEX IF EXISTS fi_alert_one_open_per_breach")
        self.env.cr.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS fi_alert_one_open_per_target "
            "ON fi_alert (kind, COALESCE(flow_id, 0), endpoint_id) "
            "WHERE state = 'open'"
        )

    @api.depends("flow_id")
    def _compute_endpoint_id(self):
        for alert in self.filtered("flow_id"):
            alert.endpoint_id = alert.flow_id.endpoint_id

    def _fi_target_key(self):
        self.ensure_one()
        if self.kind in ENDPOINT_KINDS:
            return self.kind, self.endpoint_id.id
        return self.kind, self.flow_id.id

    # ------------------------------------------------------------------
    # breach detection: three grouped queries, whatever the volume
    # ------------------------------------------------------------------
    @api.model
    def _fi_current_breaches(self):
        """``{(kind, flow_id or endpoint_id): (count, threshold, oldest, detail)}``
        of breaches now (``ENDPOINT_KINDS`` are keyed by endpoint)."""
        self.env.flush_all()
        cr = self.env.cr
        now = cr.now()
        breaches = {}
        # open exceptions past their SLA deadline
        cr.execute(
            """
            SELECT e.flow_id, count(*), min(e.date_opened)
              FROM fi_exception e JOIN fi_flow f ON f.id = e.flow_id
             WHERE e.state IN ('new', 'in_progress') AND e.sla_deadline < %s
             GROUP BY e.flow_id
            """,
            (now,),
        )
        for flow_id, count, oldest in cr.fetchall():
            breaches["exception_sla", flow_id] = (count, 0, oldest, None)
        # messages still waiting for longer than the flow's maximum latency
        cr.execute(
            """
            SELECT m.flow_id, count(*), min(m.create_date)
              FROM fi_message m JOIN fi_flow f ON f.id = m.flow_id
             WHERE """
            + late_message_sql("%s")
            + """
             GROUP BY m.flow_id
            """,
            (now,),
        )
        for flow_id, count, oldest in cr.fetchall():
            breaches["latency_sla", flow_id] = (count, 0, oldest, None)
        # flows whose open exception backlog reaches their threshold
        cr.execute(
            """
            SELECT e.flow_id, count(*), f.backlog_threshold, min(e.date_opened)
              FROM fi_exception e JOIN fi_flow f ON f.id = e.flow_id
             WHERE e.state IN ('new', 'in_progress') AND f.backlog_threshold > 0
             GROUP BY e.flow_id, f.backlog_threshold
            HAVING count(*) >= f.backlog_threshold
            """
        )
        for flow_id, count, threshold, oldest in cr.fetchall():
            breaches["backlog", flow_id] = (count, threshold, oldest, None)
        breaches.update(self._fi_refused_spikes(now))
        breaches.update(self._fi_silent_flows(now))
        return breaches

    @api.model
    def _fi_refused_spikes(self, now):
        """Endpoints that refused at least their spike count of webhooks within
        their window, with the refusals counted per reason."""
        cr = self.env.cr
        cr.execute(
            """
            SELECT s.endpoint_id, s.reason, count(*), min(s.create_date),
                   ep.refused_spike_count
              FROM fi_security_event s JOIN fi_endpoint ep ON ep.id = s.endpoint_id
             WHERE ep.refused_spike_count > 0
               AND s.create_date >= %s - GREATEST(ep.refused_spike_minutes, 1)
                                        * interval '1 minute'
             GROUP BY s.endpoint_id, s.reason, ep.refused_spike_count
            """,
            (now,),
        )
        per_endpoint = {}
        for endpoint_id, reason, count, oldest, threshold in cr.fetchall():
            entry = per_endpoint.setdefault(
                endpoint_id, {"threshold": threshold, "reasons": {}, "oldest": oldest}
            )
            entry["reasons"][reason] = count
            entry["oldest"] = min(entry["oldest"], oldest)
        labels = dict(self.env["fi.security.event"]._fields["reason"].selection)
        spikes = {}
        for endpoint_id, entry in per_endpoint.items():
            total = sum(entry["reasons"].values())
            if total < entry["threshold"]:
                continue
            detail = ", ".join(
                f"{labels.get(reason, reason)}: {count}"
                for reason, count in sorted(
                    entry["reasons"].items(), key=lambda item: (-item[1], item[0])
                )
            )
            spikes["refused_spike", endpoint_id] = (
                total,
                entry["threshold"],
                entry["oldest"],
                detail,
            )
        return spikes

    @api.model
    def _fi_silent_flows(self, now):
        """Flows expecting traffic that received nothing for longer than their
        expected interval of working time."""
        cr = self.env.cr
        cr.execute(
            """
            SELECT f.id, f.expected_interval_minutes,
                   COALESCE(last.at, f.create_date)
              FROM fi_flow f
              JOIN fi_endpoint ep ON ep.id = f.endpoint_id AND ep.state = 'active'
              LEFT JOIN LATERAL (
                    SELECT max(m.create_date) AS at FROM fi_message m
                     WHERE m.flow_id = f.id
              ) last ON true
             WHERE f.enabled AND f.expected_interval_minutes > 0
            """
        )
        silent = {}
        for flow_id, minutes, since in cr.fetchall():
            flow = self.env["fi.flow"].browse(flow_id)
            gap = flow._fi_working_minutes(since, now)
            if gap >= minutes:
                silent["silence", flow_id] = (int(gap), minutes, since, None)
        return silent

    @api.model
    def _cron_fi_check_alerts(self):
        """Open an alert per new breach, update open ones, close the resolved."""
        alerts = self.sudo()
        breaches = self._fi_current_breaches()
        open_alerts = alerts.search([("state", "=", "open")])
        opened = updated = closed = 0
        for alert in open_alerts:
            breach = breaches.pop(alert._fi_target_key(), None)
            if breach is None:
                alert._fi_close()
                closed += 1
            elif (alert.value, alert.detail or None) != (breach[0], breach[3]):
                alert.write(
                    {
                        "value": breach[0],
                        "peak_value": max(alert.peak_value, breach[0]),
                        "detail": breach[3],
                    }
                )
                updated += 1
        for (kind, target_id), breach in sorted(breaches.items()):
            alerts._fi_open(kind, target_id, *breach)
            opened += 1
        self.env["fi.exception"].sudo()._fi_escalate_overdue()
        _logger.info(
            "finance integration alerts: %s opened, %s updated, %s closed",
            opened,
            updated,
            closed,
        )
        return opened, updated, closed

    @api.model
    def _fi_open(self, kind, target_id, count, threshold, oldest, detail=None):
        labels = dict(ALERT_KINDS)
        if kind in ENDPOINT_KINDS:
            endpoint = self.env["fi.endpoint"].browse(target_id)
            flow = self.env["fi.flow"]
            owner = endpoint.technical_owner_id or endpoint.responsible_id
            target = endpoint
        else:
            flow = self.env["fi.flow"].browse(target_id)
            endpoint = flow.endpoint_id
            owner = flow.owner_id or endpoint.responsible_id
            target = flow
        alert = self.create(
            {
                "name": _(
                    "%(target)s: %(kind)s",
                    target=target.display_name,
                    kind=labels[kind],
                ),
                "flow_id": flow.id or False,
                "endpoint_id": endpoint.id,
                "kind": kind,
                "user_id": owner.id or False,
                "value": count,
                "peak_value": count,
                "threshold": threshold,
                "oldest_date": oldest,
                "detail": detail,
            }
        )
        summary = alert._fi_summary()
        alert._message_log(body=summary)
        if owner:
            # the activity notifies its assignee (by email or in Odoo, as the
            # user chose); queued for the mail cron: a mail server hiccup must
            # not fail the check
            alert.with_context(mail_notify_force_send=False).activity_schedule(
                "mail.mail_activity_data_todo",
                summary=alert.name,
                note=summary,
                user_id=owner.id,
            )
        else:
            _logger.warning("alert %s has nobody to notify: no owner", alert.id)
        return alert

    def _fi_summary(self):
        self.ensure_one()
        flow = self.flow_id
        if self.kind == "refused_spike":
            return _(
                "Endpoint %(endpoint)s refused %(count)s webhooks within "
                "%(minutes)s minutes (%(reasons)s). Check the sender's secret, "
                "its source address and the Refused Webhooks log.",
                endpoint=self.endpoint_id.display_name,
                count=self.value,
                minutes=self.endpoint_id.refused_spike_minutes,
                reasons=self.detail,
            )
        if self.kind == "silence":
            return _(
                "Flow %(flow)s expects a message at least every %(minutes)s "
                "minutes of working time; nothing arrived since %(since)s. Check "
                "the sender and the endpoint.",
                flow=flow.display_name,
                minutes=self.threshold,
                since=self.oldest_date,
            )
        if self.kind == "exception_sla":
            return _(
                "%(count)s open exceptions of flow %(flow)s are older than their "
                "SLA of %(hours)s hours. Work them in the Exception Queue.",
                count=self.value,
                flow=flow.display_name,
                hours=flow.sla_max_exception_age_hours,
            )
        if self.kind == "latency_sla":
            return _(
                "%(count)s messages of flow %(flow)s have waited longer than "
                "%(minutes)s minutes to be processed. Check the queue and the "
                "endpoint.",
                count=self.value,
                flow=flow.display_name,
                minutes=flow.sla_max_latency_minutes,
            )
        return _(
            "%(count)s exceptions of flow %(flow)s are open (threshold "
            "%(threshold)s). Work them in the Exception Queue.",
            count=self.value,
            flow=flow.display_name,
            threshold=self.threshold,
        )

    def _fi_close(self):
        for alert in self:
            alert.write({"state": "closed", "date_closed": fields.Datetime.now()})
            alert.activity_ids.action_feedback(
                feedback=_("The breach is over: closed automatically.")
            )

    def action_open_flow_exceptions(self):
        self.ensure_one()
        if not self.flow_id:
            return self.env["ir.actions.act_window"]._for_xml_id(
                "finance_integration_core.action_fi_security_event"
            ) | {"domain": [("endpoint_id", "=", self.endpoint_id.id)]}
        return {
            "type": "ir.actions.act_window",
            "name": _("Open exceptions of %s", self.flow_id.display_name),
            "res_model": "fi.exception",
            "view_mode": "list,form",
            "domain": [
                ("flow_id", "=", self.flow_id.id),
                ("state", "in", ("new", "in_progress")),
            ],
        }
