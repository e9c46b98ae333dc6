# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Vendor payments out as a SEPA pain.001 file, and their pain.002 status back."""

import base64

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..lib import pain


class AccountPayment(models.Model):
    _inherit = "account.payment"

    fi_end_to_end_id = fields.Char(
        "EndToEndId", readonly=True, copy=False, index="btree_not_null"
    )
    fi_order_id = fields.Many2one(
        "fi.bank.payment.order", "Payment File", readonly=True, copy=False
    )
    fi_bank_status = fields.Selection(
        [("sent", "Sent"), ("accepted", "Accepted"), ("rejected", "Rejected")],
        "Bank Status",
        readonly=True,
        copy=False,
    )
    fi_bank_reason = fields.Char("Bank Reason", readonly=True, copy=False)

    def action_fi_reissue(self):
        """Make a rejected or corrected payment exportable again (new EndToEndId)."""
        self.write(
            {"fi_order_id": False, "fi_bank_status": False, "fi_end_to_end_id": False}
        )


class FiBankPaymentOrder(models.Model):
    _name = "fi.bank.payment.order"
    _description = "SEPA Payment File"
    _inherit = ["mail.thread"]
    _order = "id desc"

    name = fields.Char(
        required=True, readonly=True, default=lambda self: _("New"), copy=False
    )
    journal_id = fields.Many2one(
        "account.journal", required=True, domain=[("type", "=", "bank")]
    )
    company_id = fields.Many2one(related="journal_id.company_id", store=True)
    schema = fields.Selection(
        [
            ("pain.001.001.09", "pain.001.001.09"),
            ("pain.001.001.03", "pain.001.001.03 (older banks)"),
        ],
        default="pain.001.001.09",
        required=True,
    )
    payment_ids = fields.One2many(
        "account.payment", "fi_order_id", "Payments", readonly=True
    )
    amount_total = fields.Monetary(
        compute="_compute_amount_total", currency_field="currency_id"
    )
    currency_id = fields.Many2one(related="journal_id.fi_currency_id")
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("to_approve", "Waiting Approval"),
            ("approved", "Approved"),
            ("exported", "Exported"),
        ],
        default="draft",
        readonly=True,
        tracking=True,
    )
    approved_by_id = fields.Many2one("res.users", readonly=True)
    file_data = fields.Binary("File", readonly=True, attachment=True)
    file_name = fields.Char(readonly=True)
    fi_correlation_id = fields.Char(readonly=True)

    @api.depends("payment_ids.amount")
    def _compute_amount_total(self):
        for order in self:
            order.amount_total = sum(order.payment_ids.mapped("amount"))

    @api.model
    def _fi_create_for(self, payments, journal, schema="pain.001.001.09"):
        """An order with the outbound payments not exported yet (idempotent: a
        payment already in a file is left out until re-issued)."""
        todo = payments.filtered(
            lambda p: (
                p.payment_type == "outbound"
                and not p.fi_order_id
                and p.state in ("in_process", "paid")
            )
        )
        if not todo:
            raise UserError(_("No payment left to export: all were exported already."))
        order = self.create({"journal_id": journal.id, "schema": schema})
        order.name = f"PAIN-{order.id:06d}"
        for payment in todo:
            payment.write(
                {
                    "fi_order_id": order.id,
                    "fi_end_to_end_id": f"{order.name}-{payment.id}",
                }
            )
        return order

    def action_submit(self):
        for order in self:
            threshold = order.journal_id.fi_payment_approval_amount or 0.0
            order.state = "to_approve" if order.amount_total > threshold else "approved"

    def action_approve(self):
        for order in self:
            if order.state != "to_approve":
                raise UserError(_("%s waits for no approval.", order.name))
            if self.env.user == order.create_uid:
                raise UserError(
                    _(
                        "%s must be approved by another user than its author.",
                        order.name,
                    )
                )
            order.write({"state": "approved", "approved_by_id": self.env.user.id})

    def action_export(self):
        for order in self:
            if order.state not in ("approved", "exported"):
                raise UserError(_("%s must be approved before export.", order.name))
            if order.state == "exported":
                continue  # idempotent: the file is already there
            bank = order.journal_id.bank_account_id
            if not bank:
                raise UserError(
                    _("Journal %s has no bank account.", order.journal_id.display_name)
                )
            payments = []
            for payment in order.payment_ids:
                partner_bank = payment.partner_bank_id
                if not partner_bank:
                    raise UserError(
                        _("Payment %s has no recipient bank account.", payment.name)
                    )
                payments.append(
                    pain.Payment(
                        end_to_end_id=payment.fi_end_to_end_id,
                        amount_cents=round(payment.amount * 100),
                        name=payment.partner_id.name,
                        iban=partner_bank.acc_number,
                        bic=partner_bank.bank_bic or "",
                        text=payment.memo or payment.name,
                        execution_date=payment.date,
                    )
                )
            data = pain.write_pain001(
                {
                    "name": order.company_id.name,
                    "iban": bank.acc_number,
                    "bic": bank.bank_bic or "",
                    "currency": order.currency_id.name,
                },
                payments,
                schema=order.schema,
                msg_id=order.name,
            )
            order.write(
                {
                    "file_data": base64.b64encode(data),
                    "file_name": f"{order.name}.xml",
                    "state": "exported",
                }
            )
            order.payment_ids.write({"fi_bank_status": "sent"})
            self.env["fi.audit"]._fi_event(
                "payment_file.exported",
                _("%(n)s exported with %(c)s payments", n=order.name, c=len(payments)),
                record=order,
                correlation_id=order.fi_correlation_id,
                facts={
                    "payments": len(payments),
                    "total": str(order.amount_total),
                    "schema": order.schema,
                },
            )

    @api.model
    def _fi_import_status(self, statuses, file_record):
        """Apply a pain.002 report; rejections open an exception each."""
        Payment = self.env["account.payment"]
        out = []
        for status in statuses:
            payments = (
                Payment.search([("fi_end_to_end_id", "=", status.end_to_end_id)])
                if status.end_to_end_id
                else (self.search([("name", "=", status.original_msg_id)]).payment_ids)
            )
            if not payments:
                raise UserError(
                    _(
                        "%(f)s: no exported payment with EndToEndId %(e)s",
                        f=file_record.name,
                        e=status.end_to_end_id,
                    )
                )
            if status.rejected:
                payments.write(
                    {
                        "fi_bank_status": "rejected",
                        "fi_bank_reason": (
                            f"{status.reason_code} {status.reason_text}".strip()
                        ),
                    }
                )
                for payment in payments:
                    payment.journal_id._fi_open_exception(
                        payment,
                        "bank.payment.rejected",
                        _(
                            "Payment %(p)s rejected by the bank: %(c)s %(t)s",
                            p=payment.name,
                            c=status.reason_code,
                            t=status.reason_text,
                        ),
                        file_record.fi_correlation_id,
                    )
            elif status.status in ("ACCP", "ACSC", "ACSP", "ACTC", "ACWC"):
                payments.write({"fi_bank_status": "accepted", "fi_bank_reason": False})
            out.append(
                f"{status.end_to_end_id}: {status.status} {status.reason_code}".strip()
            )
        return "\n".join(out)
