# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Read-only SQL views behind the dashboards.

Each reads small tables only: the hourly statistics, the open exceptions, the
pending jobs. None of them scans the message log, except the messages still
waiting (an indexed state, a handful of rows).
"""

from odoo import _, fields, models, tools

from .fi_flow import late_message_sql

#: queue_job states that still have work to do
OPEN_JOB_STATES = ("wait_dependencies", "pending", "enqueued", "started", "failed")

AGE_BUCKETS = [
    ("a_lt4h", "< 4 hours"),
    ("b_4_24h", "4-24 hours"),
    ("c_1_3d", "1-3 days"),
    ("d_gt3d", "> 3 days"),
]


class FiQueueDepth(models.Model):
    """Jobs not finished yet, per queue_job channel and state."""

    _name = "fi.queue.depth"
    _description = "Finance Integration Queue Depth"
    _auto = False
    _order = "channel, state"
    _rec_name = "channel"

    channel = fields.Char(readonly=True)
    state = fields.Selection(
        [
            ("wait_dependencies", "Waiting for Dependencies"),
            ("pending", "Pending"),
            ("enqueued", "Enqueued"),
            ("started", "Started"),
            ("failed", "Failed"),
        ],
        readonly=True,
    )
    company_id = fields.Many2one("res.company", readonly=True)
    job_count = fields.Integer("Jobs", readonly=True)
    oldest_date = fields.Datetime("Oldest Job", readonly=True, aggregator="min")
    oldest_age_minutes = fields.Integer(
        "Oldest Age (min)", readonly=True, aggregator="max"
    )

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            f"""
            CREATE VIEW {self._table} AS (
                SELECT row_number() OVER (ORDER BY channel, state, company_id) AS id,
                       channel, state, company_id, job_count, oldest_date,
                       (EXTRACT(EPOCH FROM (now() at time zone 'UTC') - oldest_date)
                        / 60)::integer AS oldest_age_minutes
                  FROM (
                    SELECT COALESCE(channel, 'root') AS channel, state, company_id,
                           count(*) AS job_count, min(date_created) AS oldest_date
                      FROM queue_job
                     WHERE state IN %s
                     GROUP BY 1, 2, 3
                  ) jobs
            )
            """,
            (OPEN_JOB_STATES,),
        )


class FiExceptionAge(models.Model):
    """Open finance exceptions with their age bucket, computed by the database."""

    _name = "fi.exception.age"
    _description = "Finance Integration Open Exceptions by Age"
    _auto = False
    _order = "date_opened"
    _rec_name = "name"

    exception_id = fields.Many2one("fi.exception", "Exception", readonly=True)
    name = fields.Char(readonly=True)
    endpoint_id = fields.Many2one("fi.endpoint", readonly=True)
    flow_id = fields.Many2one("fi.flow", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    user_id = fields.Many2one("res.users", "Assignee", readonly=True)
    owner_id = fields.Many2one("res.users", "Flow Owner", readonly=True)
    state = fields.Selection(
        [("new", "New"), ("in_progress", "In Progress")], readonly=True
    )
    severity = fields.Selection(
        [
            ("low", "Low"),
            ("medium", "Medium"),
            ("high", "High"),
            ("critical", "Critical"),
        ],
        readonly=True,
    )
    category = fields.Selection(
        [("technical", "Technical"), ("business", "Business")], readonly=True
    )
    date_opened = fields.Datetime(readonly=True, aggregator="min")
    sla_deadline = fields.Datetime("SLA Deadline", readonly=True, aggregator="min")
    age_hours = fields.Float("Age (h)", readonly=True, digits=(16, 1), aggregator="max")
    age_bucket = fields.Selection(AGE_BUCKETS, "Age", readonly=True)
    is_overdue = fields.Boolean("SLA Breached", readonly=True)
    overdue_count = fields.Integer("SLA Breaches", readonly=True)
    item_count = fields.Integer("Open Items", readonly=True)

    def action_open_exception(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "fi.exception",
            "res_id": self.exception_id.id,
            "view_mode": "form",
        }

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            f"""
            CREATE VIEW {self._table} AS (
                SELECT e.id, e.id AS exception_id, e.name, e.endpoint_id, e.flow_id,
                       e.company_id, e.user_id,
                       COALESCE(f.owner_id, ep.responsible_id) AS owner_id,
                       e.state, e.severity, e.category, e.date_opened,
                       e.sla_deadline, a.age_hours,
                       CASE WHEN a.age_hours < 4 THEN 'a_lt4h'
                            WHEN a.age_hours < 24 THEN 'b_4_24h'
                            WHEN a.age_hours < 72 THEN 'c_1_3d'
                            ELSE 'd_gt3d' END AS age_bucket,
                       COALESCE(e.sla_deadline < a.now, false) AS is_overdue,
                       (COALESCE(e.sla_deadline < a.now, false))::integer
                           AS overdue_count,
                       1 AS item_count
                  FROM fi_exception e
                  LEFT JOIN fi_flow f ON f.id = e.flow_id
                  LEFT JOIN fi_endpoint ep ON ep.id = e.endpoint_id
                 CROSS JOIN LATERAL (
                    SELECT now() at time zone 'UTC' AS now,
                           EXTRACT(EPOCH FROM (now() at time zone 'UTC')
                                   - e.date_opened) / 3600.0 AS age_hours
                 ) a
                 WHERE e.state IN ('new', 'in_progress')
            )
            """
        )


class FiDashboardFlow(models.Model):
    """One card per flow (and one per endpoint for unrouted traffic and refused
    webhooks) with the figures both dashboards show.

    Rates and volumes come from the hourly statistics (last 24 hours for the
    technical figures, last 7 days for completeness); exceptions, waiting
    messages and jobs are read live, they are few.
    """

    _name = "fi.dashboard.flow"
    _description = "Finance Integration Dashboard Card"
    _auto = False
    _order = "endpoint_id, sequence, id"

    name = fields.Char(readonly=True)
    sequence = fields.Integer(readonly=True)
    endpoint_id = fields.Many2one("fi.endpoint", readonly=True)
    flow_id = fields.Many2one("fi.flow", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    direction = fields.Selection(
        [("in", "Inbound"), ("out", "Outbound")], readonly=True
    )
    owner_id = fields.Many2one("res.users", "Owner", readonly=True)
    channel = fields.Char(readonly=True)
    sync_tier = fields.Selection(
        [
            ("realtime", "Realtime"),
            ("micro_batch", "Micro-batch"),
            ("batch", "Scheduled batch"),
        ],
        readonly=True,
    )
    # -- technical, last 24 hours --
    received_24h = fields.Integer("Received (24h)", readonly=True)
    per_hour_24h = fields.Float(
        "Messages / Hour (24h)", readonly=True, digits=(16, 1), aggregator="sum"
    )
    errors_24h = fields.Integer("Errors (24h)", readonly=True)
    error_rate_24h = fields.Float(
        "Error Rate % (24h)", readonly=True, digits=(16, 1), aggregator="max"
    )
    retries_24h = fields.Integer("Retries (24h)", readonly=True)
    latency_p50_24h = fields.Float(
        "Latency p50 (s, 24h)",
        readonly=True,
        digits=(16, 3),
        aggregator="avg",
        help="Hourly medians weighted by the messages processed in each hour.",
    )
    latency_p95_24h = fields.Float(
        "Latency p95 (s, 24h)",
        readonly=True,
        digits=(16, 3),
        aggregator="max",
        help="The worst hourly 95th percentile of the last 24 hours.",
    )
    auth_failures_24h = fields.Integer("Auth Failures (24h)", readonly=True)
    queue_depth = fields.Integer(
        "Queue Depth",
        readonly=True,
        help="Jobs pending, enqueued or started on the flow's channel.",
    )
    waiting_messages = fields.Integer(
        "Waiting Messages", readonly=True, help="Received, queued or retrying."
    )
    late_messages = fields.Integer(
        "Late Messages",
        readonly=True,
        help="Waiting longer than the flow's maximum latency.",
    )
    # -- finance, last 7 days --
    received_7d = fields.Integer("Received (7d)", readonly=True)
    done_7d = fields.Integer("Processed (7d)", readonly=True)
    posted_7d = fields.Integer("Posted (7d)", readonly=True)
    completeness_7d = fields.Float(
        "Processed % (7d)", readonly=True, digits=(16, 1), aggregator="min"
    )
    duplicates_7d = fields.Integer("Duplicates Suppressed (7d)", readonly=True)
    open_exceptions = fields.Integer(readonly=True)
    overdue_exceptions = fields.Integer("SLA Breaches", readonly=True)
    exceptions_lt4h = fields.Integer("< 4 h", readonly=True)
    exceptions_4_24h = fields.Integer("4-24 h", readonly=True)
    exceptions_1_3d = fields.Integer("1-3 days", readonly=True)
    exceptions_gt3d = fields.Integer("> 3 days", readonly=True)
    oldest_open_date = fields.Datetime(
        "Oldest Open Item", readonly=True, aggregator="min"
    )
    oldest_open_hours = fields.Float(
        "Oldest Open (h)", readonly=True, digits=(16, 1), aggregator="max"
    )
    open_alerts = fields.Integer(readonly=True)
    health = fields.Selection(
        [("ok", "Healthy"), ("warning", "Needs attention"), ("breach", "SLA breached")],
        readonly=True,
    )

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            f"""
            CREATE VIEW {self._table} AS (
            WITH clock AS (SELECT now() at time zone 'UTC' AS now),
            cards AS (
                SELECT f.id * 2 AS id, f.name, f.sequence, f.endpoint_id,
                       f.id AS flow_id, e.company_id, f.direction, f.owner_id,
                       f.channel, f.sync_tier, f.sla_max_latency_minutes
                  FROM fi_flow f JOIN fi_endpoint e ON e.id = f.endpoint_id
                UNION ALL
                SELECT e.id * 2 + 1, 'Unrouted traffic & refused webhooks', 10000,
                       e.id, NULL, e.company_id, 'in', e.responsible_id, NULL, NULL,
                       NULL
                  FROM fi_endpoint e
            ),
            day AS (
                SELECT s.endpoint_id, COALESCE(s.flow_id, 0) AS flow,
                       sum(s.received) AS received, sum(s.errors) AS errors,
                       sum(s.retries) AS retries,
                       sum(s.auth_failures) AS auth_failures,
                       sum(s.latency_p50 * s.done) / NULLIF(sum(s.done)
                           FILTER (WHERE s.latency_p50 IS NOT NULL), 0) AS p50,
                       max(s.latency_p95) AS p95
                  FROM fi_message_stat s, clock
                 WHERE s.hour >= clock.now - interval '24 hours'
                 GROUP BY 1, 2
            ),
            week AS (
                SELECT s.endpoint_id, COALESCE(s.flow_id, 0) AS flow,
                       sum(s.received) AS received, sum(s.done) AS done,
                       sum(s.posted) AS posted, sum(s.duplicates) AS duplicates
                  FROM fi_message_stat s, clock
                 WHERE s.hour >= clock.now - interval '7 days'
                 GROUP BY 1, 2
            ),
            waiting AS (
                SELECT m.endpoint_id, COALESCE(m.flow_id, 0) AS flow,
                       count(*) AS waiting,
                       count(*) FILTER (WHERE {late_message_sql("clock.now")}) AS late
                  FROM fi_message m
                  LEFT JOIN fi_flow f ON f.id = m.flow_id
                 CROSS JOIN clock
                 WHERE m.state IN ('new', 'queued', 'retry')
                 GROUP BY 1, 2
            ),
            exceptions AS (
                SELECT endpoint_id, COALESCE(flow_id, 0) AS flow,
                       count(*) AS open,
                       count(*) FILTER (WHERE sla_deadline < clock.now) AS overdue,
                       count(*) FILTER (WHERE date_opened
                           >= clock.now - interval '4 hours') AS lt4h,
                       count(*) FILTER (WHERE date_opened
                           < clock.now - interval '4 hours' AND date_opened
                           >= clock.now - interval '24 hours') AS h4_24,
                       count(*) FILTER (WHERE date_opened
                           < clock.now - interval '24 hours' AND date_opened
                           >= clock.now - interval '72 hours') AS d1_3,
                       count(*) FILTER (WHERE date_opened
                           < clock.now - interval '72 hours') AS gt3d,
                       min(date_opened) AS oldest
                  FROM fi_exception, clock
                 WHERE state IN ('new', 'in_progress')
                 GROUP BY 1, 2
            ),
            jobs AS (
                SELECT channel, count(*) AS depth
                  FROM queue_job
                 WHERE state IN ('pending', 'enqueued', 'started')
                 GROUP BY 1
            ),
            alerts AS (
                SELECT flow_id, count(*) AS open
                  FROM fi_alert WHERE state = 'open' GROUP BY 1
            )
            SELECT c.id, c.name, c.sequence, c.endpoint_id, c.flow_id, c.company_id,
                   c.direction, c.owner_id, c.channel, c.sync_tier,
                   COALESCE(d.received, 0) AS received_24h,
                   COALESCE(d.received, 0) / 24.0 AS per_hour_24h,
                   COALESCE(d.errors, 0) AS errors_24h,
                   CASE WHEN d.received > 0 THEN 100.0 * d.errors / d.received
                        ELSE 0 END AS error_rate_24h,
                   COALESCE(d.retries, 0) AS retries_24h,
                   d.p50 AS latency_p50_24h, d.p95 AS latency_p95_24h,
                   COALESCE(d.auth_failures, 0) AS auth_failures_24h,
                   COALESCE(j.depth, 0) AS queue_depth,
                   COALESCE(wt.waiting, 0) AS waiting_messages,
                   COALESCE(wt.late, 0) AS late_messages,
                   COALESCE(w.received, 0) AS received_7d,
                   COALESCE(w.done, 0) AS done_7d,
                   COALESCE(w.posted, 0) AS posted_7d,
                   CASE WHEN w.received > 0 THEN 100.0 * w.done / w.received
                        ELSE NULL END AS completeness_7d,
                   COALESCE(w.duplicates, 0) AS duplicates_7d,
                   COALESCE(x.open, 0) AS open_exceptions,
                   COALESCE(x.overdue, 0) AS overdue_exceptions,
                   COALESCE(x.lt4h, 0) AS exceptions_lt4h,
                   COALESCE(x.h4_24, 0) AS exceptions_4_24h,
                   COALESCE(x.d1_3, 0) AS exceptions_1_3d,
                   COALESCE(x.gt3d, 0) AS exceptions_gt3d,
                   x.oldest AS oldest_open_date,
                   EXTRACT(EPOCH FROM clock.now - x.oldest) / 3600.0
                       AS oldest_open_hours,
                   COALESCE(a.open, 0) AS open_alerts,
                   CASE WHEN COALESCE(x.overdue, 0) + COALESCE(wt.late, 0) > 0
                             OR COALESCE(a.open, 0) > 0 THEN 'breach'
                        WHEN COALESCE(x.open, 0) > 0 OR COALESCE(d.errors, 0) > 0
                             OR COALESCE(d.auth_failures, 0) > 0 THEN 'warning'
                        ELSE 'ok' END AS health
              FROM cards c
             CROSS JOIN clock
              LEFT JOIN day d
                ON d.endpoint_id = c.endpoint_id AND d.flow = COALESCE(c.flow_id, 0)
              LEFT JOIN week w
                ON w.endpoint_id = c.endpoint_id AND w.flow = COALESCE(c.flow_id, 0)
              LEFT JOIN waiting wt
                ON wt.endpoint_id = c.endpoint_id
               AND wt.flow = COALESCE(c.flow_id, 0)
              LEFT JOIN exceptions x
                ON x.endpoint_id = c.endpoint_id AND x.flow = COALESCE(c.flow_id, 0)
              LEFT JOIN jobs j ON j.channel = c.channel
              LEFT JOIN alerts a ON a.flow_id = c.flow_id
            )
            """
        )

    # ------------------------------------------------------------------
    # drill-down from a card
    # ------------------------------------------------------------------
    def _fi_scope_domain(self):
        self.ensure_one()
        return [
            ("endpoint_id", "=", self.endpoint_id.id),
            ("flow_id", "=", self.flow_id.id or False),
        ]

    def action_open_stats(self):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "finance_integration_core.action_fi_message_stat"
        )
        action.update(
            name=_("Messages per Hour: %s", self.name),
            domain=self._fi_scope_domain(),
            context={"search_default_since_yesterday": 1},
        )
        return action

    def action_open_completeness(self):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "finance_integration_core.action_fi_message_stat_completeness"
        )
        action.update(
            name=_("Completeness: %s", self.name), domain=self._fi_scope_domain()
        )
        return action

    def action_open_messages(self):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "finance_integration_core.action_fi_message"
        )
        action.update(
            name=_("Messages: %s", self.name),
            domain=self._fi_scope_domain(),
            context={},
        )
        return action

    def action_open_exceptions(self):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "finance_integration_core.action_fi_exception"
        )
        action.update(
            name=_("Open Exceptions: %s", self.name),
            domain=[*self._fi_scope_domain(), ("state", "in", ("new", "in_progress"))],
            context={},
        )
        return action

    def action_open_alerts(self):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "finance_integration_core.action_fi_alert"
        )
        action.update(
            name=_("Alerts: %s", self.name),
            domain=[("flow_id", "=", self.flow_id.id)],
        )
        return action
