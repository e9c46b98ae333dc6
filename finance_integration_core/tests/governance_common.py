# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Fixtures of the governance tests: two Managers, an Operator, a value map."""

from .common import FiCommon

LOOKUP_CODE = """
category = env["fi.value.map"].fi_lookup(
    "payment_method", document["data"]["method"], endpoint=record.endpoint_id)
action = category
"""


class FiGovernanceCommon(FiCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager_a = cls._fi_user("Manager Alice", "fi_gov_manager_a", "manager")
        cls.manager_b = cls._fi_user("Manager Bob", "fi_gov_manager_b", "manager")
        cls.operator = cls._fi_user("Operator Olga", "fi_gov_operator", "operator")
        Category = cls.env["res.partner.category"]
        cls.cat_card = Category.create({"name": "Paid by card"})
        cls.cat_card_new = Category.create({"name": "Card (acquirer 2)"})
        cls.cat_sepa = Category.create({"name": "Paid by SEPA"})
        cls.cat_global = Category.create({"name": "Global default"})
        cls.vmap = (
            cls.env["fi.value.map"]
            .with_user(cls.manager_a)
            .create(
                {
                    "name": "Payment methods",
                    "code": "payment_method",
                    "endpoint_id": cls.endpoint.id,
                    "value_type": "record",
                    "target_model_id": cls.env.ref(
                        "base.model_res_partner_category"
                    ).id,
                }
            )
        )
        cls.v1 = cls.activate_version(cls.vmap, {"card": cls.cat_card})

    @classmethod
    def flow_looks_up_payment_method(cls):
        """The test flow runs a server action mapping the message's payment
        method through the value map (``LOOKUP_CODE``)."""
        action = cls.env["ir.actions.server"].create(
            {
                "name": "Tag by payment method",
                "model_id": cls.env.ref("finance_integration_core.model_fi_message").id,
                "state": "code",
                "code": LOOKUP_CODE,
            }
        )
        cls.flow.write({"action": "server_action", "server_action_id": action.id})

    @classmethod
    def _fi_user(cls, name, login, role):
        return cls.env["res.users"].create(
            {
                "name": name,
                "login": login,
                "email": f"{login}@example.com",
                "notification_type": "inbox",
                "groups_id": [
                    (
                        6,
                        0,
                        [
                            cls.env.ref("base.group_user").id,
                            cls.env.ref(f"finance_integration_core.group_fi_{role}").id,
                        ],
                    )
                ],
            }
        )

    @classmethod
    def activate_version(cls, vmap, mapping, author=None, approver=None):
        """A new version of ``vmap`` holding exactly ``mapping``, written by
        ``author`` and approved and activated by ``approver``."""
        author = author or cls.manager_a
        approver = approver or cls.manager_b
        version = vmap.with_user(author)._fi_new_version()
        version.line_ids.unlink()
        version.write(
            {
                "line_ids": [
                    (
                        0,
                        0,
                        {"external_code": code, "value_ref": f"{rec._name},{rec.id}"},
                    )
                    for code, rec in mapping.items()
                ]
            }
        )
        version.action_submit()
        version.with_user(approver).action_approve()
        version.with_user(approver).action_activate()
        return version

    def lookup(self, code, endpoint=None):
        return self.env["fi.value.map"].fi_lookup(
            "payment_method", code, endpoint=endpoint or self.endpoint
        )
