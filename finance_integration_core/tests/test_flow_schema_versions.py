# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""A flow's JSON Schema changes through approved versions; processing uses
the active one only."""

import json

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import LocalApi
from .governance_common import FiGovernanceCommon

LOOSE = json.dumps({"type": "object", "required": ["id", "type", "data"]})
STRICT = json.dumps(
    {
        "type": "object",
        "properties": {
            "data": {"type": "object", "required": ["vat"]},
        },
    }
)


@tagged("post_install", "-at_install")
class TestFlowSchemaVersions(FiGovernanceCommon):
    def new_version(self, schema, author=None):
        author = author or self.manager_a
        return (
            self.env["fi.flow.schema.version"]
            .with_user(author)
            .create({"flow_id": self.flow.id, "schema_json": schema})
        )

    def approve_and_activate(self, version, approver=None):
        version.action_submit()
        version.with_user(approver or self.manager_b).action_approve()
        version.with_user(approver or self.manager_b).action_activate()

    def deliver(self, event_id):
        status, answer = self.receive(self.event(event_id, name="ACME"))
        self.assertEqual(status, 200, answer)
        message = self.env["fi.message"].browse(answer["message_id"])
        self.run_jobs()
        return message

    def test_flow_without_versions_keeps_its_editable_schema(self):
        self.flow.schema_json = LOOSE
        self.assertEqual(self.flow.schema_json, LOOSE)

    def test_activation_writes_the_flow_schema_and_version(self):
        v1 = self.new_version(LOOSE)
        self.approve_and_activate(v1)
        self.assertEqual(self.flow.schema_json, LOOSE)
        self.assertEqual(self.flow.schema_version, str(v1.version))

    def test_direct_schema_write_is_refused_once_versioned(self):
        self.approve_and_activate(self.new_version(LOOSE))
        with self.assertRaisesRegex(UserError, "under change control"):
            self.flow.write({"schema_json": STRICT})
        with self.assertRaisesRegex(UserError, "under change control"):
            self.flow.write({"schema_version": "99"})
        self.flow.name = "renamed: other fields stay editable"

    def test_invalid_json_schema_is_refused_at_save(self):
        with self.assertRaisesRegex(UserError, "invalid JSON schema"):
            self.new_version('{"type": "no-such-type"}')

    def test_only_the_active_schema_validates_and_rollback_restores(self):
        v1 = self.new_version(LOOSE)
        self.approve_and_activate(v1)
        v2 = self.new_version(STRICT)
        v2.action_submit()
        v2.with_user(self.manager_b).action_approve()
        self.assertEqual(self.deliver("evt_s1").state, "done", "v2 not active yet")

        v2.with_user(self.manager_b).action_activate()
        refused = self.deliver("evt_s2")
        self.assertEqual(refused.state, "failed")
        self.assertEqual(refused.exception_ids.reason_code, "schema_invalid")
        self.assertIn(f"version {v2.version}", refused.exception_ids.detail)
        # previous version stays readable
        self.assertEqual(v1.state, "superseded")
        self.assertEqual(v1.with_user(self.owner).schema_json, LOOSE)

        v1.with_user(self.manager_a).action_rollback()
        self.assertEqual(self.flow.schema_json, LOOSE)
        self.assertEqual(self.flow.schema_version, str(v1.version))
        self.assertEqual(self.deliver("evt_s3").state, "done")

    def test_four_eyes_on_schema_versions(self):
        version = self.new_version(STRICT)
        version.action_submit()
        with self.assertRaisesRegex(UserError, "Four eyes"):
            version.with_user(self.manager_a).action_approve()

    def test_new_schema_version_starts_from_the_current_schema(self):
        self.flow.schema_json = LOOSE
        action = self.flow.with_user(self.manager_a).action_new_schema_version()
        draft = self.env["fi.flow.schema.version"].browse(action["res_id"])
        self.assertEqual((draft.state, draft.schema_json), ("draft", LOOSE))
        again = self.flow.with_user(self.manager_a).action_new_schema_version()
        self.assertEqual(again["res_id"], draft.id, "one pending version at a time")

    def test_outbound_payload_is_checked_against_the_active_schema_before_sending(
        self,
    ):
        outbound = self.env["fi.flow"].create(
            {
                "name": "invoice -> billing",
                "endpoint_id": self.endpoint.id,
                "direction": "out",
                "event_type": "invoice.export",
                "path": "/invoices",
            }
        )
        schema = json.dumps(
            {
                "type": "object",
                "required": ["amount_minor"],
                "properties": {"amount_minor": {"type": "integer"}},
            }
        )
        version = self.env["fi.flow.schema.version"].with_user(self.manager_a)
        version = version.create({"flow_id": outbound.id, "schema_json": schema})
        self.approve_and_activate(version)
        with LocalApi([(201, {}, {"id": "inv_1"}, 0)]) as api:
            self.endpoint.base_url = api.url
            refused = self.endpoint._fi_send(outbound, {"amount_minor": "12.50"})
            sent = self.endpoint._fi_send(outbound, {"amount_minor": 1250})
            self.run_jobs()
        self.assertEqual(refused.state, "failed")
        self.assertEqual(refused.exception_ids.reason_code, "schema_invalid")
        self.assertIn("$.amount_minor", refused.exception_ids.detail)
        self.assertEqual(sent.state, "done")
        self.assertEqual(len(api.requests), 1, "the invalid payload was never sent")
