# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import _, api, fields, models
from odoo.exceptions import UserError


class AccountBankStatement(models.Model):
    _name = "account.bank.statement"
    _inherit = ["account.bank.statement", "mail.thread", "mail.activity.mixin"]

    fi_identity = fields.Char(
        "Statement Identity",
        readonly=True,
        index=True,
        copy=False,
        help="Kind | account | statement id | period: a statement enters once.",
    )
    fi_kind = fields.Char("Message Type", readonly=True)
    fi_sequence = fields.Char("Bank Sequence", readonly=True)
    fi_file_id = fields.Many2one(
        "fi.bank.statement.file", "File", readonly=True, index=True
    )
    fi_state = fields.Selection(
        [("ok", "Usable"), ("held", "Held")],
        "Continuity",
        default="ok",
        readonly=True,
        tracking=True,
        help="A held statement (gap or balance mismatch with the previous one) is "
        "not reconciled until approved.",
    )
    fi_held_reason = fields.Text(readonly=True)
    fi_released_by_id = fields.Many2one("res.users", readonly=True)
    fi_booked_date = fields.Date("Booked Balance Date", readonly=True)
    fi_available_balance = fields.Monetary("Available Balance", readonly=True)
    fi_available_date = fields.Date("Available Balance Date", readonly=True)
    fi_correlation_id = fields.Char("Correlation ID", readonly=True, index=True)
    fi_is_latest = fields.Boolean(
        "Latest of its Journal",
        compute="_compute_fi_is_latest",
        search="_search_fi_is_latest",
    )

    def _latest_ids(self):
        self.env.cr.execute(
            "SELECT DISTINCT ON (journal_id) id FROM account_bank_statement "
            "WHERE fi_identity IS NOT NULL ORDER BY journal_id, date DESC, id DESC"
        )
        return [row[0] for row in self.env.cr.fetchall()]

    def _compute_fi_is_latest(self):
        latest = set(self._latest_ids())
        for statement in self:
            statement.fi_is_latest = statement.id in latest

    def _search_fi_is_latest(self, operator, value):
        positive = (operator == "=") == bool(value)
        return [("id", "in" if positive else "not in", self._latest_ids())]

    _sql_constraints = [
        (
            "fi_identity_unique",
            "unique(journal_id, fi_identity)",
            "This bank statement was already imported in this journal.",
        )
    ]

    def action_fi_release(self):
        """Release a held statement: a manager other than its importer."""
        for statement in self.filtered(lambda s: s.fi_state == "held"):
            if statement.create_uid == self.env.user and not self.env.su:
                raise UserError(
                    _(
                        "%s: the statement must be released by another user "
                        "than its importer.",
                        statement.name,
                    )
                )
            statement.write({"fi_state": "ok", "fi_released_by_id": self.env.user.id})
            statement.message_post(body=_("Released for reconciliation."))
            self.env["fi.audit"]._fi_event(
                "statement.released",
                _("Statement %s released", statement.name),
                record=statement,
                correlation_id=statement.fi_correlation_id,
            )

    @api.ondelete(at_uninstall=False)
    def _unlink_except_reconciled(self):
        for statement in self:
            if statement.line_ids.filtered(
                lambda line: (
                    line.fi_match_state == "matched"
                    or line.is_reconciled
                    and line.fi_import_id
                )
            ):
                raise UserError(
                    _(
                        "Statement %s has reconciled lines: undo them first.",
                        statement.display_name,
                    )
                )

    def action_fi_match(self):
        self.line_ids._fi_auto_match()
