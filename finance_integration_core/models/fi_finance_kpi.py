# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Finance KPIs of the last 30 days, per flow and per company: read-only SQL
views over the hourly statistics and the exception queue (both small), never
the message log except by primary key.

Each figure's definition is its field's help, as the finance dashboard shows it.
"""

from odoo import fields, models, tools

from .fi_close_readiness import GOVERNED_MODELS, PENDING_APPROVAL_STATES
from .fi_message_amount import BigInteger

#: the window of the KPIs
KPI_DAYS = 30


class FiFinanceKpi(models.Model):
    """Per flow: completeness, automation, dead letters, exception ageing and
    resolution time."""

    _name = "fi.finance.kpi"
    _description = "Finance Integration KPIs per Flow (30 days)"
    _auto = False
    _order = "company_id, endpoint_id, flow_id"
    _rec_name = "name"

    name = fields.Char("Flow Name", readonly=True)
    flow_id = fields.Many2one("fi.flow", readonly=True)
    endpoint_id = fields.Many2one("fi.endpoint", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    owner_id = fields.Many2one("res.users", "Flow Owner", readonly=True)
    direction = fields.Selection(
        [("in", "Inbound"), ("out", "Outbound")], readonly=True
    )
    received = fields.Integer(
        "Received",
        readonly=True,
        help="Messages received (or queued to send) in the last 30 days.",
    )
    processed = fields.Integer(
        "Processed", readonly=True, help="Of those, the messages now processed."
    )
    posted = fields.Integer(
        "Posted",
        readonly=True,
        help="Of those, the processed messages that produced an Odoo record.",
    )
    completeness = fields.Float(
        "Completeness (%)",
        readonly=True,
        digits=(16, 1),
        aggregator="avg",
        help="Processed / received x 100 (empty without traffic).",
    )
    auto_processed = fields.Integer(
        "Processed Automatically",
        readonly=True,
        help="Processed messages that never had an exception item: nobody had "
        "to look at them (retries without an exception count as automatic).",
    )
    auto_processed_rate = fields.Float(
        "Automation Rate (%)",
        readonly=True,
        digits=(16, 1),
        aggregator="avg",
        help="Processed automatically / received x 100 (empty without traffic).",
    )
    failed = fields.Integer(
        "Failed",
        readonly=True,
        help="Messages of the last 30 days that failed "
        "into a finance or technical exception and are still failed.",
    )
    dead_letters = fields.Integer(
        "Dead Letters",
        readonly=True,
        help="Messages of the last 30 days that "
        "gave up after their last retry and are still dead.",
    )
    open_exceptions = fields.Integer(
        readonly=True, help="Exception items open now (new or in progress)."
    )
    exceptions_aged_1d = fields.Integer(
        "Open > 1 Day",
        readonly=True,
        help="Open exception items opened more than 24 hours ago.",
    )
    exceptions_aged_3d = fields.Integer(
        "Open > 3 Days",
        readonly=True,
        help="Open exception items opened more than 72 hours ago.",
    )
    resolved = fields.Integer(
        "Resolved",
        readonly=True,
        help="Exception items resolved in the last 30 "
        "days (ignored ones do not count).",
    )
    resolution_median_hours = fields.Float(
        "Time to Resolve, Median (h)",
        readonly=True,
        digits=(16, 1),
        aggregator="max",
        help="Median of resolved - opened, in hours, of the "
        "exception items resolved in the last 30 days.",
    )
    resolution_p90_hours = fields.Float(
        "Time to Resolve, p90 (h)",
        readonly=True,
        digits=(16, 1),
        aggregator="max",
        help="90th percentile of resolved - opened, in hours: "
        "nine items in ten were resolved faster.",
    )

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            f"""
            CREATE VIEW {self._table} AS (
            WITH clock AS (SELECT now() at time zone 'UTC' AS now,
                                  interval '{KPI_DAYS} days' AS span),
            traffic AS (
                SELECT s.flow_id, sum(s.received) AS received,
                       sum(s.done) AS done, sum(s.posted) AS posted,
                       sum(s.failed) AS failed, sum(s.dead) AS dead
                  FROM fi_message_stat s, clock
                 WHERE s.flow_id IS NOT NULL AND s.hour >= clock.now - clock.span
                 GROUP BY 1
            ),
            attended AS (
                SELECT m.flow_id, count(DISTINCT m.id) AS done_with_exception
                  FROM fi_exception x
                  JOIN fi_message m ON m.id = x.fi_message_id
                 CROSS JOIN clock
                 WHERE m.state = 'done' AND m.flow_id IS NOT NULL
                   AND m.create_date >= date_trunc('hour', clock.now - clock.span)
                 GROUP BY 1
            ),
            resolution AS (
                SELECT x.flow_id, count(*) AS resolved,
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY
                           EXTRACT(EPOCH FROM x.date_closed - x.date_opened) / 3600.0)
                           AS median_h,
                       percentile_cont(0.9) WITHIN GROUP (ORDER BY
                           EXTRACT(EPOCH FROM x.date_closed - x.date_opened) / 3600.0)
                           AS p90_h
                  FROM fi_exception x, clock
                 WHERE x.state = 'resolved' AND x.date_closed IS NOT NULL
                   AND x.date_closed >= clock.now - clock.span
                 GROUP BY 1
            ),
            open_items AS (
                SELECT x.flow_id, count(*) AS open,
                       count(*) FILTER (WHERE x.date_opened
                           < clock.now - interval '24 hours') AS aged_1d,
                       count(*) FILTER (WHERE x.date_opened
                           < clock.now - interval '72 hours') AS aged_3d
                  FROM fi_exception x, clock
                 WHERE x.state IN ('new', 'in_progress')
                 GROUP BY 1
            )
            SELECT f.id, f.id AS flow_id, f.name, f.endpoint_id, e.company_id,
                   f.owner_id, f.direction,
                   COALESCE(t.received, 0) AS received,
                   COALESCE(t.done, 0) AS processed,
                   COALESCE(t.posted, 0) AS posted,
                   CASE WHEN t.received > 0 THEN 100.0 * t.done / t.received
                        END AS completeness,
                   GREATEST(COALESCE(t.done, 0)
                            - COALESCE(a.done_with_exception, 0), 0)
                       AS auto_processed,
                   CASE WHEN t.received > 0
                        THEN 100.0 * GREATEST(t.done
                             - COALESCE(a.done_with_exception, 0), 0) / t.received
                        END AS auto_processed_rate,
                   COALESCE(t.failed, 0) AS failed,
                   COALESCE(t.dead, 0) AS dead_letters,
                   COALESCE(o.open, 0) AS open_exceptions,
                   COALESCE(o.aged_1d, 0) AS exceptions_aged_1d,
                   COALESCE(o.aged_3d, 0) AS exceptions_aged_3d,
                   COALESCE(r.resolved, 0) AS resolved,
                   r.median_h AS resolution_median_hours,
                   r.p90_h AS resolution_p90_hours
              FROM fi_flow f
              JOIN fi_endpoint e ON e.id = f.endpoint_id
              LEFT JOIN traffic t ON t.flow_id = f.id
              LEFT JOIN attended a ON a.flow_id = f.id
              LEFT JOIN resolution r ON r.flow_id = f.id
              LEFT JOIN open_items o ON o.flow_id = f.id
            )
            """
        )


class FiFinanceKpiCompany(models.Model):
    """Per company: failed postings and records waiting for approval."""

    _name = "fi.finance.kpi.company"
    _description = "Finance Integration KPIs per Company (30 days)"
    _auto = False
    _order = "company_id"
    _rec_name = "company_id"

    company_id = fields.Many2one("res.company", readonly=True)
    failed_postings = fields.Integer(
        "Failed Postings",
        readonly=True,
        help="Messages of the last 30 days that "
        "did not post: failed or dead letters, still so now.",
    )
    connector_kpis = fields.Text(
        "Connector KPIs",
        compute="_compute_connector_kpis",
        help="What each connector reports for the last 30 days through its "
        "endpoints' _fi_kpis hook (settlement variance, reconciliation rate...), "
        "one line per endpoint and figure.",
    )
    pending_approvals = fields.Integer(
        "Pending Approval",
        readonly=True,
        help="Governed versions waiting for a "
        "second Manager: value maps, schemas, endpoint settings and "
        "configuration imports, submitted or approved but not active.",
    )

    def _compute_connector_kpis(self):
        date_to = fields.Date.context_today(self)
        date_from = fields.Date.subtract(date_to, days=KPI_DAYS)
        Endpoint = self.env["fi.endpoint"].sudo()
        for row in self:
            lines = []
            for endpoint in Endpoint.search([("company_id", "=", row.company_id.id)]):
                lines.extend(
                    f"{endpoint.name}: {kpi['name']} {kpi['value']}"
                    for kpi in endpoint._fi_kpis(date_from, date_to)
                )
            row.connector_kpis = "\n".join(lines)

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        states = ", ".join(f"'{state}'" for state in PENDING_APPROVAL_STATES)
        pending = " UNION ALL ".join(
            f"SELECT company_id FROM {self.env[name]._table} WHERE state IN ({states})"
            for name in GOVERNED_MODELS
        )
        self.env.cr.execute(
            f"""
            CREATE VIEW {self._table} AS (
            WITH failures AS (
                SELECT s.company_id, sum(s.failed + s.dead) AS failed
                  FROM fi_message_stat s
                 WHERE s.hour >= now() at time zone 'UTC' - interval '{KPI_DAYS} days'
                 GROUP BY 1
            ),
            pending AS (
                SELECT company_id, count(*) AS pending
                  FROM ({pending}) versions
                 WHERE company_id IS NOT NULL
                 GROUP BY 1
            )
            SELECT c.id, c.id AS company_id,
                   COALESCE(f.failed, 0) AS failed_postings,
                   COALESCE(p.pending, 0) AS pending_approvals
              FROM res_company c
              LEFT JOIN failures f ON f.company_id = c.id
              LEFT JOIN pending p ON p.company_id = c.id
            )
            """
        )


class FiDashboardFlow(models.Model):
    """The finance dashboard's cards show their flow's KPIs."""

    _inherit = "fi.dashboard.flow"

    kpi_auto_processed_rate = fields.Float(
        "Automation Rate 30d (%)",
        compute="_compute_kpis",
        digits=(16, 1),
        help="Processed without an exception item / received x 100, last 30 days.",
    )
    kpi_resolution_median_hours = fields.Float(
        "Time to Resolve 30d, Median (h)", compute="_compute_kpis", digits=(16, 1)
    )
    kpi_resolution_p90_hours = fields.Float(
        "Time to Resolve 30d, p90 (h)", compute="_compute_kpis", digits=(16, 1)
    )
    kpi_dead_letters = fields.Integer("Dead Letters 30d", compute="_compute_kpis")

    def _compute_kpis(self):
        kpis = {
            kpi.flow_id.id: kpi
            for kpi in self.env["fi.finance.kpi"].search(
                [("flow_id", "in", self.flow_id.ids)]
            )
        }
        for card in self:
            kpi = kpis.get(card.flow_id.id)
            card.kpi_auto_processed_rate = kpi.auto_processed_rate if kpi else 0.0
            card.kpi_resolution_median_hours = (
                kpi.resolution_median_hours if kpi else 0.0
            )
            card.kpi_resolution_p90_hours = kpi.resolution_p90_hours if kpi else 0.0
            card.kpi_dead_letters = kpi.dead_letters if kpi else 0

    def action_open_kpis(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.name,
            "res_model": "fi.finance.kpi",
            "view_mode": "list,pivot",
            "domain": [("flow_id", "=", self.flow_id.id)],
        }


class FiFinanceKpiAmount(models.Model):
    """Per flow and currency: completeness in amounts, last 30 days."""

    _name = "fi.finance.kpi.amount"
    _description = "Finance Integration Completeness in Amounts (30 days)"
    _auto = False
    _order = "company_id, flow_id, currency_id"
    _rec_name = "flow_id"

    flow_id = fields.Many2one("fi.flow", readonly=True)
    endpoint_id = fields.Many2one("fi.endpoint", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    messages = fields.Integer(
        "Messages",
        readonly=True,
        help="Messages of the last 30 days with a declared amount.",
    )
    received_minor = BigInteger(
        "Received (minor units)",
        readonly=True,
        help="Sum of the amounts of the messages received in the last 30 days, in "
        "the currency's minor units (cents).",
    )
    processed_minor = BigInteger(
        "Processed (minor units)",
        readonly=True,
        help="Of those, the amounts of the messages now processed.",
    )
    posted_minor = BigInteger(
        "Posted (minor units)",
        readonly=True,
        help="Of those, the amounts whose journal entry is posted (the message's "
        "record is a posted account.move; without Accounting: a record exists).",
    )
    received_amount = fields.Char("Received", readonly=True)
    processed_amount = fields.Char("Processed", readonly=True)
    posted_amount = fields.Char("Posted", readonly=True)
    completeness_amount = fields.Float(
        "Completeness in Amount (%)",
        readonly=True,
        digits=(16, 1),
        aggregator="avg",
        help="Processed amount / received amount x 100.",
    )
    posted_amount_rate = fields.Float(
        "Posted in Amount (%)",
        readonly=True,
        digits=(16, 1),
        aggregator="avg",
        help="Posted amount / received amount x 100.",
    )

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute("SELECT to_regclass('account_move') IS NOT NULL")
        if self.env.cr.fetchone()[0]:
            posted = (
                "m.state = 'done' AND EXISTS (SELECT 1 FROM account_move am "
                "WHERE m.res_model = 'account.move' AND am.id = m.res_id "
                "AND am.state = 'posted')"
            )
        else:
            posted = "m.state = 'done' AND m.res_id IS NOT NULL"
        # minor units -> the currency's units, as exact decimals shown as text
        places = "COALESCE(c.decimal_places, 2)"
        unit = f"power(10::numeric, {places})"
        self.env.cr.execute(
            f"""
            CREATE VIEW {self._table} AS (
            WITH sums AS (
                SELECT m.flow_id, m.endpoint_id, m.company_id, m.currency_id,
                       count(*) AS messages,
                       sum(m.amount_minor) AS received,
                       COALESCE(sum(m.amount_minor)
                           FILTER (WHERE m.state = 'done'), 0) AS processed,
                       COALESCE(sum(m.amount_minor) FILTER (WHERE {posted}), 0)
                           AS posted
                  FROM fi_message m
                 WHERE m.amount_minor IS NOT NULL AND m.flow_id IS NOT NULL
                   AND m.create_date >= now() at time zone 'UTC'
                                        - interval '{KPI_DAYS} days'
                 GROUP BY 1, 2, 3, 4
            )
            SELECT row_number() OVER (ORDER BY s.flow_id, s.currency_id) AS id,
                   s.flow_id, s.endpoint_id, s.company_id, s.currency_id,
                   s.messages, s.received AS received_minor,
                   s.processed AS processed_minor, s.posted AS posted_minor,
                   round(s.received / {unit}, {places})::text || ' '
                       || COALESCE(c.name, '')
                       AS received_amount,
                   round(s.processed / {unit}, {places})::text || ' '
                       || COALESCE(c.name, '')
                       AS processed_amount,
                   round(s.posted / {unit}, {places})::text || ' '
                       || COALESCE(c.name, '')
                       AS posted_amount,
                   CASE WHEN s.received <> 0
                        THEN 100.0 * s.processed / s.received END
                       AS completeness_amount,
                   CASE WHEN s.received <> 0
                        THEN 100.0 * s.posted / s.received END AS posted_amount_rate
              FROM sums s
              LEFT JOIN res_currency c ON c.id = s.currency_id
            )
            """
        )
