# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Record changes trigger outbound flows; no echo to the system of record."""

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import FiCommon

UPSERT_CODE = """
data = document["data"]
partner = bindings.to_odoo(record.endpoint_id, "customer", data["customer_id"])
if partner:
    partner.write({"email": data["email"]})
else:
    partner = env["res.partner"].create({"name": data["name"], "email": data["email"]})
    bindings.bind(record.endpoint_id, "customer", data["customer_id"], partner, record)
action = partner
"""


@tagged("post_install", "-at_install")
class TestSystemOfRecord(FiCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        action = cls.env["ir.actions.server"].create(
            {
                "name": "Upsert customer",
                "model_id": cls.env.ref("finance_integration_core.model_fi_message").id,
                "state": "code",
                "code": UPSERT_CODE,
            }
        )
        cls.flow.write(
            {
                "action": "server_action",
                "server_action_id": action.id,
                "system_of_record": "external",
                "model_id": cls.env.ref("base.model_res_partner").id,
            }
        )
        partner_fields = cls.env["ir.model.fields"].search(
            [("model", "=", "res.partner"), ("name", "in", ("name", "email"))]
        )
        cls.out_flow = cls.env["fi.flow"].create(
            {
                "name": "partner -> customer",
                "endpoint_id": cls.endpoint.id,
                "direction": "out",
                "event_type": "customer.update",
                "path": "/customers",
                "model_id": cls.env.ref("base.model_res_partner").id,
                "trigger_on": "on_create_or_write",
                "payload_field_ids": [(6, 0, partner_fields.ids)],
            }
        )

    def outbound(self):
        return self.env["fi.message"].search(
            [("flow_id", "=", self.out_flow.id)], order="id"
        )

    def test_flow_creates_its_automation_rule(self):
        automation = self.out_flow.automation_id
        self.assertTrue(automation.active)
        self.assertEqual(automation.trigger, "on_create_or_write")
        self.out_flow.trigger_on = "none"
        self.assertFalse(automation.active)

    def test_a_change_made_in_odoo_is_sent(self):
        partner = self.env["res.partner"].create(
            {"name": "Odoo-side", "email": "a@x.io"}
        )
        partner.email = "b@x.io"
        messages = self.outbound()
        self.assertEqual(len(messages), 2)
        self.assertEqual(
            messages[-1]._fi_document(),
            {
                "model": "res.partner",
                "id": partner.id,
                "name": "Odoo-side",
                "email": "b@x.io",
            },
        )

    def test_a_change_coming_from_the_system_of_record_is_not_sent_back(self):
        for event_id, email in (
            ("evt_sor_1", "first@x.io"),
            ("evt_sor_2", "second@x.io"),
        ):
            self.receive(
                self.event(
                    event_id, customer_id="cus_sor", name="Ext-side", email=email
                )
            )
            self.run_jobs()
        partner = self.env["res.partner"].search([("name", "=", "Ext-side")])
        self.assertEqual(
            partner.email, "second@x.io", "the inbound updates were applied"
        )
        self.assertFalse(self.outbound(), "nothing echoed back to the external system")
        partner.email = "edited-in-odoo@x.io"
        self.assertEqual(len(self.outbound()), 1, "an Odoo-side edit still goes out")

    def test_echo_rule_follows_the_system_of_record(self):
        self.flow.system_of_record = "odoo"
        self.receive(
            self.event(
                "evt_sor_odoo", customer_id="cus_o", name="Odoo-owned", email="o@x.io"
            )
        )
        self.run_jobs()
        self.assertEqual(len(self.outbound()), 1)

    def test_outbound_flow_cannot_declare_the_external_side_as_owner(self):
        with self.assertRaisesRegex(ValidationError, "system of record"):
            self.out_flow.system_of_record = "external"
