# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Accounting records and the chain: the "Audit Trail" of a journal entry,
payment or bank statement line, and the records that message processing
created or changed besides its main record (each named by an event)."""

from odoo import _, api, fields, models
from odoo.osv import expression

#: {(model, id): "created" | "changed"} of the accounting records touched
#: since the current message's handler started (fi.message._fi_run_handler)
TOUCHED = "fi_audit_touched"


def note_touched(records, change):
    """Remember ``records`` as touched by the running handler, if any; a
    record created by it stays "created" whatever it changed on it since
    (``create`` itself writes on what it creates)."""
    touched = records.env.cr.cache.get(TOUCHED)
    if touched is None or not records:
        return
    for record_id in records.ids:
        key = (records._name, record_id)
        if change == "created" or key not in touched:
            touched[key] = change


class FiAuditTraceMixin(models.AbstractModel):
    """The audit trail of a record: the events that name it (as their record)
    or carry its correlation id."""

    _name = "fi.audit.trace.mixin"
    _description = "Finance Integration Audit: trail of a record"

    fi_audit_event_count = fields.Integer(
        "Audit Events",
        compute="_compute_fi_audit_event_count",
        groups="finance_integration_audit.group_fi_auditor",
    )

    def _fi_audit_trace_records(self):
        """The records whose events belong to this one's trail."""
        self.ensure_one()
        return [self]

    def _fi_audit_trace_domain(self):
        self.ensure_one()
        domains = [
            [("res_model", "=", record._name), ("res_id", "in", record.ids)]
            for record in self._fi_audit_trace_records()
            if record
        ]
        if "fi_correlation_id" in self._fields and self.fi_correlation_id:
            domains.append([("correlation_id", "=", self.fi_correlation_id)])
        return expression.OR(domains)

    def _compute_fi_audit_event_count(self):
        events = self.env["fi.audit.event"]
        for record in self:
            record.fi_audit_event_count = (
                events.search_count(record._fi_audit_trace_domain()) if record.id else 0
            )

    def action_fi_audit_trace(self):
        self.ensure_one()
        return self.env["fi.audit.event"]._fi_trace_action(
            self._fi_audit_trace_domain(),
            _("Audit trail of %s", self.display_name),
        )


class TouchedRecords(models.AbstractModel):
    """Creations and changes noted for the running message handler."""

    _name = "fi.audit.touched.mixin"
    _description = "Finance Integration Audit: records touched by processing"

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        note_touched(records, "created")
        return records

    def write(self, vals):
        res = super().write(vals)
        note_touched(self, "changed")
        return res


class AccountMove(models.Model):
    _name = "account.move"
    _inherit = ["account.move", "fi.audit.trace.mixin", "fi.audit.touched.mixin"]

    def _fi_audit_trace_records(self):
        self.ensure_one()
        return [self, self.statement_line_id, self.origin_payment_id]


class AccountPayment(models.Model):
    _name = "account.payment"
    _inherit = ["account.payment", "fi.audit.trace.mixin", "fi.audit.touched.mixin"]

    def _fi_audit_trace_records(self):
        self.ensure_one()
        return [self, self.move_id]


class AccountBankStatementLine(models.Model):
    _name = "account.bank.statement.line"
    _inherit = [
        "account.bank.statement.line",
        "fi.audit.trace.mixin",
        "fi.audit.touched.mixin",
    ]

    def _fi_audit_trace_records(self):
        self.ensure_one()
        return [self, self.move_id]


class AccountPartialReconcile(models.Model):
    """A reconciliation changes both entries it matches (their payment state
    is computed, not written)."""

    _name = "account.partial.reconcile"
    _inherit = ["account.partial.reconcile"]

    @api.model_create_multi
    def create(self, vals_list):
        partials = super().create(vals_list)
        moves = partials.debit_move_id.move_id | partials.credit_move_id.move_id
        note_touched(moves, "changed")
        return partials
