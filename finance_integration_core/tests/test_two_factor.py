# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The company's two-factor requirement for managers of production settings."""

from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.tests import tagged

from .governance_common import FiGovernanceCommon


@tagged("post_install", "-at_install")
class TestTwoFactorRequirement(FiGovernanceCommon):
    def submitted(self):
        version = self.vmap.with_user(self.manager_a)._fi_new_version()
        version.action_submit()
        return version

    def test_manager_without_two_factor_cannot_approve_when_required(self):
        self.env.company.fi_require_2fa = True
        version = self.submitted()
        with self.assertRaisesRegex(UserError, "requires two-factor authentication"):
            version.with_user(self.manager_b).action_approve()
        self.assertEqual(version.state, "submitted")

    def test_manager_with_two_factor_approves(self):
        self.env.company.fi_require_2fa = True
        version = self.submitted()
        Users = type(self.env["res.users"])
        if "totp_enabled" in Users._fields:
            with patch.object(Users, "totp_enabled", True):
                version.with_user(self.manager_b).action_approve()
            self.assertEqual(version.state, "approved")
        else:
            # auth_totp not installed: nobody has two-factor, the requirement
            # refuses (it never silently passes)
            with self.assertRaisesRegex(UserError, "auth_totp"):
                version.with_user(self.manager_b).action_approve()

    def test_without_the_requirement_approval_needs_no_two_factor(self):
        self.env.company.fi_require_2fa = False
        version = self.submitted()
        version.with_user(self.manager_b).action_approve()
        self.assertEqual(version.state, "approved")
