# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Pure helpers of change control, tested alone (no database)."""

import doctest

from odoo.tests import BaseCase, tagged

from ..lib import governance
from ..lib.errors import FiBusinessError, FiMissingMappingError


@tagged("post_install", "-at_install")
class TestGovernanceLib(BaseCase):
    def test_doctests_pass(self):
        result = doctest.testmod(governance)
        self.assertGreater(result.attempted, 0)
        self.assertEqual(result.failed, 0)

    def test_empty_values_are_no_change(self):
        self.assertEqual(
            governance.diff_values({"a": False, "b": None}, {"a": "", "b": ""}), []
        )

    def test_diff_lists_only_changed_fields_in_name_order(self):
        changes = governance.diff_values(
            {"timeout_read": 30.0, "base_url": "https://a"},
            {"timeout_read": 10.0, "base_url": "https://a", "environment": "sandbox"},
        )
        self.assertEqual(
            changes, [("environment", None, "sandbox"), ("timeout_read", 30.0, 10.0)]
        )
        self.assertEqual(
            governance.format_diff(changes, {"timeout_read": "Read Timeout (s)"}),
            "environment: - -> sandbox\nRead Timeout (s): 30.0 -> 10.0",
        )

    def test_version_numbers_follow_the_highest(self):
        self.assertEqual(governance.next_version([0, 2, 7, 3]), 8)
        self.assertEqual(governance.next_version([0]), 1)

    def test_missing_mapping_is_a_business_error_carrying_map_and_code(self):
        err = FiMissingMappingError("no mapping", map_id=7, external_code="card")
        self.assertIsInstance(err, FiBusinessError)
        self.assertEqual(err.reason_code, "missing_mapping")
        self.assertEqual(err.category, "business")
        self.assertFalse(err.retryable)
        self.assertEqual((err.map_id, err.external_code), (7, "card"))
