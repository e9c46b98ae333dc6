# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import logging
import uuid
from datetime import timedelta
from decimal import Decimal

from odoo import _, fields, models
from odoo.exceptions import UserError

from odoo.addons.finance_integration_core.lib.errors import (
    FiBusinessError,
    FiIgnored,
    FiTransientError,
)
from odoo.addons.finance_integration_core.lib.hashing import sha256_hex

from ..lib import clearance as clr
from ..lib import engine as eng
from ..lib.engine import Address, DocumentLine, EngineError, TaxDocument
from ..lib.money import line_amount, to_decimal, within_tolerance
from ..lib.validator import validate_ubl
from .fi_einvoice import DOC_STATES
from .fi_endpoint import engine_error_to_fi

_logger = logging.getLogger(__name__)

#: e-invoice states in which the invoice is frozen
FROZEN = ("to_submit", "submitted", "received", "accepted", "cleared", "paid")
#: fields of an invoice a frozen e-invoice protects
PROTECTED = frozenset(
    {
        "invoice_line_ids",
        "line_ids",
        "partner_id",
        "invoice_date",
        "date",
        "currency_id",
        "ref",
        "narration",
        "invoice_payment_term_id",
        "name",
        "state",
        "partner_shipping_id",
        "fiscal_position_id",
        "journal_id",
    }
)


def _address(partner):
    return Address(
        line1=partner.street or "",
        line2=partner.street2 or "",
        city=partner.city or "",
        region=partner.state_id.code or "",
        postal_code=partner.zip or "",
        country=partner.country_id.code or "",
    )


def _percent_key(rate):
    """An engine rate (fraction) as the value map key: 0.0825 -> '8.25'."""
    value = (to_decimal(rate) * 100).normalize()
    return format(value, "f")


class AccountMove(models.Model):
    _inherit = "account.move"

    fi_tax_state = fields.Selection(
        [
            ("none", "Not sent"),
            ("calculated", "Calculated"),
            ("pending", "Tax pending"),
            ("provisional", "Provisional (Odoo's taxes)"),
            ("committed", "Committed"),
            ("voided", "Voided"),
            ("mismatch", "Difference to review"),
        ],
        "Tax Engine State",
        default="none",
        copy=False,
        readonly=True,
        tracking=True,
    )
    fi_tax_code = fields.Char("Tax Document Code", copy=False, readonly=True)
    fi_tax_in_engine = fields.Boolean(copy=False, readonly=True)
    fi_tax_engine_total = fields.Monetary("Engine Tax", copy=False, readonly=True)
    fi_tax_odoo_total = fields.Monetary("Odoo Tax", copy=False, readonly=True)
    fi_tax_calculated_at = fields.Datetime(copy=False, readonly=True)
    fi_tax_pending_since = fields.Datetime(copy=False, readonly=True)
    fi_tax_committed_at = fields.Datetime(copy=False, readonly=True)
    fi_billing_system_of_record = fields.Boolean(
        "Amount From Billing Platform",
        copy=False,
        help="The billing platform (e.g. Stripe Billing) is the system of record "
        "for this invoice's amounts: the tax engine validates and commits it, "
        "a difference opens an exception instead of changing the invoice.",
    )
    fi_correlation_id = fields.Char(
        "Integration Correlation ID", copy=False, readonly=True
    )
    fi_einvoice_state = fields.Selection(
        [("none", "Not an e-invoice")] + DOC_STATES,
        "E-invoice State",
        default="none",
        copy=False,
        readonly=True,
        tracking=True,
    )
    fi_einvoice_business_status = fields.Selection(
        [("accepted", "Accepted by buyer"), ("rejected", "Rejected by buyer")],
        "Buyer Response",
        copy=False,
        readonly=True,
    )
    fi_einvoice_document_ids = fields.One2many(
        "fi.einvoice.document", "move_id", "E-invoice Versions", readonly=True
    )
    fi_einvoice_status_ids = fields.One2many(
        "fi.einvoice.status", "move_id", "E-invoice History", readonly=True
    )

    # ------------------------------------------------------------------
    # guards: immutability of submitted e-invoices
    # ------------------------------------------------------------------
    def write(self, vals):
        if PROTECTED & set(vals) and not self.env.context.get("fi_einvoice_internal"):
            frozen = self.filtered(lambda m: m.fi_einvoice_state in FROZEN)
            if frozen:
                raise UserError(
                    _(
                        "Invoice %(name)s was submitted as an e-invoice "
                        "(%(state)s): it cannot be changed. %(hint)s",
                        name=frozen[0].name,
                        state=frozen[0].fi_einvoice_state,
                        hint=frozen[0]._fi_correction_hint(),
                    )
                )
        return super().write(vals)

    def _fi_correction_hint(self):
        if self.fi_einvoice_state in ("cleared", "accepted", "paid"):
            return _("It is cleared: correct it with a credit note.")
        return _(
            "Wait for the platform's verdict; a rejected document may be "
            "corrected and submitted again."
        )

    def button_draft(self):
        frozen = self.filtered(lambda m: m.fi_einvoice_state in FROZEN)
        if frozen:
            raise UserError(
                _(
                    "Invoice %(name)s was submitted as an e-invoice (%(state)s): it "
                    "cannot be reset to draft. %(hint)s",
                    name=frozen[0].name,
                    state=frozen[0].fi_einvoice_state,
                    hint=frozen[0]._fi_correction_hint(),
                )
            )
        return super().button_draft()

    def button_cancel(self):
        frozen = self.filtered(lambda m: m.fi_einvoice_state in FROZEN)
        if frozen:
            raise UserError(
                _(
                    "Invoice %(name)s was submitted as an e-invoice: it cannot be "
                    "cancelled. %(hint)s",
                    name=frozen[0].name,
                    hint=frozen[0]._fi_correction_hint(),
                )
            )
        in_engine = self.filtered(
            lambda m: m.fi_tax_in_engine and m.fi_tax_state != "voided"
        )
        result = super().button_cancel()
        for move in in_engine.filtered(lambda m: m.state == "cancel"):
            move._fi_tax_send("tax.void", f"tax.void:{move.fi_tax_code}:{move.id}")
        return result

    # ------------------------------------------------------------------
    # validation
    # ------------------------------------------------------------------
    def _fi_tax_endpoint(self):
        endpoint = self.company_id.fi_tax_endpoint_id
        return endpoint if endpoint and endpoint.state == "active" else None

    def _fi_tax_applies(self):
        self.ensure_one()
        return (
            self.move_type in ("out_invoice", "out_refund")
            and self.state == "draft"
            and bool(self._fi_tax_endpoint())
        )

    def _post(self, soft=True):
        if self.env.context.get("fi_tax_skip"):
            return super()._post(soft)
        held = self.browse()
        today = fields.Date.context_today(self)
        for move in self.filtered(lambda m: m._fi_tax_applies()):
            if soft and move.date and move.date > today:
                continue  # posted later at its date, then calculated
            if not move._fi_tax_before_post():
                held |= move
        posted = super(AccountMove, self - held)._post(soft)
        posted._fi_after_post()
        return posted

    def _fi_dec(self, amount):
        return to_decimal(self.currency_id.round(amount or 0.0)).quantize(
            Decimal(1).scaleb(-self.currency_id.decimal_places)
        )

    def _fi_technical(self):
        """This invoice for writes of fields that change none of its lines or
        amounts (bookkeeping, its number): without the invoice/line
        synchronisation and balance check (nothing to sync or unbalance), and
        without marking it manually modified (the user did not edit it)."""
        return self.with_context(
            skip_invoice_sync=True,
            skip_invoice_line_sync=True,
            check_move_validity=False,
            skip_is_manually_modified=True,
        )

    def _fi_tax_number(self):
        """Number the draft now (the engine's document code is the invoice
        number; Odoo's post then keeps it) the way Odoo's post numbers it:
        the sequence fields assigned as by their computation, not by three
        full invoice writes."""
        sequence_fields = [
            self._fields[name]
            for name in ("name", "sequence_prefix", "sequence_number")
        ]
        with self.env.protecting(sequence_fields, self):
            self._set_next_sequence()
        self._inverse_name()

    def _fi_write_technical(self, values):
        """Write connector bookkeeping fields only."""
        return self._fi_technical().write(values)

    def _fi_quant(self, value):
        return to_decimal(value).quantize(
            Decimal(1).scaleb(-self.currency_id.decimal_places)
        )

    def _fi_tax_odoo_total(self):
        return abs(self._fi_dec(self.amount_tax))

    def _fi_tax_document(self, endpoint):
        """The engine-neutral document of this invoice: every line, zero-amount
        and fully discounted ones included."""
        self.ensure_one()
        is_return = self.move_type == "out_refund"
        sign = Decimal(-1) if is_return else Decimal(1)
        vmap = self.env["fi.value.map"]
        lines = []
        for line in self.invoice_line_ids.filtered(
            lambda ln: ln.display_type == "product"
        ):
            product = line.product_id
            item_code = product.default_code or (f"P{product.id}" if product else "")
            tax_code = ""
            key = product.default_code or (f"P{product.id}" if product else "")
            if key:
                try:
                    tax_code = vmap.fi_lookup("avatax_tax_code", key, endpoint=endpoint)
                except UserError as err:
                    if getattr(err, "external_code", None) is not None:
                        raise  # a map exists, this product is missing: say so
                    tax_code = ""  # no tax code map at all: engine defaults
            # price x quantity less the discount, in Decimal: tax-included
            # prices go to the engine as typed (taxIncluded), to the cent
            included = any(line.tax_ids.mapped("price_include"))
            amount = line_amount(
                line.price_unit,
                line.quantity,
                line.discount or 0,
                self.currency_id.decimal_places,
            )
            lines.append(
                DocumentLine(
                    number=str(line.id),
                    amount=amount * sign if amount else amount,
                    quantity=to_decimal(line.quantity),
                    item_code=item_code,
                    tax_code=tax_code if isinstance(tax_code, str) else "",
                    description=line.name or "",
                    tax_included=included,
                    discounted=bool(line.discount),
                )
            )
        ship_to = self.partner_shipping_id or self.partner_id
        commercial = self.commercial_partner_id
        exemption = self.env["fi.tax.exemption"]._fi_find(
            commercial,
            self.company_id,
            ship_to.country_id,
            ship_to.state_id,
            self.invoice_date or fields.Date.context_today(self),
        )
        origin = self.reversed_entry_id
        company_currency = self.company_id.currency_id
        exchange = {}
        if self.currency_id != company_currency:
            rate = to_decimal(self.invoice_currency_rate, "currency rate")
            if rate <= 0:
                raise UserError(
                    _(
                        "Invoice %(name)s is in %(cur)s but has no exchange rate to "
                        "%(company)s: set the currency's rate for %(date)s.",
                        name=self.name,
                        cur=self.currency_id.name,
                        company=company_currency.name,
                        date=self._get_invoice_currency_rate_date(),
                    )
                )
            # Odoo keeps invoice currency per company unit; the engine wants
            # company currency per invoice unit
            exchange = {
                "company_currency": company_currency.name,
                "exchange_rate": (Decimal(1) / rate)
                .quantize(Decimal("1e-12"))
                .normalize(),
                "exchange_date": str(self._get_invoice_currency_rate_date()),
            }
        return TaxDocument(
            code=self.name,
            date=str(self.invoice_date or fields.Date.context_today(self)),
            customer_code=commercial.ref or f"C{commercial.id}",
            currency=self.currency_id.name,
            lines=lines,
            ship_from=_address(self.company_id.partner_id),
            ship_to=_address(ship_to),
            is_return=is_return,
            tax_date=str(origin.invoice_date) if origin.invoice_date else None,
            exemption_no=exemption.number or "",
            reference_code=origin.name or "",
            description=self.ref or "",
            **exchange,
        )

    def _fi_tax_calculate(self, endpoint):
        """Ask the engine (uncommitted); returns ``(document, TaxResult)``.
        Raises FiTransientError when the engine is unavailable: at once when
        its circuit is open (no call, no timeout to wait for)."""
        self.ensure_one()
        endpoint = endpoint.with_env(self.env)
        since = endpoint._fi_tax_unavailable_since()
        if since:
            raise endpoint._fi_tax_circuit_error(since)
        engine = endpoint._fi_tax_engine()
        document = self._fi_tax_document(endpoint)
        adjust = self.fi_tax_in_engine
        try:
            try:
                result = endpoint._fi_tax_sync_call(
                    engine.calculate(document, adjust=adjust), engine.parse_transaction
                )
            except EngineError as err:
                if err.outcome != eng.ALREADY_EXISTS or adjust:
                    raise
                result = endpoint._fi_tax_sync_call(
                    engine.calculate(document, adjust=True), engine.parse_transaction
                )
        except EngineError as err:
            if err.outcome == eng.TRANSIENT:
                raise FiTransientError(str(err), "engine_unavailable") from None
            if err.outcome == eng.LOCKED:
                raise UserError(
                    _(
                        "Tax document %(code)s is already reported on a tax return "
                        "(%(error)s): it cannot change. Correct invoice %(name)s "
                        "with a credit note.",
                        code=document.code,
                        error=err,
                        name=self.name,
                    )
                ) from None
            raise UserError(
                _(
                    "%(engine)s refused invoice %(name)s: %(error)s",
                    engine=engine.name,
                    name=self.name,
                    error=err,
                )
            ) from None
        try:
            result.check_currency(document.currency)
        except EngineError as err:
            raise UserError(
                _(
                    "%(engine)s answered invoice %(name)s in another currency: "
                    "%(error)s. Nothing was booked.",
                    engine=engine.name,
                    name=self.name,
                    error=err,
                )
            ) from None
        return document, result

    def _fi_tax_before_post(self):
        """Engine calculation before posting; False when the invoice is held."""
        self.ensure_one()
        endpoint = self._fi_tax_endpoint()
        if not self.name or self.name == "/":
            self._fi_tax_number()
        try:
            document, result = self._fi_tax_calculate(endpoint)
        except FiTransientError as err:
            return self._fi_tax_unavailable(endpoint, err)
        return self._fi_tax_apply_result(endpoint, document, result)

    def _fi_tax_unavailable(self, endpoint, err):
        policy = self.company_id.fi_tax_unavailable_policy
        retrying = self.env.context.get("fi_tax_retrying")
        if retrying:
            message = self.env["fi.message"].browse(retrying)
            self._fi_tax_check_hold(message, err)
            raise err
        if policy == "block":
            raise UserError(
                _(
                    "The tax engine %(engine)s is unavailable (%(error)s): invoice "
                    "%(name)s was not validated. Try again later.",
                    engine=endpoint.name,
                    error=err,
                    name=self.name,
                )
            )
        if policy == "queue":
            self._fi_tax_hold(
                endpoint,
                "pending",
                {
                    "fi_tax_pending_since": self.fi_tax_pending_since
                    or fields.Datetime.now()
                },
                "tax.pending",
                _("Invoice %s held: tax engine unavailable", self.name),
                {"error": str(err)[:200]},
            )
            return False
        # contingency: Odoo's taxes now, the engine later
        self._fi_tax_hold(
            endpoint,
            "provisional",
            {"fi_tax_code": self.name, "fi_tax_odoo_total": self.amount_tax},
            "tax.provisional",
            _("Invoice %s validated with Odoo's taxes (engine unavailable)", self.name),
            {"odoo_tax": str(self._fi_tax_odoo_total())},
        )
        return True

    def _fi_tax_hold(self, endpoint, state, values, event, text, facts):
        """Engine unavailable: mark the invoice ``pending`` (held, validated
        when the engine answers) or ``provisional`` (validated with Odoo's
        taxes, the engine's view later), queue the calculation that resolves
        it, and record the step."""
        now = fields.Datetime.now()
        mode = "pending" if state == "pending" else "contingency"
        self._fi_write_technical(
            dict(
                values,
                fi_tax_state=state,
                fi_correlation_id=self.fi_correlation_id or uuid.uuid4().hex,
            )
        )
        self._fi_tax_send(
            "tax.calculate", f"tax.calculate:{mode}:{self.id}:{now}", mode=mode
        )
        self.env["fi.audit"]._fi_event(
            event,
            text,
            record=self,
            endpoint=endpoint,
            correlation_id=self.fi_correlation_id,
            facts=facts,
        )

    def _fi_tax_check_hold(self, message, err):
        hours = self.company_id.fi_tax_max_hold_hours or 0
        since = self.fi_tax_pending_since or message.create_date
        if hours and since < fields.Datetime.now() - timedelta(hours=hours):
            err.fi_escalate = (
                "tax_pending_overdue",
                _(
                    "Invoice %(name)s has been held as tax pending since %(since)s "
                    "(more than %(h)s hours): the tax engine still does not answer. "
                    "It keeps being retried; change the company's policy or "
                    "validate it by hand.",
                    name=self.name,
                    since=since,
                    h=hours,
                ),
                "technical",
            )

    def _cron_fi_tax_pending_overdue(self):
        """Escalate, once each, the invoices held as tax pending beyond their
        company's maximum hold: while the engine's circuit is open their
        message waits in the outbox, so no failing retry escalates them."""
        now = fields.Datetime.now()
        held = self.sudo().search(
            [
                ("fi_tax_state", "=", "pending"),
                ("state", "=", "draft"),
                ("fi_tax_pending_since", "!=", False),
            ]
        )
        escalated = self.browse()
        for move in held:
            hours = move.company_id.fi_tax_max_hold_hours or 0
            endpoint = move.company_id.fi_tax_endpoint_id
            if not hours or not endpoint:
                continue
            if move.fi_tax_pending_since > now - timedelta(hours=hours):
                continue
            if (
                self.env["fi.exception"]
                .sudo()
                .search_count(
                    [
                        ("res_model", "=", move._name),
                        ("res_id", "=", move.id),
                        ("error_code", "=", "tax_pending_overdue"),
                        ("state", "in", ("new", "in_progress")),
                    ]
                )
            ):
                continue
            endpoint._fi_tax_exception(
                "tax.calculate",
                move,
                "tax_pending_overdue",
                _(
                    "Invoice %(name)s has been held as tax pending since %(since)s "
                    "(more than %(h)s hours): the tax engine %(engine)s is still "
                    "unavailable. It is validated as soon as the engine answers; "
                    "change the company's policy or validate it by hand.",
                    name=move.name,
                    since=move.fi_tax_pending_since,
                    h=hours,
                    engine=endpoint.name,
                ),
                correlation_id=move.fi_correlation_id,
                category="technical",
            )
            escalated |= move
        return escalated

    def _fi_tax_apply_result(self, endpoint, document, result):
        company = self.company_id
        odoo_tax = self._fi_tax_odoo_total()
        engine_tax = self._fi_quant(abs(result.total_tax))
        tolerated = within_tolerance(
            odoo_tax,
            engine_tax,
            to_decimal(company.fi_tax_tolerance_amount),
            to_decimal(company.fi_tax_tolerance_percent),
        )
        values = {
            "fi_correlation_id": self.fi_correlation_id or uuid.uuid4().hex,
            "fi_tax_code": document.code,
            "fi_tax_in_engine": True,
            "fi_tax_engine_total": float(engine_tax),
            "fi_tax_odoo_total": float(odoo_tax),
            "fi_tax_calculated_at": fields.Datetime.now(),
            "fi_tax_state": "calculated",
            "fi_tax_pending_since": False,
        }
        facts = {
            "code": document.code,
            "engine_tax": str(engine_tax),
            "odoo_tax": str(odoo_tax),
            "lines": len(document.lines),
            "tolerated": tolerated,
        }
        if not tolerated:
            detail = _(
                "Tax of invoice %(name)s differs: Odoo %(odoo)s, %(engine)s %(eng)s "
                "%(cur)s (tolerance %(amt)s or %(pct)s%%).",
                name=self.name,
                odoo=odoo_tax,
                engine=endpoint.name,
                eng=engine_tax,
                cur=self.currency_id.name,
                amt=company.fi_tax_tolerance_amount,
                pct=company.fi_tax_tolerance_percent,
            )
            if self.fi_billing_system_of_record:
                values["fi_tax_state"] = "mismatch"
                self._fi_write_technical(values)
                endpoint._fi_tax_exception(
                    "tax.calculate",
                    self,
                    "tax_mismatch",
                    detail
                    + " "
                    + _(
                        "The amounts come from the billing platform "
                        "and were not changed."
                    ),
                    facts=facts,
                    correlation_id=self.fi_correlation_id,
                )
            elif company.fi_tax_mismatch_policy == "block":
                raise UserError(detail + " " + _("Validation is blocked."))
            else:
                self._fi_tax_apply_engine(endpoint, result)
                values["fi_tax_odoo_total"] = float(self._fi_tax_odoo_total())
                facts["applied"] = True
                if not within_tolerance(
                    self._fi_tax_odoo_total(),
                    engine_tax,
                    to_decimal(company.fi_tax_tolerance_amount),
                    to_decimal(company.fi_tax_tolerance_percent),
                ):
                    raise UserError(
                        detail
                        + " "
                        + _(
                            "Odoo's taxes mapped from the engine's "
                            "rates give %s: check the avatax_tax "
                            "value map.",
                            self._fi_tax_odoo_total(),
                        )
                    )
        if values["fi_tax_state"] != "mismatch":
            self._fi_write_technical(values)
        self.env["fi.audit"]._fi_event(
            "tax.calculated",
            _(
                "Tax of %(name)s calculated by %(engine)s: %(tax)s",
                name=self.name,
                engine=endpoint.name,
                tax=engine_tax,
            ),
            record=self,
            endpoint=endpoint,
            correlation_id=self.fi_correlation_id,
            facts=facts,
        )
        return True

    def _fi_tax_apply_engine(self, endpoint, result):
        """Odoo taxes of the engine's rates on each line (value map
        ``avatax_tax``: rate in percent -> account.tax; ``"<rate> incl"`` for
        the lines with a tax-included price)."""
        vmap = self.env["fi.value.map"]
        lines = {str(line.id): line for line in self.invoice_line_ids}
        for line_result in result.lines:
            line = lines.get(line_result.number)
            if not line:
                continue
            rate = sum((d.rate for d in line_result.details), Decimal(0))
            if not line_result.tax and not rate:
                line.tax_ids = [(5, 0, 0)]
                continue
            key = _percent_key(rate)
            if any(line.tax_ids.mapped("price_include")):
                # a tax-included price stays as typed: an included tax again
                key += " incl"
            tax = vmap.fi_lookup("avatax_tax", key, endpoint=endpoint)
            line.tax_ids = [(6, 0, tax.ids)]

    def _fi_tax_send(self, event_type, key, **extra):
        endpoint = self._fi_tax_endpoint() or self.company_id.fi_tax_endpoint_id
        flow = endpoint._fi_tax_flow(event_type)
        return endpoint._fi_send(
            flow,
            dict(
                extra,
                move_id=self.id,
                code=self.fi_tax_code or self.name,
                is_return=self.move_type == "out_refund",
            ),
            record=self,
            idempotency_key=key,
            correlation_id=self.fi_correlation_id,
        )

    def _fi_after_post(self):
        for move in self:
            if move.fi_tax_state in ("calculated", "mismatch") and move.fi_tax_code:
                # a job: it runs only once this transaction has committed, so
                # the engine never holds a committed document Odoo rolled back
                move._fi_tax_send(
                    "tax.commit",
                    f"tax.commit:{move.fi_tax_code}:{move.fi_tax_calculated_at}",
                )
            if move._fi_einvoice_applies():
                move._fi_einvoice_prepare()

    # ------------------------------------------------------------------
    # jobs: commit, void, held and provisional invoices
    # ------------------------------------------------------------------
    def _fi_tax_job_call(self, message, build):
        endpoint = message.endpoint_id
        engine = endpoint._fi_tax_engine()
        try:
            return endpoint._fi_engine_call(build(engine), engine.parse_transaction)
        except EngineError as err:
            raise engine_error_to_fi(err) from None

    def _fi_tax_commit_now(self, message, document):
        if self.state != "posted":
            raise FiIgnored(f"invoice {self.name} is {self.state}: nothing to commit")
        result = self._fi_tax_job_call(
            message, lambda e: e.commit(document["code"], document["is_return"])
        )
        resent = False
        own = self._fi_tax_document(message.endpoint_id)
        if not eng.same_document(result, own):
            # under this code the engine holds another calculation (another
            # validation numbered a draft alike and was rolled back after
            # asking the engine): this invoice's own document, committed
            result = self._fi_tax_job_call(
                message, lambda e: e.calculate(own, adjust=True, commit=True)
            )
            resent = True
        self.with_context(fi_einvoice_internal=True).write(
            {
                "fi_tax_state": "committed"
                if self.fi_tax_state != "mismatch"
                else "mismatch",
                "fi_tax_committed_at": fields.Datetime.now(),
            }
        )
        self.env["fi.audit"]._fi_event(
            "tax.committed",
            _("Tax document %s committed", document["code"]),
            record=self,
            message=message,
            endpoint=message.endpoint_id,
            facts={
                "code": document["code"],
                "status": result.status,
                "total_tax": str(result.total_tax),
                "resent": resent,
            },
        )
        return self

    def _fi_tax_void_now(self, message, document):
        if self.state != "cancel":
            raise FiBusinessError(
                _(
                    "Invoice %(name)s is %(state)s, not cancelled: its tax document "
                    "is not voided.",
                    name=self.name,
                    state=self.state,
                ),
                "business_rule",
            )
        locks = self._get_violated_lock_dates(self.date, True)
        if locks:
            raise FiBusinessError(
                _(
                    "Invoice %(name)s is dated %(date)s, in a locked period "
                    "(%(locks)s): its tax document is not voided; issue a credit "
                    "note instead.",
                    name=self.name,
                    date=self.date,
                    locks=", ".join(f"{d} ({n})" for d, n in locks),
                ),
                "period_locked",
            )
        self._fi_tax_job_call(
            message, lambda e: e.void(document["code"], document["is_return"])
        )
        self.with_context(fi_einvoice_internal=True).write(
            {"fi_tax_state": "voided", "fi_tax_in_engine": False}
        )
        self.env["fi.audit"]._fi_event(
            "tax.voided",
            _("Tax document %s voided", document["code"]),
            record=self,
            message=message,
            endpoint=message.endpoint_id,
            facts={"code": document["code"]},
        )
        return self

    def _fi_tax_retry(self, message, document):
        if document.get("mode") == "pending":
            if self.state != "draft" or self.fi_tax_state != "pending":
                raise FiIgnored(f"invoice {self.name} is no longer held")
            self.with_context(fi_tax_retrying=message.id)._post(soft=False)
            return self
        # contingency: posted with Odoo's taxes, now the engine's view
        if self.fi_tax_state != "provisional":
            raise FiIgnored(f"invoice {self.name} is no longer provisional")
        endpoint = message.endpoint_id
        try:
            doc, result = self._fi_tax_calculate(endpoint)
        except UserError as err:
            raise FiBusinessError(str(err), "business_rule") from None
        odoo_tax = self._fi_tax_odoo_total()
        engine_tax = self._fi_quant(abs(result.total_tax))
        company = self.company_id
        values = {
            "fi_tax_in_engine": True,
            "fi_tax_engine_total": float(engine_tax),
            "fi_tax_calculated_at": fields.Datetime.now(),
        }
        self.env["fi.audit"]._fi_event(
            "tax.calculated",
            _(
                "Tax of provisional invoice %(name)s calculated: %(tax)s",
                name=self.name,
                tax=engine_tax,
            ),
            record=self,
            message=message,
            endpoint=endpoint,
            facts={
                "code": doc.code,
                "engine_tax": str(engine_tax),
                "odoo_tax": str(odoo_tax),
            },
        )
        if within_tolerance(
            odoo_tax,
            engine_tax,
            to_decimal(company.fi_tax_tolerance_amount),
            to_decimal(company.fi_tax_tolerance_percent),
        ):
            self.with_context(fi_einvoice_internal=True).write(
                dict(values, fi_tax_state="calculated")
            )
            return self._fi_tax_commit_now(
                message, {"code": doc.code, "is_return": doc.is_return}
            )
        difference = engine_tax - odoo_tax
        note = _("debit note") if difference > 0 else _("credit note")
        self.with_context(fi_einvoice_internal=True).write(
            dict(values, fi_tax_state="mismatch")
        )
        endpoint._fi_tax_exception(
            "tax.calculate",
            self,
            "tax_contingency_difference",
            _(
                "Invoice %(name)s was validated with Odoo's taxes (%(odoo)s) while "
                "the tax engine was down; the engine now computes %(eng)s. Proposed: "
                "a %(note)s of %(diff)s %(cur)s of tax, then commit.",
                name=self.name,
                odoo=odoo_tax,
                eng=engine_tax,
                note=note,
                diff=abs(difference),
                cur=self.currency_id.name,
            ),
            facts={"difference": str(difference), "proposal": note},
            correlation_id=self.fi_correlation_id,
        )
        return self

    # ------------------------------------------------------------------
    # reconciliation (scheduled flow tax.reconcile)
    # ------------------------------------------------------------------
    def _fi_tax_reconcile(self, endpoint, date_from, date_to):
        engine = endpoint._fi_tax_engine()
        remote, skip = {}, 0
        while True:
            try:
                page, more = endpoint._fi_engine_call(
                    engine.list_transactions(date_from, date_to, skip=skip),
                    engine.parse_list,
                )
            except EngineError as err:
                raise engine_error_to_fi(err) from None
            for item in page:
                remote[item.code] = item
            skip += len(page)
            if not more or not page:
                break
        moves = self.search(
            [
                ("company_id", "=", endpoint.company_id.id),
                ("move_type", "in", ("out_invoice", "out_refund")),
                ("invoice_date", ">=", date_from),
                ("invoice_date", "<=", date_to),
                ("state", "in", ("posted", "cancel")),
                ("fi_tax_code", "!=", False),
            ]
        )
        problems = []
        for move in moves:
            item = remote.pop(move.fi_tax_code, None)
            if move.state == "cancel":
                if item and item.status not in ("Cancelled", "Adjusted"):
                    problems.append(
                        (
                            move,
                            _(
                                "%(code)s is cancelled in Odoo but %(s)s in the engine",
                                code=move.fi_tax_code,
                                s=item.status,
                            ),
                        )
                    )
                continue
            if not item:
                problems.append(
                    (
                        move,
                        _(
                            "%s is posted in Odoo but missing in the engine",
                            move.fi_tax_code,
                        ),
                    )
                )
            elif item.status != "Committed":
                problems.append(
                    (
                        move,
                        _(
                            "%(code)s is posted in Odoo but %(s)s in the engine",
                            code=move.fi_tax_code,
                            s=item.status,
                        ),
                    )
                )
            elif move._fi_quant(abs(item.total_tax)) != move._fi_tax_odoo_total():
                problems.append(
                    (
                        move,
                        _(
                            "%(code)s: tax %(odoo)s in Odoo, %(eng)s in the engine",
                            code=move.fi_tax_code,
                            odoo=move._fi_tax_odoo_total(),
                            eng=abs(item.total_tax),
                        ),
                    )
                )
        for code, item in remote.items():
            if item.status != "Cancelled":
                problems.append(
                    (
                        endpoint,
                        _(
                            "%(code)s (%(s)s) is in the engine but not posted in Odoo",
                            code=code,
                            s=item.status,
                        ),
                    )
                )
        for record, detail in problems:
            endpoint._fi_tax_exception(
                "tax.reconcile",
                record,
                "tax_reconciliation",
                _(
                    "Reconciliation %(f)s..%(t)s: %(d)s",
                    f=date_from,
                    t=date_to,
                    d=detail,
                ),
            )
        return f"reconciled {len(moves)} invoices: {len(problems)} differences"

    # ------------------------------------------------------------------
    # e-invoicing
    # ------------------------------------------------------------------
    def _fi_clearance_endpoint(self):
        endpoint = self.company_id.fi_clearance_endpoint_id
        return endpoint if endpoint and endpoint.state == "active" else None

    def _fi_einvoice_applies(self):
        self.ensure_one()
        return (
            self.move_type in ("out_invoice", "out_refund")
            and self.state == "posted"
            and self.commercial_partner_id.fi_einvoicing
            and bool(self._fi_clearance_endpoint())
        )

    def _fi_einvoice_xml(self):
        xml, errors = self.env["account.edi.xml.ubl_bis3"]._export_invoice(self)
        return xml, sorted(errors)

    def _fi_einvoice_prepare(self):
        """Build the Peppol BIS 3 document, validate it (EN 16931 + Peppol),
        archive it with its hash and queue its submission."""
        self.ensure_one()
        endpoint = self._fi_clearance_endpoint()
        if not self.fi_correlation_id:
            self.fi_correlation_id = uuid.uuid4().hex
        xml, odoo_errors = self._fi_einvoice_xml()
        report = validate_ubl(xml)
        previous = self.fi_einvoice_document_ids.sorted("version", reverse=True)[:1]
        version = previous.version + 1 if previous else 1
        if odoo_errors or not report.valid:
            lines = [f"Odoo: {e}" for e in odoo_errors] + [
                f"{f.rule_id} [{f.source}] {f.message} (at {f.location})"
                for f in report.errors
            ]
            self.with_context(fi_einvoice_internal=True).write(
                {"fi_einvoice_state": "invalid"}
            )
            endpoint._fi_tax_exception(
                "einvoice.submit",
                self,
                "einvoice_invalid",
                _(
                    "E-invoice of %(name)s fails validation and was not sent:\n%(l)s",
                    name=self.name,
                    l="\n".join(lines),
                ),
                facts={"rules": [f.rule_id for f in report.errors]},
                correlation_id=self.fi_correlation_id,
            )
            return None
        policy = self.company_id.fi_clearance_unavailable_policy
        if policy == "block":
            try:
                endpoint._fi_clearance_call("GET", "health")
            except (clr.ClearanceError, FiTransientError) as err:
                raise UserError(
                    _(
                        "The clearance platform %(p)s is unavailable (%(e)s): invoice "
                        "%(name)s was not validated.",
                        p=endpoint.name,
                        e=err,
                        name=self.name,
                    )
                ) from None
        sha = sha256_hex(xml)
        attachment = (
            self.env["ir.attachment"]
            .sudo()
            .create(
                {
                    "name": f"{self.name.replace('/', '_')}_v{version}_peppol.xml",
                    "raw": xml,
                    "mimetype": "application/xml",
                    "res_model": "account.move",
                    "res_id": self.id,
                    "fi_legal_archive": True,
                    "description": f"SHA-256 {sha}",
                }
            )
        )
        key = clr.idempotency_key(self.name, version, sha)
        doc = (
            self.env["fi.einvoice.document"]
            .sudo()
            .create(
                {
                    "move_id": self.id,
                    "endpoint_id": endpoint.id,
                    "version": version,
                    "sha256": sha,
                    "attachment_id": attachment.id,
                    "idempotency_key": key,
                    "fi_correlation_id": self.fi_correlation_id,
                }
            )
        )
        previous.sudo().filtered(lambda d: d.state == "rejected").with_context(
            fi_einvoice_internal=True
        ).write({"state": "superseded"})
        message = endpoint.with_context(fi_defer_sending=policy == "later")._fi_send(
            endpoint._fi_tax_flow("einvoice.submit"),
            {
                "document_id": doc.id,
                "move_id": self.id,
                "version": version,
                "sha256": sha,
            },
            record=self,
            idempotency_key=key,
            correlation_id=self.fi_correlation_id,
        )
        doc.with_context(fi_einvoice_internal=True).message_id = message
        self.with_context(fi_einvoice_internal=True).write(
            {"fi_einvoice_state": "to_submit"}
        )
        return doc

    def action_fi_verify_einvoice(self):
        """Prove the archived document still matches the hash stored when it
        was submitted."""
        self.ensure_one()
        docs = self.fi_einvoice_document_ids
        if not docs:
            raise UserError(_("Invoice %s has no e-invoice document.", self.name))
        broken = docs.filtered(lambda d: not d._fi_verify())
        if broken:
            raise UserError(
                _(
                    "E-invoice %(name)s v%(v)s does NOT match its stored SHA-256 "
                    "%(sha)s: the archive was altered.",
                    name=self.name,
                    v=broken[0].version,
                    sha=broken[0].sha256,
                )
            )
        text = _(
            "All %(n)s e-invoice versions of %(name)s match their SHA-256.",
            n=len(docs),
            name=self.name,
        )
        self.message_post(body=text)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"type": "success", "message": text},
        }
