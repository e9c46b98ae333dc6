# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestInstall(TransactionCase):
    def test_addon_plugs_into_the_platform_menu(self):
        menu = self.env.ref("finance_integration_tax.menu_fi_tax")
        self.assertEqual(
            menu.parent_id, self.env.ref("finance_integration_core.menu_fi_config")
        )
        self.assertEqual(
            menu.action, self.env.ref("finance_integration_core.action_fi_endpoint")
        )
        module = self.env["ir.module.module"].search(
            [("name", "=", "finance_integration_tax")]
        )
        self.assertEqual(module.state, "installed")
        self.assertIn("finance_integration_core", module.dependencies_id.mapped("name"))
