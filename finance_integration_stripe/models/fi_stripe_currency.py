# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from odoo.addons.finance_integration_core.models.fi_change_log import (
    is_change_control,
)


class FiStripeCurrencyMixin(models.AbstractModel):
    """The settings of one currency: the journal Stripe payments and refunds
    in that currency are posted on, and the clearing account that holds them
    until their payout. Rows of an endpoint, and rows proposed in a settings
    version, are edited only where their owner allows it."""

    _name = "fi.stripe.currency.mixin"
    _description = "Stripe Currency Settings (common)"

    currency_id = fields.Many2one("res.currency", required=True)
    journal_id = fields.Many2one(
        "account.journal",
        "Journal",
        domain="[('type', 'in', ('bank', 'cash')), ('company_id', '=', company_id)]",
    )
    clearing_account_id = fields.Many2one("account.account", "Clearing Account")

    @api.model_create_multi
    def create(self, vals_list):
        rows = super().create(vals_list)
        rows._fi_check_editable_rows()
        rows._fi_rows_edited()
        return rows

    def write(self, vals):
        self._fi_check_editable_rows()
        result = super().write(vals)
        self._fi_check_editable_rows()
        self._fi_rows_edited()
        return result

    def unlink(self):
        self._fi_check_editable_rows()
        self._fi_rows_edited()
        return super().unlink()

    def _fi_check_editable_rows(self):
        """Raise when these rows cannot be edited now."""

    def _fi_rows_edited(self):
        """Called when these rows are created, written or deleted."""

    def _fi_rows_endpoint(self):
        raise NotImplementedError

    @api.constrains("journal_id", "currency_id")
    def _check_journal_currency(self):
        """A journal that books another currency is refused, naming both."""
        for row in self:
            journal_currency = row.journal_id.currency_id
            if journal_currency and journal_currency != row.currency_id:
                raise ValidationError(
                    _(
                        "Stripe %(cur)s settings of %(ep)s: journal %(journal)s is "
                        "in %(jcur)s.",
                        cur=row.currency_id.name,
                        ep=row._fi_rows_endpoint().name,
                        journal=row.journal_id.name,
                        jcur=journal_currency.name,
                    )
                )


class FiStripeCurrency(models.Model):
    """Per-currency settings of a Stripe endpoint (compared with Stripe's
    balance in that currency). A currency without a row uses the endpoint's
    own journal and clearing account."""

    _name = "fi.stripe.currency"
    _inherit = ["fi.stripe.currency.mixin"]
    _description = "Stripe Currency Settings"
    _order = "endpoint_id, currency_id"

    endpoint_id = fields.Many2one(
        "fi.endpoint", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="endpoint_id.company_id", store=True)

    _sql_constraints = [
        (
            "currency_unique",
            "unique(endpoint_id, currency_id)",
            "One settings row per currency and endpoint.",
        )
    ]

    def _fi_rows_endpoint(self):
        return self.endpoint_id

    def _fi_check_editable_rows(self):
        """The per-currency settings of a live production endpoint change
        only through an approved settings version, as its own accounts do."""
        if is_change_control(self.env):
            return
        for row in self:
            if row.endpoint_id._fi_is_governed():
                raise UserError(
                    _(
                        "Endpoint %(endpoint)s is live in production: its "
                        "per-currency settings (%(currency)s) change through a "
                        "change request (Settings Versions tab, Propose Change) "
                        "approved by a second Manager.",
                        endpoint=row.endpoint_id.name,
                        currency=row.currency_id.name,
                    )
                )


class FiEndpoint(models.Model):
    _inherit = "fi.endpoint"

    stripe_currency_ids = fields.One2many(
        "fi.stripe.currency", "endpoint_id", "Per-currency Settings"
    )
    stripe_currency_settings = fields.Text(
        "Per-currency Settings (governed)",
        compute="_compute_stripe_currency_settings",
        inverse="_inverse_stripe_currency_settings",
        help="The per-currency rows as one governed setting: a JSON list of "
        '{"currency", "journal_id", "clearing_account_id"} (journal and account '
        "named beside their ids), versioned with the endpoint's other settings.",
    )

    @api.depends(
        "stripe_currency_ids.currency_id",
        "stripe_currency_ids.journal_id",
        "stripe_currency_ids.clearing_account_id",
    )
    def _compute_stripe_currency_settings(self):
        for endpoint in self:
            endpoint.stripe_currency_settings = currency_settings_json(
                endpoint.stripe_currency_ids
            )

    def _inverse_stripe_currency_settings(self):
        for endpoint in self:
            wanted = endpoint._fi_stripe_parse_currency_settings(
                endpoint.stripe_currency_settings
            )
            endpoint.stripe_currency_ids = row_commands(
                endpoint.stripe_currency_ids, wanted
            )

    def _fi_stripe_parse_currency_settings(self, text):
        """``{currency: {journal_id, clearing_account_id}}`` from the governed
        JSON; a clear error naming the entry that is not right."""
        try:
            entries = json.loads(text or "[]")
        except ValueError as err:
            raise UserError(
                _(
                    "Per-currency settings of %(ep)s are not JSON: %(err)s",
                    ep=self.name,
                    err=err,
                )
            ) from None
        if not isinstance(entries, list):
            raise UserError(
                _("Per-currency settings of %s must be a JSON list.", self.name)
            )
        wanted = {}
        for position, entry in enumerate(entries, 1):
            code = entry.get("currency") if isinstance(entry, dict) else None
            # an archived currency keeps its row (and its settings)
            currency = (
                self.env["res.currency"]
                .with_context(active_test=False)
                .search([("name", "=", str(code or "").upper())], limit=1)
            )
            if not currency or currency in wanted:
                raise UserError(
                    _(
                        "Per-currency settings of %(ep)s, entry %(n)s: %(why)s.",
                        ep=self.name,
                        n=position,
                        why=_("currency %s appears twice", currency.name)
                        if currency
                        else _("no known currency code (%s)", code),
                    )
                )
            values = {}
            for name, model in (
                ("journal_id", "account.journal"),
                ("clearing_account_id", "account.account"),
            ):
                value = entry.get(name) or False
                if value and not (
                    type(value) is int and self.env[model].browse(value).exists()
                ):
                    raise UserError(
                        _(
                            "Per-currency settings of %(ep)s, %(cur)s: %(field)s "
                            "%(value)r is not a record id of %(model)s.",
                            ep=self.name,
                            cur=currency.name,
                            field=name,
                            value=value,
                            model=model,
                        )
                    )
                values[name] = value
            wanted[currency] = values
        return wanted

    def _fi_stripe_currency_row(self, currency):
        code = currency if isinstance(currency, str) else currency.name
        return self.stripe_currency_ids.filtered(
            lambda row: row.currency_id.name == (code or "").upper()
        )[:1]

    def _fi_stripe_journal(self, currency):
        """The journal of Stripe payments in ``currency``."""
        return self._fi_stripe_currency_row(currency).journal_id or (
            self.stripe_journal_id
        )

    def _fi_stripe_clearing(self, currency):
        """The clearing account of Stripe money in ``currency``."""
        return self._fi_stripe_currency_row(currency).clearing_account_id or (
            self.stripe_clearing_account_id
        )

    def _fi_stripe_clearing_accounts(self):
        return self.stripe_clearing_account_id | self.stripe_currency_ids.mapped(
            "clearing_account_id"
        )


class FiEndpointChangeStripeCurrency(models.Model):
    """A per-currency row of a proposed settings version: what the endpoint's
    rows become when the version is activated. Edited while the version is a
    draft, frozen once submitted; whoever edits one is a contributor of the
    version and cannot approve it."""

    _name = "fi.endpoint.change.stripe.currency"
    _inherit = ["fi.stripe.currency.mixin"]
    _description = "Proposed Stripe Currency Settings"
    _order = "change_id, currency_id"

    change_id = fields.Many2one(
        "fi.endpoint.change", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="change_id.company_id", store=True)

    _sql_constraints = [
        (
            "currency_unique",
            "unique(change_id, currency_id)",
            "A currency appears once in a settings version.",
        )
    ]

    def _fi_rows_endpoint(self):
        return self.change_id.endpoint_id

    def _fi_check_editable_rows(self):
        if not is_change_control(self.env):
            self.change_id._fi_check_editable()

    def _fi_rows_edited(self):
        """Whoever edits a proposed row contributed to the version (four
        eyes: a contributor cannot approve it)."""
        if not is_change_control(self.env):
            self.change_id._fi_add_contributor()


class FiEndpointChange(models.Model):
    _inherit = "fi.endpoint.change"

    stripe_currency_line_ids = fields.One2many(
        "fi.endpoint.change.stripe.currency",
        "change_id",
        "Proposed Per-currency Settings",
    )
    stripe_currency_settings = fields.Text(
        "Per-currency Settings",
        compute="_compute_stripe_currency_settings",
        inverse="_inverse_stripe_currency_settings",
        store=True,
        readonly=False,
        help="The proposed per-currency rows as the governed JSON (what the "
        "version stores, compares and applies); written, it sets the rows.",
    )

    @api.depends(
        "stripe_currency_line_ids.currency_id",
        "stripe_currency_line_ids.journal_id",
        "stripe_currency_line_ids.clearing_account_id",
    )
    def _compute_stripe_currency_settings(self):
        for change in self:
            change.stripe_currency_settings = currency_settings_json(
                change.stripe_currency_line_ids
            )

    def _inverse_stripe_currency_settings(self):
        """The rows of a proposal given as JSON: known currencies, journals
        and accounts, or refused when written (never at its activation),
        naming the entry."""
        for change in self:
            if change.endpoint_id.provider != "stripe":
                continue
            wanted = change.endpoint_id._fi_stripe_parse_currency_settings(
                change.stripe_currency_settings
            )
            change.stripe_currency_line_ids = row_commands(
                change.stripe_currency_line_ids, wanted
            )


def row_commands(rows, wanted):
    """The commands that make the per-currency ``rows`` (an endpoint's or a
    version's) the ``wanted`` ``{currency: values}``: a row kept per currency,
    updated, the others created or deleted."""
    by_currency = {row.currency_id: row for row in rows}
    commands = [
        Command.update(by_currency.pop(currency).id, values)
        if currency in by_currency
        else Command.create(dict(values, currency_id=currency.id))
        for currency, values in wanted.items()
    ]
    return commands + [Command.unlink(row.id) for row in by_currency.values()]


def currency_settings_json(rows):
    """The governed JSON of per-currency rows: by currency code, journal and
    account named beside their ids (what an approver reads in the diff)."""
    entries = [
        {
            "currency": row.currency_id.name,
            "journal_id": row.journal_id.id or None,
            "journal": row.journal_id.code or None,
            "clearing_account_id": row.clearing_account_id.id or None,
            "clearing_account": row.clearing_account_id.code or None,
        }
        for row in rows.sorted(lambda row: row.currency_id.name or "")
    ]
    return json.dumps(entries, sort_keys=True)
