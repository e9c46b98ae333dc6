# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import logging

from odoo import _, api, fields, models
from odoo.exceptions import AccessError

from ..lib.errors import FiBusinessError

_logger = logging.getLogger(__name__)

#: rows updated per statement: short locks, steady progress
PURGE_BATCH = 10000


class FiEndpoint(models.Model):
    _inherit = "fi.endpoint"

    payload_retention_days = fields.Integer(
        "Keep Payloads (days)",
        default=lambda self: self.env.company.fi_payload_retention_days or 90,
        help="Message bodies, headers and responses older than this are purged; "
        "metadata, hashes, states and links stay. Messages tied to an open "
        "exception or still being processed are never purged.",
    )

    legal_hold = fields.Boolean(
        tracking=True,
        copy=False,
        help="While set, no payload of this endpoint is purged (litigation, "
        "audit, tax inspection), whatever the retention says.",
    )
    legal_hold_reason = fields.Char(tracking=True, copy=False)

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
            if endpoint.legal_hold:
                purged[endpoint] = 0
                continue
            while True:
                self.env.cr.execute(
                    """
                    UPDATE fi_message m
                       SET payload = NULL,
                           headers_json = NULL, response_body = NULL,
                           payload_purged_at = now() at time zone 'UTC'
                     WHERE m.id IN (
                        SELECT id FROM fi_message
                         WHERE endpoint_id = %s
                           AND payload_purged_at IS NULL
                           AND create_date < (now() at time zone 'UTC')
                                             - %s * interval '1 day'
                           AND state NOT IN ('new', 'queued', 'retry')
                           AND legal_hold IS NOT TRUE
                           AND (legal_value IS NOT TRUE
                                OR create_date < (now() at time zone 'UTC')
                                                 - %s * interval '1 year')
                           AND NOT EXISTS (
                               SELECT 1 FROM fi_exception x
                                WHERE x.fi_message_id = fi_message.id
                                  AND x.state IN ('new', 'in_progress'))
                         LIMIT %s)
                    """,
                    (
                        endpoint.id,
                        endpoint.payload_retention_days,
                        endpoint.company_id.fi_legal_retention_years,
                        PURGE_BATCH,
                    ),
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
    legal_value = fields.Boolean(
        readonly=True,
        copy=False,
        help="A record of legal value (a submitted e-invoice, a bank file, an "
        "audit segment): its payload is kept for the company's legal retention "
        "whatever the payload retention says. Connectors set it with "
        "message._fi_mark_legal_value().",
    )
    legal_hold = fields.Boolean(
        readonly=True,
        copy=False,
        help="While set, this message's payload is never purged.",
    )

    def _fi_mark_legal_value(self):
        """Connector hook: these messages are records of legal value."""
        self.sudo().write({"legal_value": True})

    def action_fi_set_legal_hold(self):
        self._fi_check_legal_hold_rights()
        self.sudo().write({"legal_hold": True})
        for message in self:
            self.env["fi.audit"]._fi_event(
                "legal_hold_set",
                _("Legal hold set by %s.", self.env.user.name),
                message=message,
                company=message.company_id,
            )
        return True

    def action_fi_lift_legal_hold(self):
        self._fi_check_legal_hold_rights()
        self.sudo().write({"legal_hold": False})
        for message in self:
            self.env["fi.audit"]._fi_event(
                "legal_hold_lifted",
                _("Legal hold lifted by %s.", self.env.user.name),
                message=message,
                company=message.company_id,
            )
        return True

    def _fi_check_legal_hold_rights(self):
        if not self.env.user.has_group("finance_integration_core.group_fi_manager"):
            raise AccessError(
                _("Only Finance Integration Managers may set or lift a legal hold.")
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
