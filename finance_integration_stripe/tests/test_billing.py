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
        cls.silver_income = cls.env["account.account"].create(
            {"code": "S7002", "name": "Silver plan revenue", "account_type": "income"}
        )
        cls.silver = cls.env["product.product"].create(
            {
                "name": "Silver plan",
                "type": "service",
                "list_price": 0,
                "property_account_income_id": cls.silver_income.id,
            }
        )
        cls.map_of(
            "stripe_product",
            "product.product",
            {"prod_gold": cls.product, "prod_silver": cls.silver},
        )
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

    def booked_invoice(self, iid, total, lines):
        customer = self.stripe.add(
            "customer", id=f"cus_{iid}", email="jenny.rosen@example.com"
        )
        invoice = self.stripe_invoice(iid, customer, total, lines)
        self.deliver(self.stripe.event("invoice.finalized", invoice))
        self.run_jobs()
        move = self.bound("invoice", iid)
        self.assertTrue(move)
        return move

    def credit_note(self, cid, iid, total, lines, status="issued"):
        return self.stripe.add(
            "credit_note",
            id=cid,
            invoice=iid,
            currency="usd",
            number=f"CN-{cid[-4:]}",
            status=status,
            total=total,
            amount=total,
            lines={"object": "list", "has_more": False, "data": lines},
        )

    def test_credit_notes_become_odoo_credit_notes_once(self):
        move = self.booked_invoice("in_cn_0004", 2400, [self.line(2000)])
        # part of it: one line, the invoice's product, VAT through the map
        part = self.credit_note(
            "cn_part_0001",
            "in_cn_0004",
            600,
            [
                {
                    "id": "cnli_1",
                    "object": "credit_note_line_item",
                    "amount": 500,
                    "description": "Service credit",
                    "quantity": 1,
                    "tax_rates": [{"id": "txr_vat20", "object": "tax_rate"}],
                    "type": "custom_line_item",
                }
            ],
        )
        event = self.stripe.event("credit_note.created", part)
        self.deliver(event)
        self.deliver(self.stripe.event("credit_note.updated", part))
        self.run_jobs()
        self.assertEqual(self.message_of(event).state, "done")
        credit = self.bound("credit_note", "cn_part_0001")
        self.assertEqual(credit.move_type, "out_refund")
        self.assertEqual(credit.state, "posted")
        self.assertEqual(credit.amount_total, 6.00)
        self.assertEqual(credit.reversed_entry_id, move)
        self.assertEqual(credit.invoice_line_ids.product_id, self.product)
        self.assertEqual(move.amount_residual, 18.00, "reconciled with the invoice")
        self.assertEqual(
            self.env["account.move"].search_count(
                [("ref", "=", "Stripe credit note CN-0001")]
            ),
            1,
        )
        # voided in Stripe: cancelled in Odoo, the invoice open again
        self.stripe.objects["cn_part_0001"]["status"] = "void"
        self.deliver(self.stripe.event("credit_note.voided", part))
        self.run_jobs()
        self.assertEqual(credit.state, "cancel")
        self.assertEqual(move.amount_residual, 24.00)
        # the rest of it: the reversal of the whole invoice
        whole = self.credit_note("cn_full_0002", "in_cn_0004", 2400, [])
        self.deliver(self.stripe.event("credit_note.created", whole))
        self.run_jobs()
        full = self.bound("credit_note", "cn_full_0002")
        self.assertEqual(full.amount_total, 24.00)
        self.assertEqual(move.payment_state, "reversed")

    def test_partial_credit_note_books_each_line_on_the_product_it_credits(self):
        silver = dict(
            self.line(1000),
            id="il_silver_1",
            description="Silver plan",
            price={"id": "price_silver", "object": "price", "product": "prod_silver"},
        )
        gold = dict(self.line(2000), id="il_gold_1")
        customer = self.stripe.add(
            "customer", id="cus_in_cn_paged", email="jenny.rosen@example.com"
        )
        # Stripe embeds only the first page of lines: the rest is listed
        invoice = self.stripe_invoice(
            "in_cn_paged", customer, 3600, [gold], _lines=[gold, silver]
        )
        invoice["lines"]["has_more"] = True
        self.deliver(self.stripe.event("invoice.finalized", invoice))
        self.run_jobs()
        move = self.bound("invoice", "in_cn_paged")
        self.assertEqual(move.amount_total, 36.00)
        self.assertEqual(move.invoice_line_ids.product_id, self.product | self.silver)
        credited = {
            "id": "cnli_silver",
            "object": "credit_note_line_item",
            "type": "invoice_line_item",
            "invoice_line_item": "il_silver_1",
            "amount": 500,
            "description": "Silver plan, half a month",
            "quantity": 1,
            "tax_rates": [],
            "tax_amounts": [
                {"amount": 100, "inclusive": False, "tax_rate": "txr_vat20"}
            ],
        }
        goodwill = {
            "id": "cnli_goodwill",
            "object": "credit_note_line_item",
            "type": "custom_line_item",
            "amount": 100,
            "description": "Goodwill",
            "quantity": 1,
            "tax_rates": [{"id": "txr_vat20", "object": "tax_rate"}],
        }
        note = self.credit_note("cn_lines_0008", "in_cn_paged", 720, [credited])
        note["lines"]["has_more"] = True
        note["_lines"] = [credited, goodwill]
        event = self.stripe.event("credit_note.created", note)
        self.deliver(event)
        self.run_jobs()
        self.assertEqual(self.message_of(event).state, "done")
        credit = self.bound("credit_note", "cn_lines_0008")
        self.assertEqual(credit.amount_total, 7.20)
        lines = {line.name: line for line in credit.invoice_line_ids}
        self.assertEqual(set(lines), {"Silver plan, half a month", "Goodwill"})
        # the silver revenue is reversed, not the invoice's first product's
        self.assertEqual(lines["Silver plan, half a month"].product_id, self.silver)
        self.assertEqual(
            lines["Silver plan, half a month"].account_id, self.silver_income
        )
        self.assertEqual(lines["Silver plan, half a month"].tax_ids, self.tax)
        # a custom line of an invoice of two products: none, the journal's income
        self.assertFalse(lines["Goodwill"].product_id)
        self.assertEqual(
            lines["Goodwill"].account_id, credit.journal_id.default_account_id
        )
        self.assertEqual(move.amount_residual, 28.80, "reconciled with the invoice")

    def test_custom_credit_note_line_goes_to_the_adjustments_account(self):
        allowances = self.env["account.account"].create(
            {"code": "S4901", "name": "Sales allowances", "account_type": "income"}
        )
        self.endpoint.stripe_credit_adjustment_account_id = allowances
        move = self.booked_invoice("in_cn_0010", 2400, [self.line(2000)])
        self.assertEqual(move.invoice_line_ids.product_id, self.product)
        goodwill = {
            "id": "cnli_goodwill_10",
            "type": "custom_line_item",
            "amount": 500,
            "description": "Goodwill",
            "quantity": 1,
            "tax_rates": ["txr_vat20"],
        }
        credited = {
            "id": "cnli_gold_10",
            "type": "invoice_line_item",
            "invoice_line_item": "il_2000_1",
            "amount": 1000,
            "description": "Gold plan, half a month",
            "quantity": 1,
            "tax_rates": ["txr_vat20"],
        }
        note = self.credit_note("cn_adj_0010", "in_cn_0010", 1800, [goodwill, credited])
        event = self.stripe.event("credit_note.created", note)
        self.deliver(event)
        self.run_jobs()
        self.assertEqual(self.message_of(event).state, "done")
        credit = self.bound("credit_note", "cn_adj_0010")
        lines = {line.name: line for line in credit.invoice_line_ids}
        # even on an invoice of one product: the account finance chose
        self.assertFalse(lines["Goodwill"].product_id)
        self.assertEqual(lines["Goodwill"].account_id, allowances)
        self.assertEqual(lines["Goodwill"].tax_ids, self.tax)
        # a line crediting an invoice line still reverses its product's revenue
        self.assertEqual(lines["Gold plan, half a month"].product_id, self.product)
        self.assertEqual(
            lines["Gold plan, half a month"].account_id,
            move.invoice_line_ids.account_id,
        )
        self.assertEqual(credit.amount_total, 18.00)

    def test_credit_note_of_a_line_stripe_does_not_list_books_nothing(self):
        self.booked_invoice("in_cn_0009", 2400, [self.line(2000)])
        note = self.credit_note(
            "cn_lost_0009",
            "in_cn_0009",
            600,
            [
                {
                    "id": "cnli_lost",
                    "type": "invoice_line_item",
                    "invoice_line_item": "il_not_there",
                    "amount": 500,
                    "tax_rates": ["txr_vat20"],
                }
            ],
        )
        event = self.stripe.event("credit_note.created", note)
        self.deliver(event)
        self.run_jobs()
        message = self.message_of(event)
        self.assertEqual(message.error_code, "stripe_field_missing")
        self.assertIn("il_not_there", message.error_message)
        self.assertFalse(self.bound("credit_note", "cn_lost_0009"))

    def test_credit_note_total_differing_books_nothing(self):
        self.booked_invoice("in_cn_0005", 2400, [self.line(2000)])
        wrong = self.credit_note(
            "cn_diff_0003",
            "in_cn_0005",
            700,
            [{"id": "cnli_2", "amount": 500, "tax_rates": ["txr_vat20"]}],
        )
        event = self.stripe.event("credit_note.created", wrong)
        self.deliver(event)
        self.run_jobs()
        self.assertEqual(self.message_of(event).error_code, "stripe_total_mismatch")
        self.assertFalse(self.bound("credit_note", "cn_diff_0003"))

    def test_failed_and_uncollectible_invoices_get_collections_activities(self):
        move = self.booked_invoice("in_col_0006", 1200, [self.line(1000)])
        invoice = self.stripe.objects["in_col_0006"]
        self.deliver(self.stripe.event("invoice.payment_failed", invoice))
        self.deliver(self.stripe.event("invoice.payment_failed", invoice))
        self.run_jobs()
        failed = move.activity_ids.filtered(lambda a: "failed" in a.summary)
        self.assertEqual(len(failed), 1)
        self.stripe.objects["in_col_0006"]["status"] = "uncollectible"
        self.deliver(self.stripe.event("invoice.marked_uncollectible", invoice))
        self.run_jobs()
        self.assertTrue(
            move.activity_ids.filtered(lambda a: "uncollectible" in a.summary)
        )

    def test_voiding_an_uncollectible_invoice_cancels_its_write_off(self):
        move = self.booked_invoice("in_unv_0007", 1000, [self.line(1000, taxed=False)])
        invoice = self.stripe.objects["in_unv_0007"]
        invoice["status"] = "uncollectible"
        self.deliver(self.stripe.event("invoice.marked_uncollectible", invoice))
        self.run_jobs()
        writeoff = self.bound("uncollectible_writeoff", "in_unv_0007")
        self.assertEqual(writeoff.fi_stripe_writeoff_state, "proposed")
        invoice["status"] = "void"
        event = self.stripe.event("invoice.voided", invoice)
        self.deliver(event)
        self.run_jobs()
        self.assertEqual(self.message_of(event).state, "done")
        self.assertEqual(move.payment_state, "reversed")
        self.assertEqual(writeoff.fi_stripe_writeoff_state, "cancelled")
        self.assertEqual(writeoff.state, "cancel")
        self.assertIn("voided", writeoff.fi_stripe_writeoff_note)
        self.assertEqual(
            self.bound("uncollectible_case", "in_unv_0007").state, "resolved"
        )
