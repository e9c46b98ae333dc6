# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import _, fields, models


class AccountJournal(models.Model):
    _inherit = "account.journal"

    fi_owner_id = fields.Many2one(
        "res.users",
        "Statement Owner",
        help="Alerted when a statement is held or a line stays unmatched.",
    )
    fi_endpoint_id = fields.Many2one(
        "fi.endpoint",
        "Bank Endpoint",
        domain=[("provider", "=", "bank")],
        help="Carries the journal's exceptions and scheduled sources (created "
        "on first need).",
    )
    fi_split_batches = fields.Boolean(
        "Split Batched Entries",
        default=True,
        help="Default: on. A batched camt entry becomes one line per transaction "
        "detail (when the details add up to the entry); off: one line per entry.",
    )
    fi_auto_reconcile_score = fields.Integer(
        "Auto-Reconcile Score",
        default=90,
        help="Default 90: a unique proposal at or above this score is reconciled "
        "automatically (100 = reference and amount).",
    )
    fi_tolerance_amount = fields.Monetary(
        "Tolerance Amount",
        currency_field="fi_currency_id",
        default=1.0,
        help="Default 1.00: a difference up to this amount (and the percentage) "
        "is written off.",
    )
    fi_tolerance_percent = fields.Float(
        "Tolerance %", default=0.5, help="Default 0.5 % of the matched amount."
    )
    fi_writeoff_account_id = fields.Many2one(
        "account.account", "Write-off Account", check_company=True
    )
    fi_writeoff_approval_amount = fields.Monetary(
        "Write-off Needs Approval Above",
        currency_field="fi_currency_id",
        default=0.5,
        help="Default 0.50: a larger write-off waits for a second user.",
    )
    fi_manual_approval_amount = fields.Monetary(
        "Manual Match Needs Approval Above",
        currency_field="fi_currency_id",
        default=10000.0,
        help="Default 10,000: a manual match of a larger line waits for a second user.",
    )
    fi_payment_approval_amount = fields.Monetary(
        "Payment File Needs Approval Above",
        currency_field="fi_currency_id",
        default=10000.0,
    )
    fi_unmatched_alert_days = fields.Integer("Alert Unmatched After (days)", default=5)
    fi_date_window = fields.Integer("Matching Date Window (days)", default=30)
    fi_csv_profile_id = fields.Many2one("fi.bank.csv.profile", "CSV Profile")
    fi_currency_id = fields.Many2one("res.currency", compute="_compute_fi_currency_id")
    fi_statement_file_ids = fields.One2many(
        "fi.bank.statement.file", "journal_id", "Statement Files"
    )

    def _compute_fi_currency_id(self):
        for journal in self:
            journal.fi_currency_id = (
                journal.currency_id or journal.company_id.currency_id
            )

    def _fi_bank_endpoint(self):
        """The journal's bank endpoint, created on first need."""
        self.ensure_one()
        if not self.fi_endpoint_id:
            endpoint = (
                self.env["fi.endpoint"]
                .sudo()
                .create(
                    {
                        "name": _("Bank: %s", self.display_name),
                        "provider": "bank",
                        "company_id": self.company_id.id,
                        "fi_bank_journal_id": self.id,
                        "responsible_id": self.fi_owner_id.id or False,
                    }
                )
            )
            self.sudo().fi_endpoint_id = endpoint
        return self.fi_endpoint_id

    def _fi_open_exception(self, record, event_type, detail, correlation_id=None):
        """A finance exception about ``record`` (every fi.exception hangs on a
        fi.message: one is logged on the journal's bank endpoint)."""
        self.ensure_one()
        endpoint = self._fi_bank_endpoint()
        message = (
            self.env["fi.message"]
            .sudo()
            .create(
                {
                    "endpoint_id": endpoint.id,
                    "company_id": self.company_id.id,
                    "direction": "in",
                    "state": "failed",
                    "event_type": event_type,
                    "correlation_id": correlation_id or False,
                    "res_model": record._name,
                    "res_id": record.id,
                    "error_message": detail,
                }
            )
        )
        # the event type doubles as the detailed error code of the exception
        item = message._fi_open_exception(event_type.replace(".", "_"), detail)
        if self.fi_owner_id and not item.user_id:
            item.user_id = self.fi_owner_id
        return item

    def _fi_alert_owner(self, record, summary, note):
        self.ensure_one()
        owner = self.fi_owner_id
        if owner and hasattr(record, "activity_schedule"):
            record.sudo().with_context(mail_notify_force_send=False).activity_schedule(
                "mail.mail_activity_data_todo",
                summary=summary,
                note=note,
                user_id=owner.id,
            )

    def action_fi_import_statements(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Import Bank Statements"),
            "res_model": "fi.bank.import.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_journal_id": self.id},
        }

    def _fi_bank_close_blockers(self, date_from, date_to):
        """Period-close blockers of these bank journals: statement lines of the
        period not reconciled, statements held by the continuity check (both
        blocking) and matches waiting for a second approver (a warning)."""
        if not self:
            return []
        # dates as text: the readiness line stores the domain with repr() and
        # the Open button hands it to the web client
        period = [("date", "<=", fields.Date.to_string(date_to))]
        if date_from:
            period.insert(0, ("date", ">=", fields.Date.to_string(date_from)))
        on_journals = [("journal_id", "in", self.ids)]
        lines = "account.bank.statement.line"
        return self.env["fi.close.readiness"]._fi_count_blockers(
            [
                (
                    lines,
                    on_journals
                    + period
                    + [("state", "!=", "cancel"), ("is_reconciled", "=", False)],
                    "bank_unreconciled_lines",
                    _("Bank statement lines not reconciled"),
                    True,
                ),
                (
                    "account.bank.statement",
                    on_journals + period + [("fi_state", "=", "held")],
                    "bank_held_statements",
                    _("Bank statements held by the continuity check"),
                    True,
                ),
                (
                    lines,
                    on_journals + period + [("fi_match_state", "=", "to_approve")],
                    "bank_matches_to_approve",
                    _("Bank matches waiting for a second approver"),
                    False,
                ),
            ]
        )
