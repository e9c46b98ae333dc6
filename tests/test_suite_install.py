# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Suite-level checks: one click in Apps installs the whole suite."""

from odoo.tests import TransactionCase, tagged

SUITE = [
    "finance_integration",
    "finance_integration_core",
    "finance_integration_stripe",
    "finance_integration_tax",
    "finance_integration_bank",
    "finance_integration_audit",
]


@tagged("post_install", "-at_install")
class TestSuiteInstall(TransactionCase):
    def test_the_meta_module_installs_every_addon(self):
        modules = self.env["ir.module.module"].search([("name", "in", SUITE)])
        self.assertEqual(
            {m.name: m.state for m in modules}, dict.fromkeys(SUITE, "installed")
        )
        meta = modules.filtered(lambda m: m.name == "finance_integration")
        self.assertTrue(meta.application, "listed as an application in Apps")
        self.assertEqual(
            set(meta.dependencies_id.mapped("name")),
            set(SUITE) - {"finance_integration"},
        )

    def test_finance_users_find_the_menu_and_the_exception_queue(self):
        root = self.env.ref("finance_integration_core.menu_fi_root")
        queue = self.env.ref("finance_integration_core.menu_fi_exception")
        self.assertEqual(queue.parent_id.parent_id, root)
        operator = self.env["res.users"].create(
            {
                "name": "Finance operator",
                "login": "suite_operator",
                "groups_id": [
                    (
                        6,
                        0,
                        [
                            self.env.ref("base.group_user").id,
                            self.env.ref(
                                "finance_integration_core.group_fi_operator"
                            ).id,
                        ],
                    )
                ],
            }
        )
        visible = self.env["ir.ui.menu"].with_user(operator)._visible_menu_ids()
        self.assertIn(queue.id, visible)
        self.assertIn(root.id, visible)
