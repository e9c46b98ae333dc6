# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import logging

from odoo import _, api, fields, models

from ..lib.errors import FiBusinessError

_logger = logging.getLogger(__name__)

#: rows updated per statement: short locks, steady progress
PURGE_BATCH = 10000


class FiEndpoint(models.Model):
    _inherit = "fi.endpoint"

    payload_retention_days = fields.Integer(
        "Keep Payloads (days)",
        default=90,
        help="Message bodies, headers and responses older than this are purged; "
        "metadata, hashes, states and links stay. Messages tied to an open "
        "exception or still being processed are never purged.",
    )

    _sql_constraints = [
        (
            "payload_retention_positive",
            "CHECK(payload_retention_days > 0)",
            "Payloads must be kept at least one day.",
        ),
    ]

    def _fi_purge_payloads(self):
        """Purge old payloads of these endpoints; returns {endpoint: count}."""
        self.env.flush_all()
        purged = {}
        for endpoint in self:
            total = 0
            while True:
                self.env.cr.execute(
                    """
                    UPDATE fi_message m
                       SET payload = NULL, payload_redacted = NULL,
                           headers_json = NULL, response_body = NULL,
                           payload_purged_at = now() at time zone 'UTC'
                     WHERE m.id IN (
                        SELECT id FROM fi_message
                         WHERE endpoint_id = %s
                           AND payload_purged_at IS NULL
                           AND create_date < (now() at time zone 'UTC')
                                             - %s * interval '1 day'
                           AND state NOT IN ('new', 'queued', 'retry')
                           AND NOT EXISTS (
                               SELECT 1 FROM fi_exception x
                                WHERE x.fi_message_id = fi_message.id
                                  AND x.state IN ('new', 'in_progress'))
                         LIMIT %s)
                    """,
                    (endpoint.id, endpoint.payload_retention_days, PURGE_BATCH),
                )
                total += self.env.cr.rowcount
                if self.env.cr.rowcount < PURGE_BATCH:
                    break
            if total:
                endpoint._message_log(
                    body=_(
                        "Purged the payloads of %(count)s messages older than "
                        "%(days)s days (hashes, states and links kept).",
                        count=total,
                        days=endpoint.payload_retention_days,
                    )
                )
                _logger.info(
                    "endpoint %s: purged payloads of %s messages", endpoint.id, total
                )
            purged[endpoint] = total
        self.env["fi.message"].invalidate_model(
            [
                "payload",
                "payload_redacted",
                "payload_display",
                "headers_json",
                "response_body",
                "payload_purged_at",
            ]
        )
        return purged

    @api.model
    def _cron_fi_purge_payloads(self):
        self.sudo().with_context(active_test=False).search([])._fi_purge_payloads()


class FiMessage(models.Model):
    _inherit = "fi.message"

    payload_purged_at = fields.Datetime(
        readonly=True, help="When the retention policy removed the payload."
    )

    def _fi_document(self):
        if self.payload_purged_at:
            raise FiBusinessError(
                _(
                    "The payload of %(message)s was purged on %(date)s by the "
                    "retention policy: it cannot be processed again.",
                    message=self.display_name,
                    date=self.payload_purged_at,
                ),
                "payload_purged",
            )
        return super()._fi_document()
