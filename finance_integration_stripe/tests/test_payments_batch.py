# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""payment_intent.succeeded in batches (the flow's processing batch size):
exactly what one-by-one processing gives, one create / post / reconciliation
plan for the batch, and a failing message that fails alone."""

from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import StripeCommon


@tagged("post_install", "-at_install")
class TestStripePaymentsBatch(StripeCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.flow_pi = cls.endpoint.flow_ids.filtered(
            lambda f: f.event_type == "payment_intent.succeeded"
        )
        cls.provider = cls.env.ref("payment.payment_provider_stripe")
        cls.provider.journal_id = cls.journal

    def spy(self):
        """Record the audit events and the batched posting calls."""
        audits, posted = [], []
        audit_class = type(self.env["fi.audit"])
        endpoint_class = type(self.env["fi.endpoint"])
        audit_event = audit_class._fi_event
        post_payments = endpoint_class._fi_stripe_post_payments

        def record_audit(model, event_type, summary, **kw):
            # the connector's own events (the audit addon adds generic ones)
            message = kw.get("message")
            if event_type.startswith("stripe."):
                audits.append((event_type, message.id if message else None))
            return audit_event(model, event_type, summary, **kw)

        def record_post(endpoint, specs):
            posted.append(len(specs))
            return post_payments(endpoint, specs)

        return (
            audits,
            posted,
            (
                patch.object(audit_class, "_fi_event", record_audit),
                patch.object(endpoint_class, "_fi_stripe_post_payments", record_post),
            ),
        )

    def scenario(self, tag, batch_size):
        """Three matched intents (one of them known to payment_stripe), one
        unmatched, one already paid, one delivered twice and one paid by two
        events; processed by the jobs at ``batch_size``. Returns what each
        message gave, comparable between batch sizes."""
        self.flow_pi.process_batch_size = batch_size
        invoices = [self.invoice(amount) for amount in (11.0, 12.0, 13.0, 14.0, 15.0)]
        matched = [
            self.intent(invoices[0], 1100, id=f"pi_{tag}_m0"),
            self.intent(invoices[1], 1200, id=f"pi_{tag}_m1"),
            self.intent(invoices[2], 1300, id=f"pi_{tag}_m2"),
        ]
        transaction = self.env["payment.transaction"].create(
            {
                "provider_id": self.provider.id,
                "payment_method_id": self.env.ref("payment.payment_method_card").id,
                "reference": f"TX-{tag}",
                "amount": 12.0,
                "currency_id": self.usd.id,
                "partner_id": self.customer.id,
                "provider_reference": matched[1]["id"],
                "invoice_ids": [(6, 0, invoices[1].ids)],
            }
        )
        unmatched = self.intent(
            None, 4200, id=f"pi_{tag}_u", receipt_email="jenny.rosen@example.com"
        )
        paid = self.intent(invoices[3], 1400, id=f"pi_{tag}_p")
        twice = self.intent(invoices[4], 1500, id=f"pi_{tag}_t")
        # already paid: its first event was processed before
        first = self.stripe.event("payment_intent.succeeded", paid)
        self.deliver(first)
        self.run_jobs()
        self.assertEqual(self.message_of(first).state, "done")
        events = {
            "m0": self.stripe.event("payment_intent.succeeded", matched[0]),
            "m1": self.stripe.event("payment_intent.succeeded", matched[1]),
            "u": self.stripe.event("payment_intent.succeeded", unmatched),
            "p": self.stripe.event("payment_intent.succeeded", paid),
            "t1": self.stripe.event("payment_intent.succeeded", twice),
            "m2": self.stripe.event("payment_intent.succeeded", matched[2]),
            "t2": self.stripe.event("payment_intent.succeeded", twice),
        }
        audits, posted, patches = self.spy()
        with patches[0], patches[1]:
            for event in events.values():
                status, answer = self.deliver(event)
                self.assertEqual(answer["status"], "received")
            status, answer = self.deliver(events["m0"])  # Stripe redelivers
            self.assertEqual(answer["status"], "duplicate")
            self.run_jobs()
        outcome = {}
        for role, event in events.items():
            message = self.message_of(event)
            intent_id = event["data"]["object"]["id"]
            payments = self.env["account.payment"].search([("memo", "=", intent_id)])
            record = (
                self.env[message.res_model].browse(message.res_id)
                if message.res_model
                else None
            )
            outcome[role] = {
                "state": message.state,
                "error_code": message.error_code or None,
                "attempts": message.attempts,
                "exceptions": len(message.exception_ids),
                "record_is_payment": record == payments and bool(payments),
                "payments": [(p.amount, p.state) for p in payments],
                "correlated": payments.fi_correlation_id
                == self.message_of(
                    first if role == "p" else events["t1" if role == "t2" else role]
                ).correlation_id
                if payments
                else None,
                "audits": sorted(t for t, m in audits if m == message.id),
            }
        outcome["invoices"] = [invoice.payment_state for invoice in invoices]
        outcome["transaction"] = transaction.payment_id == self.bound(
            "payment_intent", matched[1]["id"]
        )
        return outcome, posted

    def test_batch_gives_exactly_what_one_by_one_gives(self):
        alone, posted_alone = self.scenario("one", 1)
        batched, posted_batched = self.scenario("batch", 20)
        self.assertEqual(batched, alone)
        # what one-by-one gives is what the issue asks
        for role in ("m0", "m1", "m2", "t1"):
            self.assertEqual(alone[role]["state"], "done", role)
            self.assertTrue(alone[role]["record_is_payment"], role)
            self.assertEqual(len(alone[role]["payments"]), 1, role)
            self.assertTrue(alone[role]["correlated"], role)
            self.assertEqual(alone[role]["audits"], ["stripe.payment_posted"], role)
        self.assertEqual(alone["u"]["state"], "failed")
        self.assertEqual(alone["u"]["error_code"], "unmatched_payment")
        self.assertEqual(alone["u"]["exceptions"], 1)
        self.assertEqual(alone["u"]["payments"], [])
        for role in ("p", "t2"):  # already paid, second event: posted once
            self.assertEqual(alone[role]["state"], "done", role)
            self.assertTrue(alone[role]["record_is_payment"], role)
            self.assertEqual(len(alone[role]["payments"]), 1, role)
            self.assertEqual(alone[role]["audits"], [], role)
        self.assertEqual(alone["invoices"], ["paid"] * 5)
        self.assertTrue(alone["transaction"], "payment_stripe's transaction linked")
        # one by one: one payment per create; batched: the four new payments
        # in one create (one post, one reconciliation plan)
        self.assertEqual(posted_alone, [1, 1, 1, 1])
        self.assertEqual(posted_batched, [4])

    def test_failing_payment_falls_back_and_fails_alone(self):
        self.flow_pi.process_batch_size = 10
        invoices = [self.invoice(amount) for amount in (21.0, 22.0, 23.0)]
        intents = [
            self.intent(invoice, int(invoice.amount_total * 100))
            for invoice in invoices
        ]
        poison = intents[1]["id"]
        action_post = type(self.env["account.payment"]).action_post

        def refuse_poison(payments):
            if poison in payments.mapped("memo"):
                raise UserError(f"posting {poison} is refused")
            return action_post(payments)

        events = [
            self.stripe.event("payment_intent.succeeded", intent) for intent in intents
        ]
        audits, posted, patches = self.spy()
        with (
            patches[1],
            patch.object(
                type(self.env["account.payment"]), "action_post", refuse_poison
            ),
        ):
            for event in events:
                self.deliver(event)
            self.run_jobs()
        self.assertEqual(posted[0], 3, "the batch tried all three together")
        states = [self.message_of(event).state for event in events]
        self.assertEqual(states, ["done", "failed", "done"])
        bad = self.message_of(events[1])
        self.assertEqual(bad.error_code, "business_rule")
        self.assertIn("refused", bad.exception_ids.detail)
        self.assertFalse(self.env["account.payment"].search([("memo", "=", poison)]))
        self.assertEqual(
            [invoice.payment_state for invoice in invoices],
            ["paid", "not_paid", "paid"],
        )
        for intent in (intents[0], intents[2]):
            self.assertEqual(
                self.env["account.payment"].search_count([("memo", "=", intent["id"])]),
                1,
            )
