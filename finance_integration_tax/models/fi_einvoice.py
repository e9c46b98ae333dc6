# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import base64
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.finance_integration_core.lib.errors import (
    FiBusinessError,
    FiTransientError,
)
from odoo.addons.finance_integration_core.lib.hashing import sha256_hex

from ..lib import clearance as clr

DOC_STATES = [
    ("invalid", "Invalid (not sent)"),
    ("to_submit", "To Submit"),
    ("submitted", "Submitted"),
    ("received", "Received"),
    ("accepted", "Accepted"),
    ("cleared", "Cleared"),
    ("rejected", "Rejected"),
    ("paid", "Paid"),
    ("superseded", "Superseded"),
]


class FiEinvoiceDocument(models.Model):
    """One version of the e-invoice of an invoice, as submitted: immutable."""

    _name = "fi.einvoice.document"
    _description = "E-invoice Document Version"
    _order = "move_id, version desc"

    move_id = fields.Many2one(
        "account.move", required=True, ondelete="restrict", index=True, readonly=True
    )
    company_id = fields.Many2one(related="move_id.company_id", store=True)
    endpoint_id = fields.Many2one("fi.endpoint", required=True, readonly=True)
    version = fields.Integer(required=True, readonly=True)
    sha256 = fields.Char("SHA-256", required=True, readonly=True, index=True)
    attachment_id = fields.Many2one("ir.attachment", readonly=True, ondelete="restrict")
    idempotency_key = fields.Char(readonly=True)
    platform_id = fields.Char("Platform Document Id", readonly=True, index=True)
    state = fields.Selection(
        DOC_STATES, default="to_submit", required=True, readonly=True
    )
    submitted_at = fields.Datetime(readonly=True)
    last_status_at = fields.Datetime(readonly=True)
    reasons = fields.Text(readonly=True)
    business_status = fields.Selection(
        [("accepted", "Accepted by buyer"), ("rejected", "Rejected by buyer")],
        readonly=True,
    )
    business_reason = fields.Text(readonly=True)
    fi_correlation_id = fields.Char("Correlation Id", readonly=True)
    message_id = fields.Many2one("fi.message", "Submission Message", readonly=True)
    status_ids = fields.One2many("fi.einvoice.status", "document_id", readonly=True)

    _sql_constraints = [
        (
            "version_unique",
            "unique(move_id, version)",
            "An invoice has one e-invoice document per version.",
        ),
    ]

    def write(self, vals):
        frozen = {"sha256", "attachment_id", "version", "move_id"} & set(vals)
        if frozen and not self.env.context.get("fi_einvoice_internal"):
            raise UserError(
                _(
                    "The submitted e-invoice document is immutable (%s).",
                    ", ".join(sorted(frozen)),
                )
            )
        return super().write(vals)

    def _fi_xml(self):
        self.ensure_one()
        return base64.b64decode(self.attachment_id.sudo().datas or b"")

    def _fi_verify(self):
        """True when the archived document still matches its stored hash."""
        self.ensure_one()
        return sha256_hex(self._fi_xml()) == self.sha256

    # ------------------------------------------------------------------
    # submission (job)
    # ------------------------------------------------------------------
    def _fi_submit_now(self, message):
        self.ensure_one()
        if self.platform_id:
            return self.move_id  # already on the platform: never a second one
        endpoint = self.endpoint_id
        move = self.move_id
        body = clr.submit_body(move.name, self.version, self.sha256, self._fi_xml())
        try:
            answer = endpoint._fi_clearance_call(
                "POST",
                "documents",
                body,
                {
                    "Idempotency-Key": self.idempotency_key,
                    "X-Correlation-ID": message.correlation_id,
                },
            )
        except clr.ClearanceError as err:
            self._fi_raise(err, move, message)
        except FiTransientError as err:
            self._fi_check_hold(message, err)
            raise
        update = clr.StatusUpdate(
            document_id=str(answer.get("id") or ""),
            status=answer.get("status") or "submitted",
        )
        if not update.document_id:
            raise FiBusinessError(
                _("%s answered the submission without a document id.", endpoint.name),
                "business_rule",
            )
        self.with_context(fi_einvoice_internal=True).write(
            {"platform_id": update.document_id, "submitted_at": fields.Datetime.now()}
        )
        message.external_id = update.document_id
        self._fi_apply_status(
            clr.StatusUpdate(update.document_id, "submitted"),
            "submission",
            message=message,
        )
        if update.status != "submitted":
            self._fi_apply_status(update, "submission", message=message)
        self.env["fi.audit"]._fi_event(
            "einvoice.submitted",
            _("E-invoice %(name)s v%(v)s submitted", name=move.name, v=self.version),
            record=move,
            message=message,
            endpoint=endpoint,
            facts={
                "sha256": self.sha256,
                "version": self.version,
                "platform_id": update.document_id,
            },
        )
        return move

    def _fi_raise(self, err, move, message):
        if err.outcome in (clr.TRANSIENT, clr.NOT_READY):
            transient = FiTransientError(str(err), "clearance_unavailable")
            self._fi_check_hold(message, transient)
            raise transient
        if err.outcome == clr.PRECONDITION:
            raise FiBusinessError(
                _(
                    "%(error)s. Fix it on invoice %(move)s, then retry.",
                    error=err,
                    move=move.name,
                ),
                "precondition",
            )
        raise FiBusinessError(str(err), err.code or "clearance_refused")

    def _fi_check_hold(self, message, err):
        """Queue policy: past the max hold, finance hears about it (the
        message keeps being retried)."""
        company = self.move_id.company_id
        hours = company.fi_clearance_max_hold_hours or 0
        if hours and message.create_date < fields.Datetime.now() - timedelta(
            hours=hours
        ):
            err.fi_escalate = (
                "clearance_overdue",
                _(
                    "E-invoice %(name)s could not be submitted for %(h)s hours: the "
                    "clearance platform does not answer.",
                    name=self.move_id.name,
                    h=hours,
                ),
                "technical",
            )

    # ------------------------------------------------------------------
    # status
    # ------------------------------------------------------------------
    def _fi_poll_status(self):
        self.ensure_one()
        if self.state not in ("submitted", "received"):
            return f"nothing to poll: {self.state}"
        self._fi_check_ack_deadline()
        try:
            answer = self.endpoint_id._fi_clearance_call(
                "GET", f"documents/{self.platform_id}"
            )
        except clr.ClearanceError as err:
            if err.outcome in (clr.NOT_READY, clr.TRANSIENT):
                return f"not ready: {err}"
            raise FiBusinessError(str(err), err.code or "clearance_refused") from None
        update = clr.parse_status(answer)
        self._fi_apply_status(update, "polling")
        return f"{self.platform_id}: {self.state}"

    def _fi_check_ack_deadline(self):
        for doc in self.filtered(lambda d: d.state == "submitted" and d.submitted_at):
            hours = doc.company_id.fi_clearance_ack_hours or 0
            late = fields.Datetime.now() - timedelta(hours=hours)
            if hours and doc.submitted_at < late and doc.message_id:
                doc.message_id._fi_open_exception(
                    "ack_timeout",
                    _(
                        "E-invoice %(name)s (platform id %(id)s) is still 'submitted' "
                        "%(h)s hours after submission: the platform did not "
                        "acknowledge it.",
                        name=doc.move_id.name,
                        id=doc.platform_id,
                        h=hours,
                    ),
                )

    @api.model
    def _cron_fi_check_ack_deadline(self):
        self.search([("state", "=", "submitted")])._fi_check_ack_deadline()

    def _fi_apply_status(self, update, source, message=None):
        """Apply one platform status (and buyer response); duplicates and late
        older news change nothing. Every change is kept in the history."""
        self.ensure_one()
        move = self.move_id
        changed = False
        new = clr.next_state(
            self.state if self.state != "to_submit" else None, update.status
        )
        history = self.env["fi.einvoice.status"].sudo()
        now = fields.Datetime.now()
        if new:
            changed = True
            self.with_context(fi_einvoice_internal=True).write(
                {
                    "state": new,
                    "last_status_at": now,
                    "reasons": "\n".join(update.reasons) or self.reasons,
                }
            )
            history.create(
                {
                    "document_id": self.id,
                    "kind": "platform",
                    "status": new,
                    "source": source,
                    "occurred_at": update.occurred_at or False,
                    "event_id": update.event_id or False,
                    "reasons": "\n".join(update.reasons) or False,
                    "message_id": message.id if message else False,
                }
            )
            move.sudo().with_context(fi_einvoice_internal=True).write(
                {"fi_einvoice_state": new}
            )
            self.env["fi.audit"]._fi_event(
                f"einvoice.{new}",
                _(
                    "E-invoice %(name)s v%(v)s %(state)s (%(origin)s)",
                    name=move.name,
                    v=self.version,
                    state=new,
                    origin=source,
                ),
                record=move,
                message=message,
                endpoint=self.endpoint_id,
                facts={
                    "platform_id": self.platform_id,
                    "status": new,
                    "source": source,
                    "reasons": update.reasons,
                },
            )
            if new == "rejected":
                self._fi_on_rejected(update, message)
        if update.business_status and update.business_status != self.business_status:
            changed = True
            self.with_context(fi_einvoice_internal=True).write(
                {
                    "business_status": update.business_status,
                    "business_reason": update.business_reason or False,
                }
            )
            history.create(
                {
                    "document_id": self.id,
                    "kind": "buyer",
                    "status": update.business_status,
                    "source": source,
                    "occurred_at": update.occurred_at or False,
                    "event_id": update.event_id or False,
                    "reasons": update.business_reason or False,
                    "message_id": message.id if message else False,
                }
            )
            move.sudo().with_context(fi_einvoice_internal=True).write(
                {"fi_einvoice_business_status": update.business_status}
            )
            self.env["fi.audit"]._fi_event(
                f"einvoice.buyer_{update.business_status}",
                _(
                    "Buyer %(s)s e-invoice %(name)s",
                    s=update.business_status,
                    name=move.name,
                ),
                record=move,
                message=message,
                endpoint=self.endpoint_id,
                facts={
                    "platform_id": self.platform_id,
                    "status": update.business_status,
                },
            )
        return changed

    def _fi_on_rejected(self, update, message):
        # on the submission message: a webhook message closes its own
        # exceptions when it is processed successfully
        target = self.message_id or message
        if target:
            target._fi_open_exception(
                "clearance_rejected",
                _(
                    "E-invoice %(name)s v%(v)s was rejected by the platform: "
                    "%(reasons)s. Correct the invoice (reset to draft) and validate "
                    "it again: a new version is submitted.",
                    name=self.move_id.name,
                    v=self.version,
                    reasons="; ".join(update.reasons) or _("no reason given"),
                ),
            )


class FiEinvoiceStatus(models.Model):
    """One transition of an e-invoice: platform verdict or buyer response."""

    _name = "fi.einvoice.status"
    _description = "E-invoice Status History"
    _order = "create_date desc, id desc"

    document_id = fields.Many2one(
        "fi.einvoice.document", required=True, ondelete="cascade", index=True
    )
    move_id = fields.Many2one(related="document_id.move_id", store=True, index=True)
    company_id = fields.Many2one(related="document_id.company_id", store=True)
    version = fields.Integer(related="document_id.version")
    kind = fields.Selection(
        [("platform", "Platform"), ("buyer", "Buyer response")], required=True
    )
    status = fields.Char(required=True)
    source = fields.Selection(
        [
            ("submission", "Submission answer"),
            ("webhook", "Webhook"),
            ("polling", "Polling"),
        ],
        required=True,
    )
    occurred_at = fields.Char(help="Time of the transition as the platform said.")
    event_id = fields.Char()
    reasons = fields.Text()
    message_id = fields.Many2one("fi.message", ondelete="set null")
