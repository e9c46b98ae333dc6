# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Value maps: cached lookups of the active version only, missing mappings as
business exceptions, "add mapping and replay", rollback."""

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from ..models.fi_value_map import FiMissingMapping
from .governance_common import FiGovernanceCommon


@tagged("post_install", "-at_install")
class TestValueMapLookup(FiGovernanceCommon):
    def test_lookup_returns_the_record_of_the_active_version(self):
        self.assertEqual(self.lookup("card"), self.cat_card)

    def test_only_the_active_version_is_used(self):
        draft = self.vmap.with_user(self.manager_a)._fi_new_version()
        draft.line_ids.value_ref = f"res.partner.category,{self.cat_card_new.id}"
        draft.action_submit()
        draft.with_user(self.manager_b).action_approve()
        self.assertEqual(self.lookup("card"), self.cat_card, "approved is not active")
        draft.with_user(self.manager_b).action_activate()
        self.assertEqual(self.lookup("card"), self.cat_card_new)

    def test_lookup_is_cached_and_invalidated_by_a_new_version(self):
        self.assertEqual(self.lookup("card"), self.cat_card)
        with self.assertQueryCount(0):
            self.assertEqual(self.lookup("card"), self.cat_card)
        self.activate_version(self.vmap, {"card": self.cat_card_new})
        # no manual cache clearing: activation invalidated every worker's cache
        self.assertEqual(self.lookup("card"), self.cat_card_new)
        with self.assertQueryCount(0):
            self.lookup("card")

    def test_line_change_without_four_eyes_invalidates_the_cache(self):
        self.vmap.with_user(self.manager_a).require_four_eyes = False
        self.assertEqual(self.lookup("card"), self.cat_card)
        self.vmap.active_version_id._fi_add_line(
            {
                "external_code": "sepa",
                "value_ref": f"res.partner.category,{self.cat_sepa.id}",
            }
        )
        self.assertEqual(self.lookup("sepa"), self.cat_sepa)

    def test_endpoint_map_wins_over_global_map_code_by_code(self):
        global_map = (
            self.env["fi.value.map"]
            .with_user(self.manager_a)
            .create(
                {
                    "name": "Payment methods (all endpoints)",
                    "code": "payment_method",
                    "value_type": "record",
                    "target_model_id": self.env.ref(
                        "base.model_res_partner_category"
                    ).id,
                }
            )
        )
        self.activate_version(
            global_map, {"card": self.cat_global, "sepa": self.cat_sepa}
        )
        self.assertEqual(self.lookup("card"), self.cat_card, "endpoint map wins")
        self.assertEqual(self.lookup("sepa"), self.cat_sepa, "global fills the gap")
        other = self.env["fi.endpoint"].create({"name": "Other endpoint"})
        self.assertEqual(self.lookup("card", endpoint=other), self.cat_global)

    def test_maps_of_another_company_are_neither_used_nor_readable(self):
        other = self.env["res.company"].create({"name": "Other Co"})
        (self.manager_a | self.manager_b).company_ids = [(4, other.id)]
        foreign = self.env["fi.value.map"].create(
            {
                "name": "Other company's methods",
                "code": "payment_method",
                "company_id": other.id,
                "value_type": "record",
                "target_model_id": self.env.ref("base.model_res_partner_category").id,
            }
        )
        self.activate_version(foreign, {"sepa": self.cat_sepa})
        with self.assertRaises(FiMissingMapping):
            self.lookup("sepa")
        maps = self.env["fi.value.map"].with_user(self.operator).search([])
        self.assertIn(self.vmap, maps)
        self.assertNotIn(foreign, maps)

    def test_plain_value_map(self):
        vmap = (
            self.env["fi.value.map"]
            .with_user(self.manager_a)
            .create({"name": "Journal type", "code": "journal", "value_type": "char"})
        )
        version = vmap.with_user(self.manager_a)._fi_new_version()
        version.line_ids = [(0, 0, {"external_code": "card", "value_char": "bank"})]
        version.action_submit()
        version.with_user(self.manager_b).action_approve()
        version.with_user(self.manager_b).action_activate()
        self.assertEqual(
            self.env["fi.value.map"].fi_lookup("journal", "card", self.endpoint),
            "bank",
        )

    def test_map_code_is_unique_per_endpoint_and_company(self):
        with self.assertRaisesRegex(UserError, "already exists"):
            self.env["fi.value.map"].create(
                {
                    "name": "Duplicate",
                    "code": "payment_method",
                    "endpoint_id": self.endpoint.id,
                    "value_type": "char",
                }
            )

    def test_active_version_cannot_be_set_by_hand(self):
        draft = self.vmap.with_user(self.manager_a)._fi_new_version()
        with self.assertRaisesRegex(UserError, "by activating one"):
            self.vmap.with_user(self.manager_a).active_version_id = draft

    def test_missing_code_names_map_and_code(self):
        with self.assertRaises(FiMissingMapping) as caught:
            self.lookup("paypal")
        error = caught.exception
        self.assertIn('"Payment methods"', str(error))
        self.assertIn('"paypal"', str(error))
        self.assertEqual(error.reason_code, "missing_mapping")
        self.assertEqual((error.map_id, error.external_code), (self.vmap.id, "paypal"))

    def test_line_value_must_be_a_record_of_the_target_model(self):
        version = self.vmap.with_user(self.manager_a)._fi_new_version()
        with self.assertRaisesRegex(UserError, "choose a record of res.partner"):
            version.line_ids = [
                (
                    0,
                    0,
                    {
                        "external_code": "x",
                        "value_ref": f"res.partner,{self.env.user.partner_id.id}",
                    },
                )
            ]

    def test_rollback_reactivates_the_previous_version_which_stays_readable(self):
        v2 = self.activate_version(self.vmap, {"card": self.cat_card_new})
        self.assertEqual(self.v1.state, "superseded")
        # the previous version stays readable, by a plain user too
        user_view = self.v1.with_user(self.owner)
        self.assertEqual(user_view.line_ids.value_ref, self.cat_card)
        self.assertEqual(self.lookup("card"), self.cat_card_new)
        with self.assertRaises(AccessError):
            self.v1.with_user(self.operator).action_rollback()
        self.v1.with_user(self.manager_a).action_rollback()
        self.assertEqual(self.v1.state, "active")
        self.assertEqual(v2.state, "superseded")
        self.assertEqual(self.vmap.active_version_id, self.v1)
        self.assertEqual(self.lookup("card"), self.cat_card)
        log = self.env["fi.change.log"].search(
            [("res_model", "=", self.v1._name), ("res_id", "=", self.v1.id)],
            limit=1,
        )
        self.assertEqual((log.from_state, log.to_state), ("superseded", "active"))
        self.assertIn("Rollback from", log.note)

    def test_version_drafted_from_an_old_active_version_cannot_activate(self):
        stale = self.vmap.with_user(self.manager_a)._fi_new_version()
        stale.action_submit()
        stale.with_user(self.manager_b).action_approve()
        self.activate_version(self.vmap, {"card": self.cat_card_new})
        with self.assertRaisesRegex(UserError, "drafted from"):
            stale.with_user(self.manager_b).action_activate()


@tagged("post_install", "-at_install")
class TestMissingMappingReplay(FiGovernanceCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.flow_looks_up_payment_method()

    def deliver(self, event_id, method):
        status, answer = self.receive(self.event(event_id, method=method))
        self.assertEqual(status, 200, answer)
        message = self.env["fi.message"].browse(answer["message_id"])
        self.run_jobs()
        return message

    def wizard(self, exception, user, record):
        return (
            self.env["fi.value.map.add.wizard"]
            .with_user(user)
            .with_context(default_exception_id=exception.id)
            .create({"value_ref": f"{record._name},{record.id}"})
        )

    def test_mapped_code_is_processed(self):
        message = self.deliver("evt_m0", "card")
        self.assertEqual(message.state, "done")
        self.assertEqual(
            (message.res_model, message.res_id), (self.cat_card._name, self.cat_card.id)
        )

    def test_missing_mapping_opens_a_business_exception_naming_map_and_code(self):
        message = self.deliver("evt_m1", "paypal")
        self.assertEqual(message.state, "failed")
        self.assertEqual(message.error_class, "business")
        exception = message.exception_ids
        self.assertEqual(exception.reason_code, "missing_mapping")
        self.assertEqual(exception.category, "business")
        self.assertIn("Payment methods", exception.detail)
        self.assertIn("paypal", exception.detail)
        self.assertEqual(exception.value_map_id, self.vmap)
        self.assertEqual(exception.missing_code, "paypal")
        self.assertFalse(self.pending_jobs("_fi_process"), "no blind retry")

    def test_add_mapping_and_replay_under_four_eyes(self):
        message = self.deliver("evt_m2", "paypal")
        waiting_too = self.deliver("evt_m3", "paypal")
        exception = message.exception_ids
        result = self.wizard(exception, self.operator, self.cat_sepa).action_confirm()
        self.assertEqual(result["tag"], "display_notification")
        version = exception.mapping_version_id
        self.assertEqual(version.state, "submitted")
        self.assertEqual(version.author_id, self.operator)
        self.assertEqual(version.submitted_by_id, self.operator)
        self.assertEqual(exception.state, "in_progress")
        self.assertEqual(
            sorted(version.line_ids.mapped("external_code")), ["card", "paypal"]
        )
        # nothing replayed before activation; the active version is unchanged
        self.assertEqual(message.state, "failed")
        self.assertFalse(self.pending_jobs("_fi_process"))
        with self.assertRaises(FiMissingMapping):
            self.lookup("paypal")
        # the operator cannot approve, a Manager can
        with self.assertRaises(AccessError):
            version.with_user(self.operator).action_approve()
        version.with_user(self.manager_b).action_approve()
        version.with_user(self.manager_b).action_activate()
        self.run_jobs()
        self.assertEqual(message.state, "done")
        self.assertEqual(waiting_too.state, "done", "every message waiting on it")
        self.assertEqual(message.res_id, self.cat_sepa.id)
        self.assertEqual(exception.state, "resolved")
        self.assertEqual(waiting_too.exception_ids.state, "resolved")

    def test_second_missing_code_joins_the_pending_version(self):
        first = self.deliver("evt_m4", "paypal").exception_ids
        second = self.deliver("evt_m5", "klarna").exception_ids
        self.wizard(first, self.operator, self.cat_sepa).action_confirm()
        self.wizard(second, self.operator, self.cat_global).action_confirm()
        self.assertEqual(first.mapping_version_id, second.mapping_version_id)
        version = first.mapping_version_id
        self.assertEqual(
            sorted(version.line_ids.mapped("external_code")),
            ["card", "klarna", "paypal"],
        )
        version.with_user(self.manager_a).action_approve()
        version.with_user(self.manager_a).action_activate()
        self.run_jobs()
        self.assertEqual(
            (first.fi_message_id.state, second.fi_message_id.state), ("done", "done")
        )

    def test_add_mapping_without_four_eyes_replays_at_once(self):
        self.vmap.with_user(self.manager_a).require_four_eyes = False
        message = self.deliver("evt_m6", "paypal")
        exception = message.exception_ids
        self.wizard(exception, self.operator, self.cat_sepa).action_confirm()
        self.assertEqual(self.vmap.active_version_id, self.v1, "no new version")
        self.assertIn("paypal", self.v1.line_ids.mapped("external_code"))
        self.run_jobs()
        self.assertEqual(message.state, "done")
        self.assertEqual(exception.state, "resolved")
        log = self.env["fi.change.log"].search(
            [("res_model", "=", self.v1._name), ("res_id", "=", self.v1.id)],
            limit=1,
        )
        self.assertEqual(log.user_id, self.operator)
        self.assertIn("paypal", log.note)

    def test_plain_user_cannot_add_a_mapping(self):
        exception = self.deliver("evt_m7", "paypal").exception_ids
        plain = self._fi_user("Reader Rita", "fi_gov_reader", "user")
        with self.assertRaises(AccessError):
            self.wizard(exception, plain, self.cat_sepa).action_confirm()
