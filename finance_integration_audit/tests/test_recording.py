# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""What the chain records from core: intake, processing, exceptions, replays,
refused webhooks, configuration diffs, change control, rotations, purges."""

import json
import os
from unittest.mock import patch

from cryptography.fernet import Fernet

from odoo.tests import tagged
from odoo.tools import config

from odoo.addons.finance_integration_core.tests.common import SECRET
from odoo.addons.finance_integration_core.tests.governance_common import (
    LOOKUP_CODE,
    FiGovernanceCommon,
)

from .common import AuditCommon

BLOCKING_CODE = """
if document["data"].get("blocked"):
    raise FiBusinessError("customer %s is blocked" % document["data"]["name"])
action = env["res.partner"].create({"name": document["data"]["name"]})
"""


@tagged("post_install", "-at_install")
class TestRecording(AuditCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.handle_with_code("Create customer unless blocked", BLOCKING_CODE)

    def deliver(self, event_id, **data):
        data.setdefault("name", f"Customer {event_id}")
        status, answer = self.receive(self.event_doc(event_id, **data))
        self.assertEqual(status, 200, answer)
        return self.env["fi.message"].browse(answer["message_id"])

    @staticmethod
    def event_doc(event_id, **data):
        return {"id": event_id, "type": "customer.created", "data": data}

    def trail(self, message):
        self.seal()
        return self.events.search([("message_id", "=", message.id)], order="sequence")

    def test_intake_writes_nothing_and_the_sealer_chains_the_message_row(self):
        self.env.flush_all()
        count = self.events.search_count([])
        message = self.deliver("evt_rx1")
        self.env.flush_all()
        self.assertEqual(self.events.search_count([]), count, "intake adds no row")
        trail = self.trail(message)
        received = trail.filtered(lambda e: e.event_type == "message.received")
        self.assertEqual(len(received), 1)
        facts = json.loads(received.facts)
        self.assertEqual(facts["payload_sha256"], message.payload_sha256)
        self.assertEqual(facts["signature"], "verified")
        self.assertEqual(received.correlation_id, message.correlation_id)
        self.assertEqual(received.integration_user_id, self.bot)
        self.assertNotIn("ACME", received.facts + received.summary)
        # a second pass does not chain the row twice
        self.seal()
        self.assertEqual(
            len(
                self.trail(message).filtered(
                    lambda e: e.event_type == "message.received"
                )
            ),
            1,
        )

    def test_processing_done_links_the_record_created(self):
        message = self.deliver("evt_ok1")
        self.run_jobs()
        self.assertEqual(message.state, "done")
        done = self.trail(message).filtered(lambda e: e.event_type == "message.done")
        self.assertEqual(len(done), 1)
        self.assertEqual((done.res_model, done.res_id), ("res.partner", message.res_id))
        self.assertEqual(
            done.user_id, self.bot, "processing runs as the integration user"
        )

    def test_failure_exception_assignment_ignore_and_replay_are_recorded(self):
        message = self.deliver("evt_bad1", blocked=True)
        self.run_jobs()
        self.assertEqual(message.state, "failed")
        exception = message.exception_ids
        self.assertEqual(exception.user_id, self.owner, "opened for the flow owner")
        exception.action_take()  # taken over by another user
        exception.with_user(self.owner).action_ignore(reason="duplicate of INV/42")
        message.with_user(self.owner).action_replay()
        types = self.trail(message).mapped("event_type")
        for expected in (
            "message.received",
            "message.failed",
            "exception.opened",
            "exception.assigned",
            "exception.in_progress",
            "exception.ignored",
            "message.replayed",
        ):
            self.assertIn(expected, types)
        ignored = self.events.search(
            [("event_type", "=", "exception.ignored"), ("res_id", "=", exception.id)]
        )
        self.assertEqual(json.loads(ignored.facts)["reason"], "duplicate of INV/42")
        self.assertEqual(ignored.user_id, self.owner)

    def test_refused_webhook_is_recorded_with_its_reason(self):
        body = self.body_of(self.event_doc("evt_forged"))
        status, _answer = self.receive(
            body=body, headers=self.signed_headers(body, secret="wrong")
        )
        self.assertEqual(status, 401)
        rejected = self.events.search([("event_type", "=", "webhook.rejected")])
        self.assertEqual(len(rejected), 1)
        self.assertEqual(json.loads(rejected.facts)["reason"], "bad_signature")
        self.assertEqual(rejected.endpoint_id, self.endpoint)

    def test_configuration_changes_are_field_diffs_with_secrets_only_changed(self):
        self.endpoint.write(
            {"name": "Renamed endpoint", "webhook_secret": "whsec_new_1"}
        )
        change = self.events.search(
            [("event_type", "=", "config.changed"), ("res_model", "=", "fi.endpoint")],
            order="id desc",
            limit=1,
        )
        changes = json.loads(change.facts)["changes"]
        self.assertEqual(
            changes["name"], {"old": "Test HMAC endpoint", "new": "Renamed endpoint"}
        )
        self.assertEqual(changes["webhook_secret"], "changed")
        self.assertNotIn("whsec_new_1", change.facts)
        self.assertNotIn(SECRET, change.facts)
        self.flow.max_attempts = 7
        flow_change = self.events.search(
            [("event_type", "=", "config.changed"), ("res_model", "=", "fi.flow")],
            order="id desc",
            limit=1,
        )
        self.assertEqual(
            json.loads(flow_change.facts)["changes"]["max_attempts"],
            {"old": 3, "new": 7},
        )

    def test_change_control_transitions_are_chained(self):
        vmap = self.env["fi.value.map"].create(
            {
                "name": "Audit tax codes",
                "code": "audit_tax",
                "endpoint_id": self.endpoint.id,
                "value_type": "record",
                "target_model_id": self.env.ref("base.model_res_partner_category").id,
            }
        )
        version = vmap._fi_new_version()
        version.action_submit()
        transitions = self.events.search(
            [
                ("event_type", "=like", "change.%"),
                ("res_model", "=", version._name),
                ("res_id", "=", version.id),
            ]
        )
        self.assertTrue(transitions)
        facts = json.loads(transitions.sorted("id")[-1].facts)
        self.assertEqual(facts["version"], version.version)
        self.assertIn(facts["to_state"], dict(version._fields["state"].selection))

    def test_key_rotation_and_payload_purge_are_recorded(self):
        current = config.get("fi_encryption_keys") or os.environ["FI_ENCRYPTION_KEYS"]
        new_key = Fernet.generate_key().decode()
        with patch.dict(config.options, {"fi_encryption_keys": f"{new_key},{current}"}):
            count = self.endpoint._fi_reencrypt_all()
            self.env.registry.clear_cache()
        rotated = self.events.search([("event_type", "=", "key.rotated")])
        self.assertEqual(json.loads(rotated.facts)["secrets_reencrypted"], count)

    def test_payload_purge_is_recorded(self):
        message = self.deliver("evt_old")
        self.run_jobs()
        self.env.cr.execute(
            "UPDATE fi_message SET create_date = create_date - interval '40 days' "
            "WHERE id = %s",
            (message.id,),
        )
        self.endpoint.payload_retention_days = 30
        self.endpoint._fi_purge_payloads()
        purged = self.events.search([("event_type", "=", "retention.purged")])
        self.assertEqual(json.loads(purged.facts)["messages_purged"], 1)

    def test_trace_from_a_message_shows_its_history(self):
        message = self.deliver("evt_trace")
        self.run_jobs()
        self.seal()
        action = message.action_fi_audit_trace()
        trail = self.events.search(action["domain"])
        self.assertIn("message.received", trail.mapped("event_type"))
        self.assertIn("message.done", trail.mapped("event_type"))


@tagged("post_install", "-at_install")
class TestValueMapVersionsRecorded(FiGovernanceCommon):
    def test_done_event_names_the_value_map_versions_applied(self):
        action = self.env["ir.actions.server"].create(
            {
                "name": "Look up the payment method",
                "model_id": self.env.ref(
                    "finance_integration_core.model_fi_message"
                ).id,
                "state": "code",
                "code": LOOKUP_CODE,
            }
        )
        self.flow.write({"action": "server_action", "server_action_id": action.id})
        status, answer = self.receive(
            {"id": "evt_vm1", "type": "customer.created", "data": {"method": "card"}}
        )
        self.assertEqual(status, 200, answer)
        message = self.env["fi.message"].browse(answer["message_id"])
        self.run_jobs()
        self.assertEqual(message.state, "done")
        done = self.env["fi.audit.event"].search(
            [("message_id", "=", message.id), ("event_type", "=", "message.done")]
        )
        applied = json.loads(done.facts)["value_maps"]
        self.assertEqual(applied[f"payment_method#{self.vmap.id}"], self.v1.version)
