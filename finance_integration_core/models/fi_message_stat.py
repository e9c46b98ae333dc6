# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import logging
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import create_index, create_unique_index

_logger = logging.getLogger(__name__)

#: hours always recomputed by a refresh, whatever was written
RECENT_HOURS = 3
#: a transaction that started before the last refresh may commit after it:
#: rows written up to this long before the last run are looked at again
OVERLAP_MINUTES = 15
#: ir.config_parameter holding the start of the last refresh
LAST_RUN_PARAM = "finance_integration_core.stat_last_refresh"

# One statement: which hours to recompute, their new figures, the upsert, and
# the removal of groups that no longer have any message in a recomputed hour.
# The hours recomputed are the last RECENT_HOURS plus every hour holding a
# message, a duplicate delivery or a refused webhook written since ``since``.
REFRESH_SQL = """
WITH touched AS (
    SELECT date_trunc('hour', create_date) AS hour
      FROM fi_message
     WHERE (%(since)s::timestamp IS NULL OR write_date >= %(since)s)
    UNION
    SELECT date_trunc('hour', create_date)
      FROM fi_idempotency_key
     WHERE duplicate_count > 0
       AND (%(since)s::timestamp IS NULL OR last_duplicate_at >= %(since)s)
    UNION
    SELECT date_trunc('hour', create_date)
      FROM fi_security_event
     WHERE (%(since)s::timestamp IS NULL OR create_date >= %(since)s)
    UNION
    SELECT generate_series(
        date_trunc('hour', %(now)s::timestamp) - %(recent)s * interval '1 hour',
        date_trunc('hour', %(now)s::timestamp), interval '1 hour')
),
messages AS (
    SELECT t.hour, m.endpoint_id, COALESCE(m.flow_id, 0) AS flow, m.company_id,
           m.direction,
           count(*) AS received,
           count(*) FILTER (WHERE m.state = 'done') AS done,
           count(*) FILTER (WHERE m.state = 'done' AND m.res_id IS NOT NULL
                              AND m.res_model IS NOT NULL) AS posted,
           count(*) FILTER (WHERE m.state IN ('new', 'queued', 'retry')) AS pending,
           count(*) FILTER (WHERE m.state = 'failed') AS failed,
           count(*) FILTER (WHERE m.state = 'dead') AS dead,
           count(*) FILTER (WHERE m.state IN ('invalid', 'unroutable')) AS invalid,
           count(*) FILTER (WHERE m.state = 'ignored') AS ignored,
           COALESCE(sum(GREATEST(m.attempts - 1, 0)), 0) AS retries,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY m.latency_ms)
               FILTER (WHERE m.state = 'done' AND m.latency_ms IS NOT NULL)
               AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY m.latency_ms)
               FILTER (WHERE m.state = 'done' AND m.latency_ms IS NOT NULL)
               AS p95,
           max(m.latency_ms) FILTER (WHERE m.state = 'done') AS latency_max
      FROM touched t
      JOIN fi_message m
        ON m.create_date >= t.hour AND m.create_date < t.hour + interval '1 hour'
     GROUP BY t.hour, m.endpoint_id, COALESCE(m.flow_id, 0), m.company_id,
              m.direction
),
duplicates AS (
    SELECT t.hour, k.endpoint_id, COALESCE(m.flow_id, 0) AS flow, k.company_id,
           COALESCE(m.direction, 'in') AS direction,
           sum(k.duplicate_count) AS duplicates
      FROM touched t
      JOIN fi_idempotency_key k
        ON k.create_date >= t.hour AND k.create_date < t.hour + interval '1 hour'
      LEFT JOIN fi_message m ON m.id = k.message_id
     WHERE k.duplicate_count > 0
     GROUP BY 1, 2, 3, 4, 5
),
refused AS (
    SELECT t.hour, s.endpoint_id, 0 AS flow, e.company_id, 'in' AS direction,
           count(*) AS auth_failures
      FROM touched t
      JOIN fi_security_event s
        ON s.create_date >= t.hour AND s.create_date < t.hour + interval '1 hour'
      JOIN fi_endpoint e ON e.id = s.endpoint_id
     GROUP BY 1, 2, 3, 4, 5
),
figures AS (
    SELECT hour, endpoint_id, flow, company_id, direction,
           COALESCE(sum(received), 0) AS received, COALESCE(sum(done), 0) AS done,
           COALESCE(sum(posted), 0) AS posted, COALESCE(sum(pending), 0) AS pending,
           COALESCE(sum(failed), 0) AS failed, COALESCE(sum(dead), 0) AS dead,
           COALESCE(sum(invalid), 0) AS invalid, COALESCE(sum(ignored), 0) AS ignored,
           COALESCE(sum(retries), 0) AS retries,
           COALESCE(sum(duplicates), 0) AS duplicates,
           COALESCE(sum(auth_failures), 0) AS auth_failures,
           max(p50) AS p50, max(p95) AS p95, max(latency_max) AS latency_max
      FROM (
        SELECT hour, endpoint_id, flow, company_id, direction, received, done,
               posted, pending, failed, dead, invalid, ignored, retries,
               NULL::bigint AS duplicates, NULL::bigint AS auth_failures,
               p50, p95, latency_max
          FROM messages
        UNION ALL
        SELECT hour, endpoint_id, flow, company_id, direction, NULL, NULL, NULL,
               NULL, NULL, NULL, NULL, NULL, NULL, duplicates, NULL,
               NULL, NULL, NULL
          FROM duplicates
        UNION ALL
        SELECT hour, endpoint_id, flow, company_id, direction, NULL, NULL, NULL,
               NULL, NULL, NULL, NULL, NULL, NULL, NULL, auth_failures,
               NULL, NULL, NULL
          FROM refused
      ) parts
     GROUP BY hour, endpoint_id, flow, company_id, direction
),
removed AS (
    DELETE FROM fi_message_stat s
     USING touched t
     WHERE s.hour = t.hour
       AND NOT EXISTS (
           SELECT 1 FROM figures f
            WHERE f.hour = s.hour AND f.endpoint_id = s.endpoint_id
              AND f.flow = COALESCE(s.flow_id, 0) AND f.direction = s.direction)
    RETURNING s.id
),
upserted AS (
    INSERT INTO fi_message_stat AS s
        (hour, hour_label, endpoint_id, flow_id, company_id, direction, received,
         done, posted,
         pending, failed, dead, invalid, ignored, errors, retries, duplicates,
         auth_failures, latency_p50, latency_p95, latency_max, error_rate,
         create_uid, create_date, write_uid, write_date)
    SELECT hour, to_char(hour, 'YYYY-MM-DD HH24:00'), endpoint_id, NULLIF(flow, 0),
           company_id, direction, received,
           done, posted, pending, failed, dead, invalid, ignored,
           failed + dead + invalid, retries, duplicates, auth_failures,
           p50 / 1000.0, p95 / 1000.0, latency_max / 1000.0,
           CASE WHEN received > 0
                THEN 100.0 * (failed + dead + invalid) / received ELSE 0 END,
           %(uid)s, %(now)s, %(uid)s, %(now)s
      FROM figures
    ON CONFLICT (hour, endpoint_id, (COALESCE(flow_id, 0)), direction) DO UPDATE
       SET company_id = EXCLUDED.company_id, hour_label = EXCLUDED.hour_label,
           received = EXCLUDED.received,
           done = EXCLUDED.done, posted = EXCLUDED.posted,
           pending = EXCLUDED.pending, failed = EXCLUDED.failed,
           dead = EXCLUDED.dead, invalid = EXCLUDED.invalid,
           ignored = EXCLUDED.ignored, errors = EXCLUDED.errors,
           retries = EXCLUDED.retries, duplicates = EXCLUDED.duplicates,
           auth_failures = EXCLUDED.auth_failures,
           latency_p50 = EXCLUDED.latency_p50, latency_p95 = EXCLUDED.latency_p95,
           latency_max = EXCLUDED.latency_max, error_rate = EXCLUDED.error_rate,
           write_uid = EXCLUDED.write_uid, write_date = EXCLUDED.write_date
     WHERE (s.company_id, s.hour_label, s.received, s.done, s.posted, s.pending,
            s.failed, s.dead, s.invalid, s.ignored, s.retries, s.duplicates,
            s.auth_failures, s.latency_p50, s.latency_p95)
           IS DISTINCT FROM
           (EXCLUDED.company_id, EXCLUDED.hour_label, EXCLUDED.received,
            EXCLUDED.done, EXCLUDED.posted, EXCLUDED.pending, EXCLUDED.failed,
            EXCLUDED.dead, EXCLUDED.invalid,
            EXCLUDED.ignored, EXCLUDED.retries, EXCLUDED.duplicates,
            EXCLUDED.auth_failures, EXCLUDED.latency_p50, EXCLUDED.latency_p95)
    RETURNING s.id
)
SELECT (SELECT count(*) FROM touched), (SELECT count(*) FROM upserted),
       (SELECT count(*) FROM removed)
"""


class FiMessageStat(models.Model):
    """Hourly figures of the message log, per endpoint, flow and direction.

    The dashboards read these rows, never the message log itself: a dashboard
    over a million messages then reads a few thousand rows. A cron keeps them
    current incrementally (see ``_fi_refresh``); figures of an hour are those
    of the messages *received* in that hour, whatever became of them since.
    """

    _name = "fi.message.stat"
    _description = "Finance Integration Hourly Message Statistics"
    _order = "hour desc, endpoint_id, flow_id"
    _rec_name = "hour"

    hour = fields.Datetime(required=True, readonly=True, index=True)
    hour_label = fields.Char(
        "Hour (UTC)",
        readonly=True,
        help="The hour as text, to chart figures hour by hour (the web client "
        "groups dates by day at the finest).",
    )
    endpoint_id = fields.Many2one(
        "fi.endpoint", required=True, readonly=True, index=True, ondelete="cascade"
    )
    flow_id = fields.Many2one("fi.flow", readonly=True, index=True, ondelete="cascade")
    company_id = fields.Many2one(
        "res.company", required=True, readonly=True, index=True
    )
    direction = fields.Selection(
        [("in", "Inbound"), ("out", "Outbound")], required=True, readonly=True
    )
    owner_id = fields.Many2one(related="flow_id.owner_id", string="Flow Owner")
    received = fields.Integer("Received", readonly=True)
    done = fields.Integer(
        "Processed", readonly=True, help="Messages processed successfully."
    )
    posted = fields.Integer(
        readonly=True, help="Processed messages linked to an Odoo record."
    )
    pending = fields.Integer(
        "Waiting", readonly=True, help="Received, queued or waiting to retry."
    )
    failed = fields.Integer(readonly=True)
    dead = fields.Integer("Dead Letters", readonly=True)
    invalid = fields.Integer(
        "Invalid / Unroutable", readonly=True, help="Invalid payloads and unrouted."
    )
    ignored = fields.Integer(readonly=True)
    errors = fields.Integer(readonly=True, help="Failed + dead + invalid.")
    retries = fields.Integer(readonly=True, help="Tries beyond the first one.")
    duplicates = fields.Integer(
        "Duplicates Suppressed",
        readonly=True,
        help="Redeliveries of events first received in this hour, refused as "
        "duplicates.",
    )
    auth_failures = fields.Integer(
        "Authentication Failures", readonly=True, help="Refused webhooks."
    )
    latency_p50 = fields.Float(
        "Latency p50 (s)",
        readonly=True,
        digits=(16, 3),
        aggregator="avg",
        help="Median time from receipt to done of the hour's processed messages; "
        "grouped: the average of the hourly medians.",
    )
    latency_p95 = fields.Float(
        "Latency p95 (s)",
        readonly=True,
        digits=(16, 3),
        aggregator="max",
        help="95th percentile of the time from receipt to done; grouped: the "
        "worst hour.",
    )
    latency_max = fields.Float(
        "Latency max (s)", readonly=True, digits=(16, 3), aggregator="max"
    )
    error_rate = fields.Float(
        "Error Rate (%)",
        readonly=True,
        digits=(16, 1),
        aggregator="max",
        help="Errors / received in the hour; grouped: the worst hour.",
    )

    def init(self):
        cr = self.env.cr
        create_unique_index(
            cr,
            "fi_message_stat_bucket_uniq",
            self._table,
            ["hour", "endpoint_id", "(COALESCE(flow_id, 0))", "direction"],
        )
        # The refresh finds the hours to recompute through these. BRIN: rows
        # are appended in time order, a block-range summary serves these range
        # scans and costs a webhook almost nothing, unlike a btree entry.
        cr.execute("DROP INDEX IF EXISTS fi_message_create_date_idx")
        cr.execute("DROP INDEX IF EXISTS fi_message_write_date_idx")
        for column in ("create_date", "write_date"):
            cr.execute(
                f"CREATE INDEX IF NOT EXISTS fi_message_{column}_brin "
                f"ON fi_message USING brin ({column}) WITH (autosummarize = on)"
            )
        # keys live on the message row (fi_idempotency_key is a view of it)
        cr.execute(
            "CREATE INDEX IF NOT EXISTS fi_message_last_duplicate_idx "
            "ON fi_message (last_duplicate_at) WHERE duplicate_count > 0"
        )
        create_index(
            cr,
            "fi_security_event_create_date_idx",
            "fi_security_event",
            ["create_date"],
        )

    @api.model
    def _fi_refresh(self, full=False):
        """Recompute the hours touched since the last refresh in one statement.

        Idempotent: running it again changes nothing. ``full`` recomputes every
        hour that has a message. Returns ``(hours, rows_written, rows_removed)``.
        """
        self.env.flush_all()
        # one refresh at a time (cron, manual rebuild): a second one would only
        # redo the same work, or fail on the rows the first one writes
        self.env.cr.execute(
            "SELECT pg_try_advisory_xact_lock(hashtext('fi_message_stat_refresh'))"
        )
        if not self.env.cr.fetchone()[0]:
            _logger.info("message statistics: another refresh is running, skipped")
            return 0, 0, 0
        params = self.env["ir.config_parameter"].sudo()
        now = self.env.cr.now()
        last = params.get_param(LAST_RUN_PARAM)
        since = None
        if not full and last:
            since = fields.Datetime.to_datetime(last) - timedelta(
                minutes=OVERLAP_MINUTES
            )
        # the planner cannot know how few hours are touched: its estimate would
        # make PostgreSQL spend seconds compiling (JIT) a query of milliseconds
        self.env.cr.execute("SET LOCAL jit = off")
        if full:
            self.env.cr.execute("DELETE FROM fi_message_stat")
        self.env.cr.execute(
            REFRESH_SQL,
            {"since": since, "now": now, "recent": RECENT_HOURS, "uid": self.env.uid},
        )
        result = self.env.cr.fetchone()
        params.set_param(LAST_RUN_PARAM, fields.Datetime.to_string(now))
        self.env.invalidate_all()
        _logger.info(
            "message statistics refreshed: %s hours, %s rows written, %s removed",
            *result,
        )
        return result

    @api.model
    def _cron_fi_refresh(self):
        self._fi_refresh()

    @api.model
    def action_fi_rebuild(self):
        """Manager action: recompute every hour from the whole message log."""
        if not self.env.user.has_group("finance_integration_core.group_fi_manager"):
            raise AccessError(
                _("Only Finance Integration Managers may rebuild the statistics.")
            )
        hours, written, _removed = self.sudo()._fi_refresh(full=True)
        if not hours:
            raise UserError(
                _("The statistics are being refreshed: try again in a minute.")
            )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Statistics rebuilt"),
                "message": _(
                    "%(hours)s hours recomputed, %(rows)s rows.",
                    hours=hours,
                    rows=written,
                ),
                "type": "success",
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }
