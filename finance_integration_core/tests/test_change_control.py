# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Versions go draft -> submitted -> approved -> active, approved by a second
Manager, every transition on record."""

import psycopg2

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .governance_common import FiGovernanceCommon


@tagged("post_install", "-at_install")
class TestChangeControl(FiGovernanceCommon):
    def draft(self, author=None):
        version = self.vmap.with_user(author or self.manager_a)._fi_new_version()
        version.write(
            {
                "line_ids": [
                    (
                        0,
                        0,
                        {
                            "external_code": "sepa",
                            "value_ref": f"res.partner.category,{self.cat_sepa.id}",
                        },
                    )
                ]
            }
        )
        return version

    def test_author_cannot_approve_his_own_change(self):
        version = self.draft()
        version.action_submit()
        with self.assertRaisesRegex(UserError, "Four eyes: Manager Alice"):
            version.with_user(self.manager_a).action_approve()
        self.assertEqual(version.state, "submitted")
        version.with_user(self.manager_b).action_approve()
        self.assertEqual(version.state, "approved")
        self.assertEqual(version.approved_by_id, self.manager_b)

    def test_submitter_and_contributors_cannot_approve(self):
        version = self.draft(author=self.manager_a)
        version.with_user(self.manager_b).action_submit()
        with self.assertRaisesRegex(UserError, "Manager Bob"):
            version.with_user(self.manager_b).action_approve()
        other = self.draft(author=self.manager_a)
        other.with_user(self.manager_b).write({"change_note": "only a note"})
        other.with_user(self.manager_b).line_ids[:1].note = "Bob edited a line"
        other.with_user(self.manager_a).action_submit()
        self.assertIn(self.manager_b, other.contributor_ids)
        with self.assertRaisesRegex(UserError, "Four eyes"):
            other.with_user(self.manager_b).action_approve()

    def test_operator_cannot_approve(self):
        version = self.draft()
        version.action_submit()
        with self.assertRaisesRegex(AccessError, "Operator Olga cannot approve"):
            version.with_user(self.operator).action_approve()
        with self.assertRaises(AccessError):
            version.with_user(self.operator).action_activate()

    def test_states_cannot_be_skipped_or_written(self):
        version = self.draft()
        with self.assertRaisesRegex(UserError, "cannot be approved"):
            version.with_user(self.manager_b).action_approve()
        with self.assertRaisesRegex(UserError, "cannot be activated"):
            version.with_user(self.manager_b).action_activate()
        with self.assertRaisesRegex(UserError, "state"):
            version.write({"state": "active"})
        with self.assertRaisesRegex(UserError, "approved_by_id"):
            version.write({"approved_by_id": self.manager_b.id})
        with self.assertRaisesRegex(UserError, "starts as a draft"):
            self.env["fi.value.map.version"].create(
                {"map_id": self.vmap.id, "state": "active"}
            )

    def test_only_the_module_loader_may_ship_an_active_version(self):
        loader = self.env["fi.value.map.version"].sudo().with_context(install_mode=True)
        version = loader.create(
            {
                "map_id": self.vmap.id,
                "state": "active",
                "line_ids": [
                    (
                        0,
                        0,
                        {
                            "external_code": "cash",
                            "value_ref": f"res.partner.category,{self.cat_sepa.id}",
                        },
                    )
                ],
            }
        )
        self.assertEqual(version.state, "active")
        self.assertEqual(self.vmap.active_version_id, version)
        self.assertEqual(self.lookup("cash"), self.cat_sepa)
        # the same context from a user (e.g. over RPC) is refused
        with self.assertRaisesRegex(UserError, "starts as a draft"):
            self.env["fi.value.map.version"].with_user(self.manager_a).with_context(
                install_mode=True
            ).create({"map_id": self.vmap.id, "state": "active"})

    def test_submitted_version_is_frozen(self):
        version = self.draft()
        version.action_submit()
        with self.assertRaisesRegex(UserError, "only a draft can be edited"):
            version.line_ids[:1].note = "late edit"
        with self.assertRaisesRegex(UserError, "only a draft can be edited"):
            version.write({"line_ids": [(5, 0, 0)]})
        with self.assertRaisesRegex(UserError, "stays on record"):
            version.unlink()

    def test_every_transition_is_logged_with_who_and_when(self):
        version = self.draft()
        version.with_user(self.manager_a).action_submit()
        version.with_user(self.manager_b).action_approve()
        version.with_user(self.manager_b).action_activate()
        logs = self.env["fi.change.log"].search(
            [("res_model", "=", version._name), ("res_id", "=", version.id)],
            order="id",
        )
        self.assertEqual(
            [(log.from_state, log.to_state, log.user_id) for log in logs],
            [
                ("none", "draft", self.manager_a),
                ("draft", "submitted", self.manager_a),
                ("submitted", "approved", self.manager_b),
                ("approved", "active", self.manager_b),
            ],
        )
        self.assertTrue(all(log.date for log in logs))
        superseded = self.env["fi.change.log"].search(
            [("res_id", "=", self.v1.id), ("res_model", "=", self.v1._name)],
            order="id desc",
            limit=1,
        )
        self.assertEqual(superseded.to_state, "superseded")
        self.assertIn(version.display_name, superseded.note)
        self.assertEqual(version.change_log_count, 4)

    def test_change_log_is_append_only(self):
        log = self.env["fi.change.log"].search([], limit=1)
        self.assertTrue(log)
        with self.assertRaisesRegex(UserError, "append-only"):
            log.write({"note": "rewritten"})
        with self.assertRaisesRegex(UserError, "append-only"):
            log.unlink()
        with self.assertRaisesRegex(UserError, "change control only"):
            self.env["fi.change.log"].create(
                {
                    "res_model": "fi.value.map.version",
                    "res_id": 1,
                    "to_state": "active",
                    "user_id": self.env.uid,
                    "date": "2026-01-01",
                }
            )

    def test_rejected_version_never_becomes_active(self):
        version = self.draft()
        version.action_submit()
        version.with_user(self.manager_b).action_reject("not agreed with finance")
        self.assertEqual(version.state, "rejected")
        self.assertEqual(version.rejected_by_id, self.manager_b)
        with self.assertRaises(UserError):
            version.with_user(self.manager_b).action_activate()
        self.assertEqual(self.vmap.active_version_id, self.v1)

    def test_operator_cannot_write_versions_directly(self):
        with self.assertRaises(AccessError):
            self.env["fi.value.map.version"].with_user(self.operator).create(
                {"map_id": self.vmap.id}
            )
        with self.assertRaises(AccessError):
            self.draft().line_ids.with_user(self.operator).write({"note": "sneaky"})

    def test_database_allows_one_active_version_per_map(self):
        draft = self.draft()
        with self.assertRaises(psycopg2.IntegrityError), mute_logger("odoo.sql_db"):
            with self.env.cr.savepoint():
                self.env.cr.execute(
                    "UPDATE fi_value_map_version SET state = 'active' WHERE id = %s",
                    (draft.id,),
                )
