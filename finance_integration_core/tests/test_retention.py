# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Payload retention: bodies go, evidence stays."""

from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import FiCommon


@tagged("post_install", "-at_install")
class TestRetention(FiCommon):
    def stored(self, event_id, days_old):
        status, answer = self.receive(self.event(event_id))
        message = self.env["fi.message"].browse(answer["message_id"])
        self.env.cr.execute(
            "UPDATE fi_message SET create_date = create_date - %s * interval '1 day' "
            "WHERE id = %s",
            (days_old, message.id),
        )
        return message

    def test_old_payloads_are_purged_but_hashes_states_and_links_stay(self):
        self.endpoint.payload_retention_days = 30
        old = self.stored("evt_old", 45)
        recent = self.stored("evt_recent", 5)
        self.endpoint._fi_dispatch()
        self.run_jobs()
        self.assertEqual((old.state, recent.state), ("done", "done"))
        digest = old.payload_sha256
        purged = self.endpoint._fi_purge_payloads()
        self.assertEqual(purged[self.endpoint], 1)
        self.assertFalse(old.sudo().payload)
        self.assertFalse(old.payload_display)
        self.assertFalse(old.headers_json)
        self.assertTrue(old.payload_purged_at)
        self.assertEqual(
            (old.payload_sha256, old.state, old.external_id, old.flow_id),
            (digest, "done", "evt_old", self.flow),
        )
        self.assertTrue(recent.sudo().payload, "recent payloads are kept")
        log = self.endpoint.message_ids.filtered(
            lambda m: "Purged the payloads" in (m.body or "")
        )
        self.assertTrue(log, "the purge is logged on the endpoint")
        self.assertEqual(self.endpoint._fi_purge_payloads()[self.endpoint], 0)

    def test_open_exception_or_pending_processing_keeps_the_payload(self):
        self.endpoint.payload_retention_days = 30
        disputed = self.stored("evt_disputed", 60)
        waiting = self.stored("evt_waiting", 60)
        disputed.sudo().state = "failed"
        item = disputed._fi_open_exception("business_rule", "check it", "business")
        self.endpoint._fi_purge_payloads()
        self.assertTrue(disputed.sudo().payload, "tied to an open exception")
        self.assertTrue(waiting.sudo().payload, "not processed yet")
        item.action_resolve()
        self.endpoint._fi_purge_payloads()
        self.assertFalse(disputed.sudo().payload, "purged once the exception is closed")

    def test_replaying_a_purged_message_says_why_it_cannot(self):
        self.endpoint.payload_retention_days = 1
        message = self.stored("evt_gone", 3)
        self.endpoint._fi_dispatch()
        self.run_jobs()
        self.endpoint._fi_purge_payloads()
        message.action_replay()
        self.run_jobs()
        self.assertEqual(message.state, "failed")
        self.assertEqual(message.error_code, "payload_purged")
        self.assertIn("retention", message.exception_ids.detail)

    def test_legal_hold_and_legal_value_survive_the_purge_cron(self):
        self.endpoint.payload_retention_days = 30
        held = self.stored("evt_held", 400)
        legal = self.stored("evt_legal", 400)
        ancient_legal = self.stored("evt_ancient", 366 * 11)
        plain = self.stored("evt_plain", 400)
        self.endpoint._fi_dispatch()
        self.run_jobs()
        held.action_fi_set_legal_hold()
        (legal | ancient_legal)._fi_mark_legal_value()
        self.assertEqual(self.env.company.fi_legal_retention_years, 10)

        self.env["fi.endpoint"]._cron_fi_purge_payloads()
        self.env.invalidate_all()
        self.assertTrue(held.sudo().payload, "under legal hold")
        self.assertTrue(legal.sudo().payload, "legal value, younger than 10 years")
        self.assertFalse(ancient_legal.sudo().payload, "legal value past 10 years")
        self.assertFalse(plain.sudo().payload)

        held.action_fi_lift_legal_hold()
        self.env["fi.endpoint"]._cron_fi_purge_payloads()
        self.env.invalidate_all()
        self.assertFalse(held.sudo().payload, "purged once the hold is lifted")

    def test_legal_hold_on_the_endpoint_stops_every_purge(self):
        self.endpoint.write(
            {
                "payload_retention_days": 1,
                "legal_hold": True,
                "legal_hold_reason": "Tax audit 2026",
            }
        )
        old = self.stored("evt_hold_ep", 90)
        self.endpoint._fi_dispatch()
        self.run_jobs()
        self.env["fi.endpoint"]._cron_fi_purge_payloads()
        self.env.invalidate_all()
        self.assertTrue(old.sudo().payload)
        self.endpoint.legal_hold = False
        self.env["fi.endpoint"]._cron_fi_purge_payloads()
        self.env.invalidate_all()
        self.assertFalse(old.sudo().payload)

    def test_only_a_manager_sets_a_legal_hold(self):
        message = self.stored("evt_hold_rights", 1)
        with self.assertRaises(AccessError):
            message.with_user(self.owner).action_fi_set_legal_hold()
