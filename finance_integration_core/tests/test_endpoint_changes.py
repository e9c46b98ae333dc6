# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Production settings of a live endpoint change through approved versions."""

import json

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import SECRET
from .governance_common import FiGovernanceCommon


@tagged("post_install", "-at_install")
class TestEndpointChanges(FiGovernanceCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["fi.endpoint"]._fi_set_production_database(True)
        cls.live = cls.env["fi.endpoint"].create(
            {
                "name": "Live PSP",
                "environment": "production",
                "state": "active",
                "base_url": "https://api.psp.example/v1",
                "timeout_read": 30.0,
                "webhook_secret": SECRET,
            }
        )

    def propose(self, author=None, **values):
        action = self.live.with_user(author or self.manager_a).action_propose_change()
        change = self.env["fi.endpoint.change"].browse(action["res_id"])
        change.with_user(author or self.manager_a).write(values)
        return change

    def test_direct_write_of_governed_field_on_live_production_is_refused(self):
        with self.assertRaisesRegex(
            UserError, "Live PSP is live in production.*base_url"
        ):
            self.live.base_url = "https://evil.example"
        with self.assertRaisesRegex(UserError, "change request"):
            self.live.write({"timeout_read": 5.0})
        # unchanged values, ungoverned fields and secrets stay writable
        self.live.write({"base_url": "https://api.psp.example/v1", "name": "PSP"})
        self.live.webhook_secret = "whsec_rotated_0123456789"
        self.assertTrue(self.live.webhook_secret_set)

    def test_sandbox_and_draft_endpoints_are_not_governed(self):
        self.endpoint.base_url = "http://127.0.0.1:8/"
        self.live.action_disable()
        self.live.base_url = "https://other.example"
        self.assertEqual(self.live.base_url, "https://other.example")

    def test_change_shows_a_diff_and_applies_on_activation(self):
        change = self.propose(base_url="https://api2.psp.example/v1", timeout_read=10.0)
        self.assertEqual(
            change.diff_display,
            "Base URL: https://api.psp.example/v1 -> https://api2.psp.example/v1\n"
            "Read Timeout (s): 30.0 -> 10.0",
        )
        change.action_submit()
        with self.assertRaisesRegex(UserError, "Four eyes"):
            change.with_user(self.manager_a).action_approve()
        change.with_user(self.manager_b).action_approve()
        self.assertEqual(self.live.base_url, "https://api.psp.example/v1")
        change.with_user(self.manager_b).action_activate()
        self.assertEqual(self.live.base_url, "https://api2.psp.example/v1")
        self.assertEqual(self.live.timeout_read, 10.0)
        previous = json.loads(change.previous_values_json)
        self.assertEqual(previous["base_url"], "https://api.psp.example/v1")
        self.assertIn("Base URL", change.diff_display, "diff kept after activation")

    def test_rollback_reapplies_the_earlier_settings(self):
        first = self.propose(timeout_read=10.0)
        first.action_submit()
        first.with_user(self.manager_b).action_approve()
        first.with_user(self.manager_b).action_activate()
        baseline = self.live.change_ids.filtered("is_baseline")
        self.assertEqual(baseline.state, "superseded")
        self.assertEqual(baseline.timeout_read, 30.0)
        second = self.propose(base_url="https://api3.psp.example/v1")
        self.assertEqual(second.timeout_read, 10.0, "starts from the live settings")
        second.action_submit()
        second.with_user(self.manager_b).action_approve()
        second.with_user(self.manager_b).action_activate()
        self.assertEqual(first.state, "superseded")

        first.with_user(self.manager_b).action_rollback()
        self.assertEqual(self.live.base_url, "https://api.psp.example/v1")
        self.assertEqual(self.live.timeout_read, 10.0)
        baseline.with_user(self.manager_b).action_rollback()
        self.assertEqual(self.live.timeout_read, 30.0)
        self.assertEqual(first.state, "superseded")

    def test_endpoint_config_cache_sees_activated_settings(self):
        self.assertEqual(
            self.env["fi.endpoint"]._fi_endpoint_config(self.live.key)["max_body"],
            self.live.max_body_bytes,
        )
        change = self.propose(max_body_bytes=2048)
        change.action_submit()
        change.with_user(self.manager_b).action_approve()
        change.with_user(self.manager_b).action_activate()
        self.assertEqual(
            self.env["fi.endpoint"]._fi_endpoint_config(self.live.key)["max_body"], 2048
        )
