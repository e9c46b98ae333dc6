# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import time

from odoo.tests import tagged

from .common import StripeCommon


@tagged("post_install", "-at_install")
class TestStripeBilling(StripeCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.product = cls.env["product.product"].create(
            {"name": "Gold plan", "type": "service", "list_price": 0}
        )
        cls.tax = cls.env["account.tax"].create(
            {"name": "VAT 20% (Stripe)", "amount": 20, "type_tax_use": "sale"}
        )
        cls.map_of("stripe_product", "product.product", {"prod_gold": cls.product})
        cls.map_of("stripe_tax_rate", "account.tax", {"txr_vat20": cls.tax})

    @classmethod
    def map_of(cls, code, model, mapping):
        vmap = cls.env["fi.value.map"].create(
            {
                "name": code,
                "code": code,
                "endpoint_id": cls.endpoint.id,
                "target_model_id": cls.env["ir.model"]._get_id(model),
            }
        )
        version = cls.env["fi.value.map.version"].create(
            {
                "map_id": vmap.id,
                "line_ids": [
                    (0, 0, {"external_code": k, "value_ref": f"{model},{v.id}"})
                    for k, v in mapping.items()
                ],
            }
        )
        version.action_submit()
        version.with_user(cls.manager_b).action_approve()
        version.with_user(cls.manager_b).action_activate()

    def stripe_invoice(self, iid, customer, total, lines, status="open", **kw):
        values = {
            "id": iid,
            "customer": customer["id"],
            "currency": "usd",
            "number": f"STR-{iid[-4:]}",
            "status": status,
            "total": total,
            "created": int(time.time()),
            "status_transitions": {"finalized_at": int(time.time())},
            "payment_intent": None,
            "lines": {
                "object": "list",
                "has_more": False,
                "url": f"/v1/invoices/{iid}/lines",
                "data": lines,
            },
        }
        values.update(kw)
        return self.stripe.add("invoice", **values)

    def line(self, amount, quantity=1, taxed=True):
        return {
            "id": f"il_{amount}_{quantity}",
            "object": "line_item",
            "amount": amount,
            "currency": "usd",
            "description": "Gold plan",
            "quantity": quantity,
            "price": {"id": "price_gold", "object": "price", "product": "prod_gold"},
            "tax_amounts": [
                {"amount": amount // 5, "inclusive": False, "tax_rate": "txr_vat20"}
            ]
            if taxed
            else [],
        }

    def test_customer_binds_an_existing_partner_by_email(self):
        customer = self.stripe.add(
            "customer", id="cus_jenny", email="JENNY.ROSEN@example.com", name="Jenny"
        )
        new = self.stripe.add(
            "customer", id="cus_new", email="new.buyer@example.com", name="New Buyer"
        )
        for obj in (customer, new):
            self.deliver(self.stripe.event("customer.created", obj))
        self.deliver(self.stripe.event("customer.updated", customer))
        self.run_jobs()
        self.assertEqual(self.bound("customer", "cus_jenny"), self.customer)
        partner = self.bound("customer", "cus_new")
        self.assertEqual(partner.name, "New Buyer")
        self.assertEqual(
            self.env["res.partner"].search_count(
                [("email", "=", "new.buyer@example.com")]
            ),
            1,
        )

    def test_finalized_invoice_is_booked_once_and_paid_through_its_intent(self):
        customer = self.stripe.add(
            "customer", id="cus_bill", email="jenny.rosen@example.com"
        )
        invoice = self.stripe_invoice(
            "in_bill_0001", customer, 3600, [self.line(2000, 2), self.line(1000)]
        )
        finalized = self.stripe.event("invoice.finalized", invoice)
        self.deliver(finalized)
        self.deliver(self.stripe.event("invoice.finalized", invoice))  # another event
        self.run_jobs()
        move = self.bound("invoice", "in_bill_0001")
        self.assertEqual(self.message_of(finalized).state, "done")
        self.assertEqual(move.ref, "STR-0001")
        self.assertEqual(move.partner_id, self.customer)
        self.assertEqual(move.amount_total, 36.00)
        self.assertEqual(move.invoice_line_ids[0].quantity, 2)
        self.assertEqual(move.invoice_line_ids.tax_ids, self.tax)
        self.assertEqual(
            self.env["account.move"].search_count([("ref", "=", "STR-0001")]), 1
        )
        # paid: the PaymentIntent names the Stripe invoice, not an Odoo one
        intent = self.intent(None, 3600, id="pi_bill_0001")
        intent["invoice"] = "in_bill_0001"
        self.stripe.objects["in_bill_0001"].update(
            status="paid", payment_intent=intent["id"]
        )
        self.deliver(self.stripe.event("invoice.paid", invoice))
        self.deliver(self.stripe.event("payment_intent.succeeded", intent))
        self.run_jobs()
        self.assertEqual(move.payment_state, "paid")
        self.assertEqual(
            self.env["account.payment"].search_count([("memo", "=", "pi_bill_0001")]), 1
        )

    def test_total_differing_from_stripe_opens_an_exception_and_books_nothing(self):
        customer = self.stripe.add(
            "customer", id="cus_diff", email="jenny.rosen@example.com"
        )
        invoice = self.stripe_invoice(
            "in_diff_0002", customer, 1250, [self.line(1000)]
        )  # Stripe says 12.50, the mapped tax gives 12.00
        event = self.stripe.event("invoice.finalized", invoice)
        self.deliver(event)
        self.run_jobs()
        message = self.message_of(event)
        self.assertEqual(message.state, "failed")
        self.assertEqual(message.error_code, "stripe_total_mismatch")
        self.assertIn("12.5", message.exception_ids.detail)
        self.assertFalse(self.bound("invoice", "in_diff_0002"))
        self.assertFalse(self.env["account.move"].search([("ref", "=", "STR-0002")]))

    def test_voided_invoice_is_reversed(self):
        customer = self.stripe.add(
            "customer", id="cus_void", email="jenny.rosen@example.com"
        )
        invoice = self.stripe_invoice(
            "in_void_0003", customer, 1000, [self.line(1000, taxed=False)]
        )
        self.deliver(self.stripe.event("invoice.finalized", invoice))
        self.run_jobs()
        move = self.bound("invoice", "in_void_0003")
        self.stripe.objects["in_void_0003"]["status"] = "void"
        self.deliver(self.stripe.event("invoice.voided", invoice))
        self.run_jobs()
        self.assertEqual(move.payment_state, "reversed")
        self.assertTrue(self.bound("invoice_void", "in_void_0003"))
