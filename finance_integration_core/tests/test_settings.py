# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The Finance Integration block of Odoo's Settings."""

from odoo.exceptions import AccessError
from odoo.tests import HttpCase, tagged

from .common import FiCommon, browser_js_screenshot


@tagged("post_install", "-at_install")
class TestSettings(FiCommon):
    def settings(self, user=None):
        settings = self.env["res.config.settings"]
        return (settings.with_user(user) if user else settings).create({})

    def test_settings_show_key_status_retention_and_the_company_endpoints(self):
        settings = self.settings()
        self.assertEqual(settings.fi_key_status, "Present")
        self.assertGreaterEqual(settings.fi_key_count, 1)
        self.assertIn(self.endpoint, settings.fi_endpoint_ids)
        self.assertEqual(settings.fi_legal_retention_years, 10)
        self.endpoint._fi_reencrypt_all()
        self.assertTrue(self.settings().fi_key_rotated_at)

    def test_retention_and_2fa_are_saved_on_the_company(self):
        settings = self.settings()
        settings.write(
            {
                "fi_legal_retention_years": 11,
                "fi_payload_retention_days": 30,
                "fi_require_2fa": True,
            }
        )
        settings.execute()
        company = self.env.company
        self.assertEqual(
            (
                company.fi_legal_retention_years,
                company.fi_payload_retention_days,
                company.fi_require_2fa,
            ),
            (11, 30, True),
        )
        endpoint = self.env["fi.endpoint"].create(
            {"name": "New one", "provider": "generic_hmac"}
        )
        self.assertEqual(endpoint.payload_retention_days, 30)

    def test_production_flag_is_set_by_an_administrator_only(self):
        settings = self.settings()
        settings.fi_production_database = True
        settings.execute()
        self.assertTrue(self.env["fi.endpoint"]._fi_is_production_database())
        manager = self.owner.copy({"login": "fi_settings_manager"})
        manager.groups_id |= self.env.ref("finance_integration_core.group_fi_manager")
        with self.assertRaises(AccessError):
            self.env["fi.endpoint"].with_user(manager)._fi_set_production_database(
                False
            )
        self.assertTrue(self.env["fi.endpoint"]._fi_is_production_database())


@tagged("post_install", "-at_install")
class TestSettingsPage(HttpCase):
    def test_settings_page_has_the_finance_integration_app(self):
        self.env["fi.endpoint"].create(
            {"name": "Settings page endpoint", "provider": "generic_hmac"}
        )

        block = "div.app_settings_block[data-key='finance_integration_core']"
        code = f"""
            const block = document.querySelector("{block}");
            const text = block.innerText;
            for (const label of ["Production Database", "Encryption Key",
                    "Legal Retention", "Payload Retention",
                    "Two-Factor Authentication for Managers",
                    "Settings page endpoint"]) {{
                if (!text.includes(label)) {{
                    throw new Error("missing in the settings block: " + label);
                }}
            }}
            const test = block.querySelector(
                "button[name='action_fi_test_connection']");
            if (!test) {{
                throw new Error("no Test Connection button on the endpoints");
            }}
            test.scrollIntoView({{block: "center"}});
            console.log("test successful");
        """
        browser_js_screenshot(
            self,
            "fi_settings_",
            "/odoo/action-finance_integration_core.action_fi_settings",
            code,
            ready=f'!!document.querySelector("{block} .o_setting_box")',
        )
