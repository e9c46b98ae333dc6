# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Odoo's partner merge wizard and bindings."""

from odoo.tests import tagged

from .common import FiCommon


@tagged("post_install", "-at_install")
class TestPartnerMerge(FiCommon):
    def test_merged_partners_bindings_point_to_the_survivor_one_per_external_id(self):
        Binding = self.env["fi.binding"]
        Partner = self.env["res.partner"]
        dup = Partner.create({"name": "Acme (dup)", "email": "ap@acme.example"})
        survivor = Partner.create({"name": "Acme", "email": "ap@acme.example"})
        Binding.bind(self.endpoint, "customer", "cus_A", dup)
        Binding.bind(self.endpoint, "customer", "cus_B", survivor)
        status, answer = self.receive(self.event("evt_merge"))
        message = self.env["fi.message"].browse(answer["message_id"])
        message.sudo().write({"res_model": "res.partner", "res_id": dup.id})

        wizard = self.env["base.partner.merge.automatic.wizard"].create({})
        wizard._merge([dup.id, survivor.id], survivor)
        self.env.invalidate_all()

        self.assertFalse(dup.exists())
        self.assertEqual(Binding.to_odoo(self.endpoint, "customer", "cus_A"), survivor)
        self.assertEqual(Binding.to_odoo(self.endpoint, "customer", "cus_B"), survivor)
        for external_id in ("cus_A", "cus_B"):
            self.assertEqual(
                Binding.search_count(
                    [
                        ("endpoint_id", "=", self.endpoint.id),
                        ("external_type", "=", "customer"),
                        ("external_id", "=", external_id),
                    ]
                ),
                1,
            )
        self.assertFalse(
            Binding.search([("res_model", "=", "res.partner"), ("res_id", "=", dup.id)])
        )
        self.assertEqual(message.res_id, survivor.id)
        # a replay of the first customer's event posts nothing new
        created = []
        again = Binding.get_or_create(
            self.endpoint,
            "customer",
            "cus_A",
            lambda: created.append(1) or Partner.create({"name": "again"}),
        )
        self.assertEqual(again, survivor)
        self.assertFalse(created)
