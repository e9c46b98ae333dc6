# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Value maps: cached lookups, invalidation, missing mapping -> add and replay."""

from odoo.tests import tagged

from ..models.fi_value_map import FiMissingMappingError
from .common import FiCommon

TAG_CODE = """
category = value_maps.fi_lookup("customer_segment", document["data"]["segment"],
                                endpoint=record.endpoint_id)
partner = env["res.partner"].create({"name": document["data"]["name"],
                                    "category_id": [(4, category.id)]})
action = partner
"""


@tagged("post_install", "-at_install")
class TestValueMaps(FiCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Category = cls.env["res.partner.category"]
        cls.retail, cls.wholesale, cls.vip = Category.create(
            [{"name": "Retail"}, {"name": "Wholesale"}, {"name": "VIP"}]
        )
        cls.segments = cls.env["fi.value.map"].create(
            {
                "name": "Customer segments",
                "code": "customer_segment",
                "value_type": "record",
                "target_model_id": cls.env.ref("base.model_res_partner_category").id,
                "line_ids": [
                    (
                        0,
                        0,
                        {
                            "external_code": "R",
                            "value_ref": f"res.partner.category,{cls.retail.id}",
                        },
                    ),
                    (
                        0,
                        0,
                        {
                            "external_code": "W",
                            "value_ref": f"res.partner.category,{cls.wholesale.id}",
                        },
                    ),
                ],
            }
        )

    def test_lookup_returns_the_mapped_record_and_endpoint_map_wins(self):
        Maps = self.env["fi.value.map"]
        self.assertEqual(
            Maps.fi_lookup("customer_segment", "R", endpoint=self.endpoint), self.retail
        )
        own = Maps.create(
            {
                "name": "Segments of this endpoint",
                "code": "customer_segment",
                "endpoint_id": self.endpoint.id,
                "value_type": "record",
                "target_model_id": self.env.ref("base.model_res_partner_category").id,
                "line_ids": [
                    (
                        0,
                        0,
                        {
                            "external_code": "R",
                            "value_ref": f"res.partner.category,{self.vip.id}",
                        },
                    )
                ],
            }
        )
        self.assertEqual(
            Maps.fi_lookup("customer_segment", "R", endpoint=self.endpoint), self.vip
        )
        self.assertEqual(
            Maps.fi_lookup("customer_segment", "R"), self.retail, "global map"
        )
        own.unlink()

    def test_cached_lookup_sees_a_changed_mapping_at_once(self):
        Maps = self.env["fi.value.map"]
        self.assertEqual(Maps.fi_lookup("customer_segment", "W"), self.wholesale)
        line = self.segments.line_ids.filtered(lambda ln: ln.external_code == "W")
        line.value_ref = f"res.partner.category,{self.vip.id}"
        self.assertEqual(Maps.fi_lookup("customer_segment", "W"), self.vip)
        with self.assertRaises(FiMissingMappingError) as caught:
            Maps.fi_lookup("customer_segment", "X")
        self.assertIn("Customer segments", str(caught.exception))
        self.assertIn("'X'", str(caught.exception))

    def test_missing_mapping_opens_exception_then_add_and_replay_posts(self):
        action = self.env["ir.actions.server"].create(
            {
                "name": "tag customer",
                "model_id": self.env.ref(
                    "finance_integration_core.model_fi_message"
                ).id,
                "state": "code",
                "code": TAG_CODE,
            }
        )
        self.flow.write({"action": "server_action", "server_action_id": action.id})
        status, answer = self.receive(
            self.event("evt_seg", name="Segmented", segment="V")
        )
        message = self.env["fi.message"].browse(answer["message_id"])
        self.run_jobs()
        self.assertEqual(message.state, "failed")
        item = message.exception_ids
        self.assertEqual(item.reason_code, "missing_mapping")
        self.assertEqual((item.value_map_id, item.missing_code), (self.segments, "V"))
        self.assertIn("customer_segment", item.detail)
        wizard = (
            self.env["fi.add.mapping.wizard"]
            .with_user(self.owner)
            .create(
                {
                    "exception_id": item.id,
                    "value_ref": f"res.partner.category,{self.vip.id}",
                }
            )
        )
        wizard.action_add_and_replay()
        self.run_jobs()
        self.assertEqual(message.state, "done")
        partner = self.env["res.partner"].browse(message.res_id)
        self.assertEqual(partner.category_id, self.vip)
        self.assertEqual(item.state, "resolved")
        self.assertIn("V", self.segments.line_ids.mapped("external_code"))
