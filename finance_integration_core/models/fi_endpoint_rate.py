# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Outbound rate limit per endpoint, held across every worker and server.

One row per endpoint in ``fi_endpoint_rate_slot`` holds the earliest time the
next request may start (a GCRA "theoretical arrival time"). A sender reserves
its slot with one atomic upsert in its own short transaction, committed at
once (the row lock is held for microseconds, not for the job): the database
serializes the reservations of every process on every server, so two requests
never share a slot. The sender then waits for its slot; a slot further away
than the endpoint's maximum wait is not taken and the message is retried then
(a transient failure carrying the wait as Retry-After). A 429 answer pushes
the next slot of every sender past its Retry-After.
"""

import logging
import time

from psycopg2 import errors as pg_errors

from odoo import _, api, fields, models
from odoo.tools import mute_logger

from ..lib.backoff import parse_retry_after
from ..lib.errors import FiTransientError

_logger = logging.getLogger(__name__)

#: a reservation lost to a concurrent one is tried again, this many times
RESERVE_TRIES = 20

RESERVE_SQL = """
INSERT INTO fi_endpoint_rate_slot AS s (endpoint_id, next_at)
VALUES (%(id)s, clock_timestamp() + %(spacing)s * interval '1 second')
ON CONFLICT (endpoint_id) DO UPDATE
   SET next_at = GREATEST(s.next_at, clock_timestamp())
                 + %(spacing)s * interval '1 second'
 WHERE s.next_at <= clock_timestamp() + %(max_wait)s * interval '1 second'
RETURNING EXTRACT(EPOCH FROM
    s.next_at - %(spacing)s * interval '1 second' - clock_timestamp())
"""


def reserve_slot(cr, endpoint_id, per_second, max_wait):
    """Reserve the next request slot of an endpoint on ``cr`` (commit it at
    once); returns the seconds to wait for it, or None when it is further than
    ``max_wait`` seconds (not taken)."""
    params = {"id": endpoint_id, "spacing": 1.0 / per_second, "max_wait": max_wait}
    for _try in range(RESERVE_TRIES):
        try:
            # Odoo's transactions are REPEATABLE READ: two senders upserting
            # the row at the same moment make one fail; it tries again in a
            # new transaction, which sees the other's slot
            with mute_logger("odoo.sql_db"):
                cr.execute(RESERVE_SQL, params)
            break
        except pg_errors.SerializationFailure:
            cr.rollback()
    else:
        raise FiTransientError(
            f"endpoint {endpoint_id}: no rate-limit slot after {RESERVE_TRIES} "
            "concurrent tries",
            "database_concurrency",
        )
    row = cr.fetchone()
    return max(0.0, float(row[0])) if row else None


class FiEndpointRate(models.Model):
    _inherit = "fi.endpoint"

    rate_limit_per_second = fields.Float(
        "Max Requests per Second",
        default=0.0,
        digits=(16, 3),
        help="Outbound requests of this endpoint start at most this often, "
        "counted across every worker and server (0: no limit). A 429 answer "
        "pauses every sender until its Retry-After.",
    )
    rate_max_wait_seconds = fields.Integer(
        "Max Wait for a Slot (s)",
        default=30,
        help="A request waits this long at most for its slot; beyond, its "
        "message is retried when the slot comes (nothing is dropped).",
    )

    def init(self):
        super().init()
        # no foreign key: reservations must never lock the endpoint row
        self.env.cr.execute(
            """
            CREATE TABLE IF NOT EXISTS fi_endpoint_rate_slot (
                endpoint_id integer PRIMARY KEY,
                next_at timestamptz NOT NULL
            )
            """
        )

    @api.model
    def _fi_rate_reserve(self, endpoint_id, per_second, max_wait):
        """Reserve the next request slot of an endpoint; returns the seconds to
        wait for it, or None when it is further than ``max_wait`` (not taken).
        Runs in its own transaction, committed at once."""
        with self.env.registry.cursor() as cr:
            return reserve_slot(cr, endpoint_id, per_second, max_wait)

    @api.model
    def _fi_rate_next_wait(self, endpoint_id):
        with self.env.registry.cursor() as cr:
            cr.execute(
                "SELECT EXTRACT(EPOCH FROM next_at - clock_timestamp()) "
                "FROM fi_endpoint_rate_slot WHERE endpoint_id = %s",
                (endpoint_id,),
            )
            row = cr.fetchone()
        return max(0.0, float(row[0])) if row else 0.0

    @api.model
    def _fi_rate_pause(self, endpoint_id, seconds):
        """Nobody sends on this endpoint for ``seconds`` (a 429's Retry-After)."""
        with self.env.registry.cursor() as cr:
            cr.execute(
                """
                INSERT INTO fi_endpoint_rate_slot AS s (endpoint_id, next_at)
                VALUES (%(id)s, clock_timestamp() + %(s)s * interval '1 second')
                ON CONFLICT (endpoint_id) DO UPDATE
                   SET next_at = GREATEST(s.next_at, EXCLUDED.next_at)
                """,
                {"id": endpoint_id, "s": seconds},
            )

    def _fi_rate_wait(self):
        """Wait for this endpoint's next slot (or raise a transient error to
        retry when it comes)."""
        self.ensure_one()
        if self.rate_limit_per_second <= 0:
            return
        max_wait = max(0, self.rate_max_wait_seconds)
        wait = self._fi_rate_reserve(self.id, self.rate_limit_per_second, max_wait)
        if wait is None:
            later = self._fi_rate_next_wait(self.id)
            raise FiTransientError(
                _(
                    "Endpoint %(endpoint)s is at its rate limit (%(rate)s requests "
                    "per second): the next slot is in %(wait).0f s.",
                    endpoint=self.name,
                    rate=self.rate_limit_per_second,
                    wait=later,
                ),
                "rate_limited",
                retry_after=later,
            )
        if wait > 0:
            time.sleep(wait)

    def _fi_request(self, method, url, body, headers):
        self.ensure_one()
        self._fi_rate_wait()
        result = super()._fi_request(method, url, body, headers)
        if result.status == 429 and self.rate_limit_per_second > 0:
            headers_ = {k.lower(): v for k, v in (result.headers or {}).items()}
            pause = parse_retry_after(headers_.get("retry-after"))
            if pause is None:
                pause = (
                    1.0 / self.rate_limit_per_second
                    if self.rate_limit_per_second
                    else 1.0
                )
            self._fi_rate_pause(self.id, pause)
            _logger.info("endpoint %s answered 429: senders pause %ss", self.id, pause)
        return result
