# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import logging

from odoo import _, api, fields, models

from .fi_flow import late_message_sql

_logger = logging.getLogger(__name__)

ALERT_KINDS = [
    ("exception_sla", "Exceptions past their SLA"),
    ("latency_sla", "Messages waiting past the maximum latency"),
    ("backlog", "Exception backlog over threshold"),
]


class FiFlow(models.Model):
    _inherit = "fi.flow"

    backlog_threshold = fields.Integer(
        "Exception Backlog Threshold",
        default=10,
        help="The owner is alerted when this many exceptions of the flow are "
        "open at once (0: never).",
    )
    alert_ids = fields.One2many("fi.alert", "flow_id", readonly=True)


class FiAlert(models.Model):
    """A business threshold breached on a flow: one record per breach.

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
    flow_id = fields.Many2one(
        "fi.flow", required=True, readonly=True, index=True, ondelete="cascade"
    )
    endpoint_id = fields.Many2one(
        related="flow_id.endpoint_id", store=True, index=True, precompute=True
    )
    company_id = fields.Many2one(
        related="flow_id.company_id", store=True, index=True, precompute=True
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
        "Oldest Item", readonly=True, help="Oldest exception or message in breach."
    )

    def init(self):
        self.env.cr.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS fi_alert_one_open_per_breach "
            "ON fi_alert (flow_id, kind) WHERE state = 'open'"
        )

    # ------------------------------------------------------------------
    # breach detection: three grouped queries, whatever the volume
    # ------------------------------------------------------------------
    @api.model
    def _fi_current_breaches(self):
        """``{(flow_id, kind): (count, threshold, oldest)}`` of breaches now."""
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
            breaches[flow_id, "exception_sla"] = (count, 0, oldest)
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
            breaches[flow_id, "latency_sla"] = (count, 0, oldest)
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
            breaches[flow_id, "backlog"] = (count, threshold, oldest)
        return breaches

    @api.model
    def _cron_fi_check_alerts(self):
        """Open an alert per new breach, update open ones, close the resolved."""
        alerts = self.sudo()
        breaches = self._fi_current_breaches()
        open_alerts = alerts.search([("state", "=", "open")])
        opened = updated = closed = 0
        for alert in open_alerts:
            breach = breaches.pop((alert.flow_id.id, alert.kind), None)
            if breach is None:
                alert._fi_close()
                closed += 1
            elif alert.value != breach[0]:
                alert.write(
                    {"value": breach[0], "peak_value": max(alert.peak_value, breach[0])}
                )
                updated += 1
        for (flow_id, kind), (count, threshold, oldest) in sorted(breaches.items()):
            alerts._fi_open(
                self.env["fi.flow"].browse(flow_id), kind, count, threshold, oldest
            )
            opened += 1
        _logger.info(
            "finance integration alerts: %s opened, %s updated, %s closed",
            opened,
            updated,
            closed,
        )
        return opened, updated, closed

    @api.model
    def _fi_open(self, flow, kind, count, threshold, oldest):
        owner = flow.owner_id or flow.endpoint_id.responsible_id
        labels = dict(ALERT_KINDS)
        alert = self.create(
            {
                "name": _(
                    "%(flow)s: %(kind)s", flow=flow.display_name, kind=labels[kind]
                ),
                "flow_id": flow.id,
                "kind": kind,
                "user_id": owner.id or False,
                "value": count,
                "peak_value": count,
                "threshold": threshold,
                "oldest_date": oldest,
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
