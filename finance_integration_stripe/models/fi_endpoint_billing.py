# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import UTC, datetime

from odoo import Command, _, fields, models

from odoo.addons.finance_integration_core.lib.errors import (
    FiBusinessError,
    FiIgnored,
    FiTransientError,
)

from ..lib.money import minor_to_decimal, quantity_and_unit


class FiEndpoint(models.Model):
    _inherit = "fi.endpoint"

    stripe_credit_adjustment_account_id = fields.Many2one(
        "account.account",
        "Credit Note Adjustments Account",
        help="Revenue (or sales allowances) account of the custom lines of "
        "Stripe credit notes, those that credit no invoice line (a goodwill "
        "credit, a discount after the fact). Empty: such a line takes the "
        "invoice's product when it has only one, else the journal's income "
        "account.",
    )

    # ------------------------------------------------------------------
    # customers -> partners
    # ------------------------------------------------------------------
    def _fi_stripe_on_customer(self, message, document, obj):
        customer = self._fi_stripe_fetch("customer", obj["id"])
        if customer.get("deleted"):
            raise FiIgnored(_("Customer %s is deleted in Stripe.", obj["id"]))
        return self._fi_stripe_partner(customer, message)

    def _fi_stripe_partner(self, customer, message=None):
        """The partner bound to a Stripe customer: an existing partner with the
        same email or VAT before a new one; bound once."""
        binding = self.env["fi.binding"]
        partner = binding.to_odoo(self, "customer", customer["id"])
        if partner:
            return partner
        partners = self.env["res.partner"]
        email = (customer.get("email") or "").strip()
        vat = ((customer.get("metadata") or {}).get("vat") or "").strip()
        company = [("company_id", "in", (False, self.company_id.id))]
        if vat:
            partner = partners.search(company + [("vat", "=", vat)], limit=1)
        if not partner and email:
            partner = partners.search(
                company + [("email", "=ilike", email), ("parent_id", "=", False)],
                limit=1,
            )
        if not partner:
            address = customer.get("address") or {}
            country = self.env["res.country"]
            if address.get("country"):
                country = country.search(
                    [("code", "=", address["country"].upper())], limit=1
                )
            partner = partners.create(
                {
                    "name": customer.get("name") or email or customer["id"],
                    "email": email or False,
                    "phone": customer.get("phone") or False,
                    "vat": vat or False,
                    "street": address.get("line1") or False,
                    "street2": address.get("line2") or False,
                    "zip": address.get("postal_code") or False,
                    "city": address.get("city") or False,
                    "country_id": country.id,
                    "company_id": False,
                }
            )
        binding.bind(self, "customer", customer["id"], partner, message)
        return partner

    # ------------------------------------------------------------------
    # Stripe Billing invoices -> Odoo invoices
    # ------------------------------------------------------------------
    def _fi_stripe_on_invoice(self, message, document, obj):
        invoice = self._fi_stripe_fetch("invoice", obj["id"])
        self._fi_stripe_required(
            invoice, "status", "customer", "currency", "total", "lines", "number"
        )
        binding = self.env["fi.binding"]
        move = binding.to_odoo(self, "invoice", invoice["id"])
        status = invoice["status"]
        if status == "draft":
            raise FiIgnored(
                _("Stripe invoice %s is still a draft: nothing to book.", invoice["id"])
            )
        if not move:
            move = self._fi_stripe_create_invoice(message, invoice)
        if status in ("void", "paid"):
            # a write-off proposed when Stripe marked it uncollectible is moot
            self._fi_stripe_withdraw_bad_debt(
                invoice,
                _(
                    "Stripe invoice %(number)s was %(status)s in the meantime",
                    number=invoice["number"],
                    status="voided" if status == "void" else status,
                ),
                message,
            )
        if status == "void":
            return self._fi_stripe_void_invoice(message, invoice, move)
        if status == "paid" and invoice.get("payment_intent"):
            payment = binding.to_odoo(self, "payment_intent", invoice["payment_intent"])
            if not payment:
                payment = self._fi_stripe_on_payment_intent(
                    message, document, {"id": invoice["payment_intent"]}
                )
            self._fi_stripe_reconcile(payment, move)
        return move

    def _fi_stripe_create_invoice(self, message, invoice):
        customer = self._fi_stripe_fetch("customer", invoice["customer"])
        partner = self._fi_stripe_partner(customer, message)
        currency = self._fi_stripe_currency(invoice["currency"])
        code = invoice["currency"]
        lookup = self.env["fi.value.map"].fi_lookup
        lines = []
        for item in self._fi_stripe_lines(invoice, "invoices"):
            price = item.get("price") or {}
            product_code = price.get("product") or price.get("id")
            if not product_code:
                raise FiBusinessError(
                    _(
                        "Line %(line)s of Stripe invoice %(inv)s has no price or "
                        "product.",
                        line=item.get("id"),
                        inv=invoice["id"],
                    ),
                    "stripe_field_missing",
                )
            product = lookup("stripe_product", product_code, endpoint=self)
            taxes = self._fi_stripe_taxes(
                amount.get("tax_rate") for amount in item.get("tax_amounts") or []
            )
            quantity, unit = quantity_and_unit(
                minor_to_decimal(int(item["amount"]), code), item.get("quantity")
            )
            lines.append(
                Command.create(
                    {
                        "product_id": product.id,
                        "name": item.get("description") or product.display_name,
                        "quantity": quantity,
                        "price_unit": float(unit),
                        "tax_ids": [Command.set(taxes.ids)],
                    }
                )
            )
        created = invoice.get("status_transitions", {}).get(
            "finalized_at"
        ) or invoice.get("created")
        move_type = "out_invoice" if int(invoice["total"]) >= 0 else "out_refund"
        move = self.env["account.move"].create(
            {
                "move_type": move_type,
                "partner_id": partner.id,
                "currency_id": currency.id,
                "company_id": self.company_id.id,
                "invoice_date": datetime.fromtimestamp(created or 0, UTC).date(),
                "ref": invoice["number"],
                "payment_reference": invoice["number"],
                "invoice_line_ids": lines,
                "fi_correlation_id": message.correlation_id if message else False,
            }
        )
        billed = minor_to_decimal(abs(int(invoice["total"])), code)
        self._fi_stripe_check_total(
            _("Stripe invoice %s", invoice["number"]), billed, move
        )
        move.action_post()
        self.env["fi.binding"].bind(self, "invoice", invoice["id"], move, message)
        self._fi_stripe_audit(
            "stripe.invoice_created",
            _("Stripe invoice %(number)s booked as %(move)s")
            % {"number": invoice["number"], "move": move.name},
            move,
            message,
            {
                "invoice": invoice["id"],
                "number": invoice["number"],
                "total": str(billed),
                "currency": currency.name,
            },
        )
        return move

    def _fi_stripe_check_total(self, what, billed, move):
        """Stripe is the system of record for the amount: an Odoo document
        built from its lines must total what Stripe billed, never adjusted."""
        currency = move.currency_id
        if currency.compare_amounts(move.amount_total, float(billed)) != 0:
            raise FiBusinessError(
                _(
                    "%(what)s totals %(billed)s %(cur)s, the Odoo document built "
                    "from its lines %(odoo)s %(cur)s: check the tax and product "
                    "mappings; nothing was booked.",
                    what=what,
                    billed=billed,
                    cur=currency.name,
                    odoo=move.amount_total,
                ),
                "stripe_total_mismatch",
            )

    def _fi_stripe_void_invoice(self, message, invoice, move):
        reversal = self.env["fi.binding"].to_odoo(self, "invoice_void", invoice["id"])
        if reversal:
            return reversal
        if move.payment_state not in ("not_paid", "reversed"):
            raise FiBusinessError(
                _(
                    "Stripe voided invoice %(number)s but Odoo invoice %(move)s has "
                    "payments: unreconcile them first, then replay.",
                    number=invoice["number"],
                    move=move.name,
                ),
                "stripe_void_paid",
            )
        reversal = move._reverse_moves(
            [{"ref": _("Voided in Stripe: %s", invoice["number"])}], cancel=True
        )
        self.env["fi.binding"].bind(
            self, "invoice_void", invoice["id"], reversal, message
        )
        self._fi_stripe_audit(
            "stripe.invoice_voided",
            _("Stripe invoice %s voided: reversed", invoice["number"]),
            reversal,
            message,
            {"invoice": invoice["id"], "number": invoice["number"]},
        )
        return reversal

    # ------------------------------------------------------------------
    # Stripe Billing credit notes -> Odoo credit notes
    # ------------------------------------------------------------------
    def _fi_stripe_on_credit_note(self, message, document, obj):
        """credit_note.*: an Odoo credit note of the bound invoice, reconciled
        with it while it is open; the whole invoice: its reversal; part of it:
        one line per Stripe line (the invoice's product, taxes through the
        ``stripe_tax_rate`` map), its total equal to Stripe's or nothing is
        booked; voided: the Odoo credit note is cancelled."""
        note = self._fi_stripe_fetch("credit_note", obj["id"])
        self._fi_stripe_required(
            note, "status", "invoice", "total", "currency", "lines"
        )
        binding = self.env["fi.binding"]
        credit = binding.to_odoo(self, "credit_note", note["id"])
        if note["status"] == "void":
            if not credit:
                raise FiIgnored(
                    _("Stripe credit note %s is void and was never booked.", note["id"])
                )
            if credit.state == "posted":
                credit.line_ids.remove_move_reconcile()
                credit.button_draft()
                credit.button_cancel()
                self._fi_stripe_audit(
                    "stripe.credit_note_voided",
                    _("Stripe credit note %s voided: cancelled", note["id"]),
                    credit,
                    message,
                    {"credit_note": note["id"]},
                )
            return credit
        if credit:
            return credit
        invoice = binding.to_odoo(self, "invoice", note["invoice"])
        if not invoice:
            raise FiTransientError(
                _(
                    "Credit note %(cn)s is of Stripe invoice %(inv)s, not in Odoo "
                    "yet: retrying later.",
                    cn=note["id"],
                    inv=note["invoice"],
                ),
                "stripe_out_of_order",
            )
        currency = invoice.currency_id
        code = note["currency"]
        total = minor_to_decimal(int(note["total"]), code)
        label = _("Stripe credit note %s", note.get("number") or note["id"])
        if currency.compare_amounts(float(total), invoice.amount_total) == 0:
            credit = invoice._reverse_moves([{"ref": label}])
        else:
            credit = self._fi_stripe_partial_credit(note, invoice, label)
        credit.fi_correlation_id = message.correlation_id
        self._fi_stripe_check_total(label, total, credit)
        credit.action_post()
        self._fi_stripe_reconcile(credit, invoice)
        binding.bind(self, "credit_note", note["id"], credit, message)
        self._fi_stripe_audit(
            "stripe.credit_note_created",
            _("%(label)s booked as %(move)s", label=label, move=credit.name),
            credit,
            message,
            {
                "credit_note": note["id"],
                "invoice": note["invoice"],
                "total": str(total),
                "currency": currency.name,
            },
        )
        return credit

    def _fi_stripe_partial_credit(self, note, invoice, label):
        """The Odoo credit note of part of an invoice: one line per Stripe
        credit note line. A line crediting an invoice line takes the product
        of that Stripe invoice line (the ``stripe_product`` map, as the
        invoice did), so that the revenue it reverses is the one booked; a
        custom line goes to the endpoint's *Credit Note Adjustments Account*;
        without one, it takes the invoice's product when the invoice has only
        one, else none (the journal's income account). Taxes: the line's tax
        rates through the ``stripe_tax_rate`` map."""
        products = invoice.invoice_line_ids.product_id
        single = products if len(products) == 1 else products.browse()
        adjustments = self.stripe_credit_adjustment_account_id
        if adjustments:
            single = products.browse()
        credited = None  # the Stripe invoice's lines, read when a line needs them
        lines = []
        for item in self._fi_stripe_lines(note, "credit_notes"):
            product = single
            if item.get("type") == "invoice_line_item":
                if credited is None:
                    credited = {
                        line["id"]: line
                        for line in self._fi_stripe_api().iterate(
                            f"/v1/invoices/{note['invoice']}/lines"
                        )
                    }
                product = self._fi_stripe_credited_product(note, item, credited)
            rates = list(item.get("tax_rates") or []) + [
                amount.get("tax_rate") for amount in item.get("tax_amounts") or []
            ]
            taxes = self._fi_stripe_taxes(rate for rate in rates if rate)
            quantity, unit = quantity_and_unit(
                minor_to_decimal(int(item["amount"]), note["currency"]),
                item.get("quantity"),
            )
            values = {
                "product_id": product.id or False,
                "name": item.get("description") or product.display_name or label,
                "quantity": quantity,
                "price_unit": float(unit),
                "tax_ids": [Command.set(taxes.ids)],
            }
            if not product and adjustments:
                values["account_id"] = adjustments.id
            lines.append(Command.create(values))
        return self.env["account.move"].create(
            {
                "move_type": "out_refund",
                "partner_id": invoice.partner_id.id,
                "currency_id": invoice.currency_id.id,
                "company_id": self.company_id.id,
                "reversed_entry_id": invoice.id,
                "ref": label,
                "invoice_line_ids": lines,
            }
        )

    def _fi_stripe_taxes(self, rates):
        """The Odoo taxes of Stripe tax rates (objects or ids), through the
        ``stripe_tax_rate`` map."""
        lookup = self.env["fi.value.map"].fi_lookup
        taxes = self.env["account.tax"]
        for rate in rates:
            rate_id = rate.get("id") if isinstance(rate, dict) else rate
            taxes |= lookup("stripe_tax_rate", rate_id, endpoint=self)
        return taxes

    def _fi_stripe_lines(self, document, collection):
        """The line items of a Stripe invoice or credit note: the embedded
        list, or every page of ``/v1/<collection>/<id>/lines`` when Stripe
        embedded only the first."""
        items = document.get("lines") or {}
        if items.get("has_more"):
            return self._fi_stripe_api().iterate(
                f"/v1/{collection}/{document['id']}/lines"
            )
        return items.get("data") or []

    def _fi_stripe_credited_product(self, note, item, credited):
        """The product of the Stripe invoice line a credit note line credits."""
        source = credited.get(item.get("invoice_line_item"))
        price = (source or {}).get("price") or {}
        code = price.get("product") or price.get("id")
        if not code:
            raise FiBusinessError(
                _(
                    "Line %(line)s of Stripe credit note %(cn)s credits line "
                    "%(il)s, which Stripe invoice %(inv)s does not list with a "
                    "price or product: nothing was booked.",
                    line=item.get("id"),
                    cn=note["id"],
                    il=item.get("invoice_line_item"),
                    inv=note["invoice"],
                ),
                "stripe_field_missing",
            )
        return self.env["fi.value.map"].fi_lookup("stripe_product", code, endpoint=self)
