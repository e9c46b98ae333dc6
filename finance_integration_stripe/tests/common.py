# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""A Stripe endpoint wired to a local Stripe API, signed deliveries, invoices."""

import json
import time
from unittest.mock import patch

import stripe

from odoo import Command

from odoo.addons.finance_integration_core.tests.common import FiCommon

from .stripe_server import FakeStripe

WHSEC = "whsec_test_stripe_0123456789abcdef"
WHSEC_NEXT = "whsec_test_stripe_rotated_fedcba9876"


class StripeCommon(FiCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stripe = FakeStripe().start()
        cls.addClassCleanup(cls.stripe.stop)
        cls.company = cls.env.company
        cls.usd = cls.env.ref("base.USD")
        cls.eur = cls.env.ref("base.EUR")
        cls.jpy = cls.env.ref("base.JPY")
        cls.kwd = cls.env.ref("base.KWD")
        (cls.eur | cls.jpy | cls.kwd).active = True
        Account = cls.env["account.account"]

        def account(code, name, kind, reconcile=False):
            return Account.create(
                {
                    "code": code,
                    "name": name,
                    "account_type": kind,
                    "reconcile": reconcile,
                }
            )

        cls.clearing = account("S1001", "Stripe clearing", "asset_current", True)
        cls.transit = account("S1002", "Stripe payout transit", "asset_current", True)
        cls.fees = account("S6001", "Stripe fees", "expense")
        cls.disputes = account("S6002", "Stripe disputes", "asset_current")
        cls.dispute_losses = account("S6004", "Stripe dispute losses", "expense")
        cls.fx = account("S6003", "Stripe FX differences", "expense")
        cls.bad_debts = account("S6005", "Stripe bad debts", "expense")
        cls.opening = account("S1999", "Stripe opening balance", "asset_current")
        cls.journal = cls.env["account.journal"].create(
            {"name": "Stripe", "code": "STRP", "type": "bank"}
        )
        (
            cls.journal.inbound_payment_method_line_ids
            | cls.journal.outbound_payment_method_line_ids
        ).payment_account_id = cls.clearing
        cls.misc = cls.env["account.journal"].create(
            {"name": "Stripe settlements", "code": "STSE", "type": "general"}
        )
        cls.stripe_bot = cls.env.ref("finance_integration_stripe.user_fi_stripe_bot")
        manager = cls.env.ref("finance_integration_core.group_fi_manager")
        cls.manager_b = cls.env["res.users"].create(
            {
                "name": "Second Manager",
                "login": "fi_stripe_manager_b",
                "groups_id": [
                    Command.set([manager.id, cls.env.ref("base.group_user").id])
                ],
            }
        )
        cls.endpoint = cls.env["fi.endpoint"].create(
            {
                "name": "Stripe (test)",
                "provider": "stripe",
                "environment": "sandbox",
                "state": "active",
                "base_url": cls.stripe.url,
                "credential": cls.stripe.api_key,
                "webhook_secret": WHSEC,
                "integration_user_id": cls.stripe_bot.id,
                "responsible_id": cls.owner.id,
                "retry_base_seconds": 1,
                "retry_cap_seconds": 2,
                "stripe_journal_id": cls.journal.id,
                "stripe_clearing_account_id": cls.clearing.id,
                "stripe_settlement_journal_id": cls.misc.id,
                "stripe_fee_account_id": cls.fees.id,
                "stripe_dispute_account_id": cls.disputes.id,
                "stripe_transit_account_id": cls.transit.id,
                "stripe_fx_account_id": cls.fx.id,
                "stripe_dispute_loss_account_id": cls.dispute_losses.id,
                "stripe_dispute_threshold": 50.0,
                "stripe_writeoff_account_id": cls.bad_debts.id,
                "stripe_uncollectible_threshold": 50.0,
                "stripe_opening_account_id": cls.opening.id,
            }
        )
        cls.endpoint.action_fi_stripe_install_flows()
        vmap = cls.env["fi.value.map"].search(
            [
                ("code", "=", "stripe_balance_category"),
                ("endpoint_id", "=", cls.endpoint.id),
            ]
        )
        version = vmap.version_ids
        version.with_user(cls.manager_b).action_approve()
        version.with_user(cls.manager_b).action_activate()
        cls.vmap = vmap
        cls.customer = cls.env["res.partner"].create(
            {"name": "Jenny Rosen", "email": "jenny.rosen@example.com"}
        )

    def record_audit(self):
        """The audit events recorded from now on: ``[(event_type, kwargs)]``
        (core's ``_fi_event`` still runs)."""
        events = []
        audit = self.env.registry["fi.audit"]
        original = audit._fi_event

        def record(model, event_type, summary, **kw):
            events.append((event_type, kw))
            return original(model, event_type, summary, **kw)

        patcher = patch.object(audit, "_fi_event", record)
        patcher.start()
        self.addCleanup(patcher.stop)
        return events

    # -- Odoo side -----------------------------------------------------------
    @classmethod
    def invoice(cls, amount, currency=None, partner=None):
        move = cls.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": (partner or cls.customer).id,
                "currency_id": (currency or cls.usd).id,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": "Subscription",
                            "quantity": 1,
                            "price_unit": amount,
                            "tax_ids": [],
                        }
                    )
                ],
            }
        )
        move.action_post()
        return move

    # -- Stripe side ---------------------------------------------------------
    def intent(self, invoice, amount_minor, currency="usd", status="succeeded", **kw):
        pid = kw.pop("id", None) or f"pi_{invoice.id}_{amount_minor}_{currency}"
        charge = self.stripe.add(
            "charge",
            id=f"ch_{pid[3:]}",
            amount=amount_minor,
            amount_captured=amount_minor,
            currency=currency,
            payment_intent=pid,
            paid=status == "succeeded",
            captured=status == "succeeded",
        )
        values = {
            "id": pid,
            "amount": amount_minor,
            "amount_received": amount_minor if status == "succeeded" else 0,
            "currency": currency,
            "status": status,
            "latest_charge": charge["id"],
            "metadata": {"odoo_invoice_id": str(invoice.id)} if invoice else {},
            "transfer_data": None,
            "application": None,
        }
        values.update(kw)
        return self.stripe.add("payment_intent", **values)

    def deliver(self, event, secret=WHSEC, timestamp=None):
        """Deliver ``event`` in-process, signed by the official Stripe SDK."""
        body = json.dumps(event).encode()
        header = stripe.WebhookSignature.generate_signature_header(
            body.decode(), secret, timestamp=timestamp or int(time.time())
        )
        headers = {"Content-Type": "application/json", "Stripe-Signature": header}
        return (
            self.env["fi.endpoint"]
            .sudo()
            ._fi_receive_webhook(
                self.endpoint.key, headers, lambda n: body[:n], len(body), "127.0.0.1"
            )
        )

    def message_of(self, event):
        return self.env["fi.message"].search(
            [("endpoint_id", "=", self.endpoint.id), ("external_id", "=", event["id"])]
        )

    def bound(self, external_type, external_id):
        return self.env["fi.binding"].to_odoo(self.endpoint, external_type, external_id)
