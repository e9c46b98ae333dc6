# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from decimal import Decimal

from odoo import _, models

from odoo.addons.finance_integration_core.lib.errors import (
    FiBusinessError,
    FiIgnored,
    FiTransientError,
)

from ..lib.batch import rounds
from ..lib.money import minor_to_decimal

#: metadata keys naming the Odoo invoice of a PaymentIntent
INVOICE_ID_KEYS = ("odoo_invoice_id", "invoice_id")
INVOICE_NAME_KEYS = ("odoo_invoice", "invoice_number", "invoice")


class FiEndpoint(models.Model):
    _inherit = "fi.endpoint"

    # ------------------------------------------------------------------
    # payment intents
    # ------------------------------------------------------------------
    def _fi_handle_inbound_batch(self, messages, documents):
        """``payment_intent.succeeded`` events in one go: each checked as
        alone (``_fi_stripe_payment_plan``: re-fetch, match, idempotency,
        payment_stripe link, unmatched exception), then the payments posted
        together (``_fi_stripe_post_plans``). Other events, and a second
        event of a PaymentIntent of the batch, are handled one by one after
        it, as they would be alone."""
        if self.provider != "stripe":
            return super()._fi_handle_inbound_batch(messages, documents)
        results = [None] * len(messages)
        plans, planned, alone = [], set(), []
        known = self._fi_stripe_batch_known(documents)
        for index, (message, document) in enumerate(
            zip(messages, documents, strict=True)
        ):
            obj = (document.get("data") or {}).get("object")
            intent_id = obj.get("id") if isinstance(obj, dict) else None
            if document.get("type") != "payment_intent.succeeded" or (
                intent_id in planned
            ):
                alone.append(index)
                continue
            try:
                with self.env.cr.savepoint():
                    suffix, obj = self._fi_stripe_event_object(message, document)
                    plan = self._fi_stripe_payment_plan(
                        message, document, obj, known=known
                    )
            except Exception as err:  # noqa: BLE001 - this message's outcome
                results[index] = err
                continue
            if isinstance(plan, dict):
                plans.append((index, plan))
                planned.add(intent_id)
            else:
                results[index] = plan
        # a failure here fails the batch: core then processes each alone
        posted = self._fi_stripe_post_plans([plan for _index, plan in plans])
        for (index, _plan), payment in zip(plans, posted, strict=True):
            results[index] = payment
        rest = super()._fi_handle_inbound_batch(
            messages.browse([messages[i].id for i in alone]),
            [documents[i] for i in alone],
        )
        for index, result in zip(alone, rest, strict=True):
            results[index] = result
        return results

    def _fi_stripe_batch_known(self, documents):
        """``_fi_stripe_known`` of a batch of events: its PaymentIntents, and
        the invoices their events name read into the cache (each plan still
        finds its invoice from the re-fetched PaymentIntent)."""
        intents, invoice_ids = [], set()
        for document in documents:
            obj = (document.get("data") or {}).get("object")
            if document.get("type") != "payment_intent.succeeded" or not (
                isinstance(obj, dict) and obj.get("id")
            ):
                continue
            intents.append(str(obj["id"]))
            metadata = obj.get("metadata") or {}
            for key in INVOICE_ID_KEYS:
                if str(metadata.get(key) or "").isdigit():
                    invoice_ids.add(int(metadata[key]))
        invoices = self.env["account.move"].browse(invoice_ids).exists()
        invoices.fetch(["currency_id", "partner_id", "state", "move_type"])
        invoices.partner_id.fetch(["commercial_partner_id"])
        return self._fi_stripe_known(intents)

    def _fi_stripe_known(self, intent_ids):
        """What the plans of these PaymentIntents look up, in one search each:
        their bindings, and the payment_stripe transactions carrying them."""
        transactions = {}
        for tx in (
            self.env["payment.transaction"]
            .sudo()
            .search(
                [
                    ("provider_reference", "in", list(intent_ids)),
                    ("provider_code", "=", "stripe"),
                ]
            )
        ):
            # the first in the model's order, as a search of one would find
            transactions.setdefault(tx.provider_reference, tx)
        return {
            "bound": self.env["fi.binding"].to_odoo_many(
                self, "payment_intent", intent_ids
            ),
            "transactions": transactions,
        }

    def _fi_stripe_on_payment_intent(self, message, document, obj):
        plan = self._fi_stripe_payment_plan(message, document, obj)
        if not isinstance(plan, dict):
            return plan
        return self._fi_stripe_post_plans([plan])[0]

    def _fi_stripe_payment_plan(self, message, document, obj, known=None):
        """Everything a PaymentIntent event needs checked before its payment
        is posted: the record it resolves to (bound already, linked to its
        payment_stripe payment, an invoice told of a failure), or the plan of
        its payment (a dict for ``_fi_stripe_post_plans``). Raises what the
        message fails with; writes nothing when it returns a plan. ``known``:
        the bindings and transactions of a batch (``_fi_stripe_batch_known``),
        else read for this PaymentIntent."""
        binding = self.env["fi.binding"]
        if known is None:
            known = self._fi_stripe_known([str(obj["id"])])
        bound = known["bound"].get(str(obj["id"]))
        if bound:
            return bound  # a redelivery or a replay: posted once
        intent = self._fi_stripe_fetch("payment_intent", obj["id"])
        self._fi_stripe_required(
            intent, "status", "amount_received", "currency", "metadata"
        )
        foreign = self._fi_stripe_foreign_payment(intent)
        if foreign:
            raise FiIgnored(foreign)
        status = intent["status"]
        invoice = self._fi_stripe_invoice_of(intent)
        if status != "succeeded":
            # failed or canceled (or still open): nothing to post; the
            # invoice, when known, says what happened
            if invoice:
                invoice.message_post(
                    body=_(
                        "Stripe PaymentIntent %(pi)s is %(status)s (event %(event)s).",
                        pi=intent["id"],
                        status=status,
                        event=document.get("type"),
                    )
                )
                return invoice
            raise FiIgnored(
                _(
                    "PaymentIntent %(pi)s is %(status)s and names no Odoo invoice: "
                    "nothing to post.",
                    pi=intent["id"],
                    status=status,
                )
            )
        currency = self._fi_stripe_currency(intent["currency"])
        amount = minor_to_decimal(intent["amount_received"], intent["currency"])
        if not invoice:
            raise FiBusinessError(
                self._fi_stripe_unmatched_text(intent, currency, amount),
                "unmatched_payment",
            )
        if invoice.currency_id != currency:
            raise FiBusinessError(
                _(
                    "PaymentIntent %(pi)s is in %(cur)s, invoice %(inv)s in "
                    "%(inv_cur)s.",
                    pi=intent["id"],
                    cur=currency.name,
                    inv=invoice.name,
                    inv_cur=invoice.currency_id.name,
                ),
                "unmatched_payment",
            )
        # coexistence with payment_stripe: the transaction it created for
        # this PaymentIntent keeps its payment; never a second one
        transaction = known["transactions"].get(
            intent["id"], self.env["payment.transaction"].sudo()
        )
        if transaction.payment_id:
            payment = transaction.payment_id
            binding.bind(self, "payment_intent", intent["id"], payment, message)
            self._fi_stripe_audit(
                "stripe.payment_linked",
                _(
                    "PaymentIntent %s linked to its payment_stripe payment",
                    intent["id"],
                ),
                payment,
                message,
                {"payment_intent": intent["id"], "payment_id": payment.id},
            )
            return payment
        values = self._fi_stripe_payment_values(
            message,
            invoice.partner_id.commercial_partner_id,
            currency,
            amount,
            "inbound",
            intent["id"],
            transaction=transaction,
        )
        return {
            "message": message,
            "intent_id": intent["id"],
            "invoice": invoice,
            "currency": currency,
            "amount": amount,
            "transaction": transaction,
            "values": values,
        }

    def _fi_stripe_post_plans(self, plans):
        """Post the payments of checked PaymentIntents (``_fi_stripe_payment_plan``)
        together: one create, one post, one reconciliation plan (an invoice paid
        twice in the batch waits for the next round), then the binding and
        the audit event of each. Returns the payments in the order of
        ``plans``."""
        binding = self.env["fi.binding"]
        payments = {}
        for batch in rounds(plans, key=lambda plan: plan["invoice"].id):
            posted = self._fi_stripe_post_payments(
                [
                    (plan["values"], plan["transaction"], plan["message"])
                    for plan in batch
                ]
            )
            self._fi_stripe_reconcile_many(
                [
                    (payment, plan["invoice"])
                    for payment, plan in zip(posted, batch, strict=True)
                ]
            )
            for payment, plan in zip(posted, batch, strict=True):
                message, invoice = plan["message"], plan["invoice"]
                binding.bind(
                    self, "payment_intent", plan["intent_id"], payment, message
                )
                self._fi_stripe_audit(
                    "stripe.payment_posted",
                    _(
                        "Stripe payment %(pi)s posted and reconciled with %(inv)s",
                        pi=plan["intent_id"],
                        inv=invoice.name,
                    ),
                    payment,
                    message,
                    {
                        "payment_intent": plan["intent_id"],
                        "amount": str(plan["amount"]),
                        "currency": plan["currency"].name,
                        "invoice": invoice.name,
                    },
                )
                payments[id(plan)] = payment
        # an uncollectible invoice paid after all: its write-off is withdrawn
        paid = {plan["invoice"].id: plan["message"] for plan in plans}
        self.env["account.move"].browse(list(paid))._fi_stripe_withdraw_paid_writeoffs(
            paid
        )
        return [payments[id(plan)] for plan in plans]

    def _fi_stripe_foreign_payment(self, payment):
        """Why a Stripe PaymentIntent or charge is not this connector's
        business (another application's payment on the same account, a
        card-present payment: booked by whoever took it), or None. The one
        rule of the payment flow, of refunds and of the daily reconciliation."""
        label = _("Charge") if payment.get("object") == "charge" else _("PaymentIntent")
        if payment.get("application"):
            return _(
                "%(kind)s %(id)s belongs to the Stripe application %(app)s, not to "
                "this company's own payments.",
                kind=label,
                id=payment["id"],
                app=payment["application"],
            )
        methods = list(payment.get("payment_method_types") or [])
        methods.append((payment.get("payment_method_details") or {}).get("type"))
        if "card_present" in methods:
            return _(
                "%(kind)s %(id)s is a card-present payment.",
                kind=label,
                id=payment["id"],
            )
        return None

    def _fi_stripe_foreign_refund(self, refund, charge=None):
        """Why a refund is not this connector's business (a refund of a
        payment the payment flow ignores, or of a charge without
        PaymentIntent, which the payment flow never books), or None. Reads
        its PaymentIntent, else its charge (``charge`` when already read)."""
        intent_id = refund.get("payment_intent") or (charge or {}).get("payment_intent")
        if intent_id:
            why = self._fi_stripe_foreign_payment(
                self._fi_stripe_fetch("payment_intent", intent_id)
            )
        else:
            charge = charge or self._fi_stripe_fetch("charge", refund["charge"])
            why = self._fi_stripe_foreign_payment(charge)
            if not why and not charge.get("payment_intent"):
                why = _(
                    "charge %s has no PaymentIntent (the payment flow books "
                    "PaymentIntents only).",
                    refund["charge"],
                )
        if not why:
            return None
        return _(
            "Refund %(re)s is not this connector's business: %(why)s",
            re=refund["id"],
            why=why,
        )

    def _fi_stripe_invoice_of(self, intent):
        """The Odoo invoice a PaymentIntent pays: metadata id or number, then
        the Stripe invoice binding; None when nothing names one."""
        moves = self.env["account.move"]
        metadata = intent.get("metadata") or {}
        for key in INVOICE_ID_KEYS:
            value = str(metadata.get(key) or "")
            if value.isdigit():
                invoice = moves.search(
                    [
                        ("id", "=", int(value)),
                        ("move_type", "=", "out_invoice"),
                        ("company_id", "=", self.company_id.id),
                    ]
                )
                if invoice:
                    return invoice
        for key in INVOICE_NAME_KEYS:
            if metadata.get(key):
                invoice = moves.search(
                    [
                        ("name", "=", str(metadata[key])),
                        ("move_type", "=", "out_invoice"),
                        ("company_id", "=", self.company_id.id),
                    ],
                    limit=1,
                )
                if invoice:
                    return invoice
        if intent.get("invoice"):
            invoice = self.env["fi.binding"].to_odoo(self, "invoice", intent["invoice"])
            if invoice:
                return invoice
        return None

    def _fi_stripe_unmatched_text(self, intent, currency, amount):
        """The unmatched-payment exception text, with candidate invoices."""
        partner = None
        if intent.get("customer"):
            partner = self.env["fi.binding"].to_odoo(
                self, "customer", intent["customer"]
            )
        email = intent.get("receipt_email")
        domain = [
            ("move_type", "=", "out_invoice"),
            ("state", "=", "posted"),
            ("payment_state", "in", ("not_paid", "partial")),
            ("company_id", "=", self.company_id.id),
        ]
        who = []
        if partner:
            who.append(("partner_id", "child_of", partner.commercial_partner_id.id))
        if email:
            who.append(("partner_id.email", "=ilike", email))
        if len(who) == 2:
            domain += ["|", who[0], who[1]]
        elif who:
            domain.append(who[0])
        else:
            domain += [
                ("currency_id", "=", currency.id),
                ("amount_residual", "=", float(amount)),
            ]
        lines = []
        for invoice in self.env["account.move"].search(domain, limit=10):
            reasons = []
            if partner and invoice.partner_id.commercial_partner_id == (
                partner.commercial_partner_id
            ):
                reasons.append(_("same partner"))
            if email and (invoice.partner_id.email or "").lower() == email.lower():
                reasons.append(_("same email"))
            if invoice.currency_id == currency:
                reasons.append(_("same currency"))
                if (
                    invoice.currency_id.compare_amounts(
                        invoice.amount_residual, float(amount)
                    )
                    == 0
                ):
                    reasons.append(_("same amount"))
            reasons.append(_("open"))
            lines.append(f"- {invoice.name} ({invoice.id}): {', '.join(reasons)}")
        text = _(
            "Unmatched payment: Stripe PaymentIntent %(pi)s of %(amount)s "
            "%(cur)s names no Odoo invoice (metadata odoo_invoice_id or "
            "odoo_invoice, or a bound Stripe invoice).",
            pi=intent["id"],
            amount=amount,
            cur=currency.name,
        )
        if lines:
            return text + "\n" + _("Candidates:") + "\n" + "\n".join(lines)
        return text + " " + _("No open invoice is a candidate.")

    def _fi_stripe_post_payment(
        self, message, partner, currency, amount, direction, memo, transaction=None
    ):
        values = self._fi_stripe_payment_values(
            message, partner, currency, amount, direction, memo, transaction
        )
        return self._fi_stripe_post_payments([(values, transaction, message)])

    def _fi_stripe_payment_values(
        self, message, partner, currency, amount, direction, memo, transaction=None
    ):
        """The values of a Stripe payment on the clearing journal (checked:
        configured journal, an amount Odoo can book in ``currency``)."""
        self._fi_stripe_check_accounts("stripe_journal_id")
        step = Decimal(str(currency.rounding))
        if amount % step:
            raise FiBusinessError(
                _(
                    "%(amount)s %(cur)s from Stripe cannot be booked: Odoo rounds "
                    "%(cur)s to %(step)s. Fix the currency's rounding, then replay.",
                    amount=amount,
                    cur=currency.name,
                    step=step,
                ),
                "currency",
            )
        journal = self._fi_stripe_journal(currency)
        method_lines = (
            journal.inbound_payment_method_line_ids
            if direction == "inbound"
            else journal.outbound_payment_method_line_ids
        )
        values = {
            "payment_type": direction,
            "partner_type": "customer",
            "partner_id": partner.id,
            "amount": float(amount),
            "currency_id": currency.id,
            "journal_id": journal.id,
            "company_id": self.company_id.id,
            "payment_method_line_id": method_lines[:1].id,
            "memo": memo,
            "fi_correlation_id": message.correlation_id if message else False,
        }
        if transaction:
            values["payment_transaction_id"] = transaction.id
        return values

    def _fi_stripe_post_payments(self, specs):
        """Create and post payments together; ``specs`` are ``(values,
        transaction, message)`` triples (``_fi_stripe_payment_values``). The
        outstanding account of each is the clearing account of its currency; a
        payment_stripe transaction gets its payment. Returns the payments in
        the order of ``specs``.

        Created and posted without Odoo's chatter tracking ("created",
        "Draft -> In Process" on the payment and its entry: a dozen queries
        per payment, a third of the posting's cost): each payment gets one
        note instead, logged for the whole batch in one statement, that says
        where it comes from (Stripe object, event, integration message,
        correlation id). Later changes by users are tracked as usual, and so
        is the invoice the payment is reconciled with."""
        quiet = self.env["account.payment"].with_context(
            tracking_disable=True, mail_create_nolog=True, mail_create_nosubscribe=True
        )
        payments = quiet.create([values for values, _t, _m in specs])
        currencies = self.env["res.currency"].browse(
            [values["currency_id"] for values, _t, _m in specs]
        )
        by_clearing = {}
        for payment, currency in zip(payments, currencies, strict=True):
            clearing = self._fi_stripe_clearing(currency)
            if clearing:
                by_clearing.setdefault(clearing, payment.browse())
                by_clearing[clearing] |= payment
        for clearing, group in by_clearing.items():
            group.outstanding_account_id = clearing
        payments.action_post()
        payments = payments.with_env(self.env)
        payments._message_log_batch(
            bodies={
                payment.id: self._fi_stripe_payment_note(values, message)
                for payment, (values, _t, message) in zip(payments, specs, strict=True)
            },
            author_id=self.env.user.partner_id.id,
        )
        for payment, (_values, transaction, _m) in zip(payments, specs, strict=True):
            if transaction:
                transaction.payment_id = payment
        return payments

    def _fi_stripe_payment_note(self, values, message):
        """The chatter note of a payment posted by this connector."""
        if not message:
            return _(
                "Posted by the Stripe integration (endpoint %(endpoint)s) for "
                "Stripe %(ref)s.",
                endpoint=self.name,
                ref=values["memo"],
            )
        return _(
            "Posted by the Stripe integration (endpoint %(endpoint)s) for "
            "Stripe %(ref)s: event %(event)s (%(type)s), integration message "
            "%(message)s, correlation id %(correlation)s.",
            endpoint=self.name,
            ref=values["memo"],
            event=message.external_id or "-",
            type=message.event_type or "-",
            message=message.id,
            correlation=message.correlation_id or "-",
        )

    def _fi_stripe_reconcile(self, payment, document):
        """Reconcile a payment (or a credit note) with an invoice or credit
        note (open lines of the receivable account)."""
        self._fi_stripe_reconcile_many([(payment, document)])

    def _fi_stripe_reconcile_many(self, pairs):
        """Reconcile ``(payment or credit note, invoice or credit note)``
        pairs in one reconciliation plan, each pair on its own."""
        plan = []
        for payment, document in pairs:
            if not document or document.state != "posted":
                continue
            entry = payment.move_id if payment._name == "account.payment" else payment
            lines = (entry.line_ids | document.line_ids).filtered(
                lambda line: (
                    line.account_id.account_type == "asset_receivable"
                    and not line.reconciled
                )
            )
            if len(lines) > 1:
                plan.append(lines)
        if plan:
            # the callers withdraw write-offs naming the paying message
            self.env["account.move.line"].with_context(
                fi_stripe_writeoff_deferred=True
            )._reconcile_plan(plan)

    # ------------------------------------------------------------------
    # refunds
    # ------------------------------------------------------------------
    def _fi_stripe_on_charge_refunded(self, message, document, obj):
        """charge.refunded: every refund of the charge, each posted once."""
        charge = self._fi_stripe_fetch("charge", obj["id"])
        last = None
        api = self._fi_stripe_api()
        for refund in api.iterate("/v1/refunds", {"charge": charge["id"]}):
            last = self._fi_stripe_apply_refund(message, refund) or last
        return last

    def _fi_stripe_on_refund(self, message, document, obj):
        refund_id = obj["id"]
        if obj.get("object") == "charge":
            return self._fi_stripe_on_charge_refunded(message, document, obj)
        refund = self._fi_stripe_fetch("refund", refund_id)
        return self._fi_stripe_apply_refund(message, refund)

    def _fi_stripe_apply_refund(self, message, refund):
        self._fi_stripe_required(refund, "status", "amount", "currency", "charge")
        binding = self.env["fi.binding"]
        payment = binding.to_odoo(self, "refund", refund["id"])
        status = refund["status"]
        if status in ("failed", "canceled"):
            if payment and payment.state != "canceled":
                # a refund that failed after it was posted: the money is back
                payment.move_id.line_ids.remove_move_reconcile()
                payment.action_draft()
                payment.action_cancel()
                self._fi_stripe_audit(
                    "stripe.refund_reversed",
                    _(
                        "Stripe refund %s failed: its payment is cancelled",
                        refund["id"],
                    ),
                    payment,
                    message,
                    {"refund": refund["id"], "status": status},
                )
            return payment or None
        if payment:
            return payment  # posted once (or started from Odoo and bound)
        intent_id, charge = refund.get("payment_intent"), None
        if not intent_id:
            charge = self._fi_stripe_fetch("charge", refund["charge"])
            intent_id = charge.get("payment_intent")
        original = (
            binding.to_odoo(self, "payment_intent", intent_id) if intent_id else None
        )
        if not original:
            # a refund of a payment the payment flow ignores is ignored too,
            # never retried until it is dead
            foreign = self._fi_stripe_foreign_refund(refund, charge)
            if foreign:
                raise FiIgnored(foreign)
            raise FiTransientError(
                _(
                    "Refund %(re)s refers to charge %(ch)s whose payment is not in "
                    "Odoo yet: retrying later.",
                    re=refund["id"],
                    ch=refund["charge"],
                ),
                "stripe_out_of_order",
            )
        currency = self._fi_stripe_currency(refund["currency"])
        amount = minor_to_decimal(refund["amount"], refund["currency"])
        payment = self._fi_stripe_post_payment(
            message, original.partner_id, currency, amount, "outbound", refund["id"]
        )
        credit_note = None
        note_id = str((refund.get("metadata") or {}).get("odoo_credit_note_id") or "")
        if note_id.isdigit():
            credit_note = self.env["account.move"].search(
                [("id", "=", int(note_id)), ("move_type", "=", "out_refund")]
            )
        if credit_note:
            self._fi_stripe_reconcile(payment, credit_note)
        binding.bind(self, "refund", refund["id"], payment, message)
        self._fi_stripe_audit(
            "stripe.refund_posted",
            _("Stripe refund %s posted", refund["id"]),
            payment,
            message,
            {
                "refund": refund["id"],
                "payment_intent": intent_id,
                "amount": str(amount),
                "currency": currency.name,
            },
        )
        return payment
