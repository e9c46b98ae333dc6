# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
""" "Test against recent messages": a pending version is tried on the last
messages of its flows in a dry run, before anyone approves it."""

import base64
import json
from unittest.mock import patch

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from ..lib import http as fi_http
from .governance_common import FiGovernanceCommon

STRICT = json.dumps(
    {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {"type": "object", "required": ["method", "reference"]},
        },
    }
)


@tagged("post_install", "-at_install")
class TestChangeTest(FiGovernanceCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.flow_looks_up_payment_method()

    def deliver(self, event_id, method, **data):
        status, answer = self.receive(self.event(event_id, method=method, **data))
        self.assertEqual(status, 200, answer)
        message = self.env["fi.message"].browse(answer["message_id"])
        self.run_jobs()
        return message

    def lines(self, version):
        return {
            line.message_id: line
            for line in self.env["fi.change.test.line"].search(
                [("res_model", "=", version._name), ("res_id", "=", version.id)]
            )
        }

    def snapshot(self):
        """What a dry run must leave as it was."""
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT (SELECT count(*) FROM fi_message), "
            "(SELECT count(*) FROM fi_exception), (SELECT count(*) FROM queue_job), "
            "(SELECT max(write_date) FROM fi_message), "
            "(SELECT count(*) FROM fi_change_log)"
        )
        return self.env.cr.fetchone()

    def test_mapping_change_shows_which_messages_would_map_differently(self):
        card = self.deliver("evt_t1", "card")
        unmapped = self.deliver("evt_t2", "paypal")
        self.assertEqual((card.state, unmapped.state), ("done", "failed"))
        draft = self.vmap.with_user(self.manager_a)._fi_new_version()
        draft.line_ids.value_ref = f"res.partner.category,{self.cat_card_new.id}"
        draft.write(
            {
                "line_ids": [
                    (
                        0,
                        0,
                        {
                            "external_code": "paypal",
                            "value_ref": f"res.partner.category,{self.cat_sepa.id}",
                        },
                    )
                ]
            }
        )
        draft.action_submit()
        before = self.snapshot()
        hooks = len(self.env.cr.postcommit._funcs)
        draft.with_user(self.manager_b).action_test_recent_messages()
        self.assertEqual(len(self.env.cr.postcommit._funcs), hooks, "no after-commit")

        self.assertEqual(self.snapshot(), before, "the dry run wrote nothing")
        self.assertEqual(self.vmap.active_version_id, self.v1)
        self.assertEqual(self.lookup("card"), self.cat_card, "no stale cached lookup")
        lines = self.lines(draft)
        self.assertTrue(lines[card].changed)
        self.assertFalse(lines[card].now_fails)
        self.assertIn(str(self.cat_card.id), lines[card].detail_before)
        self.assertIn(str(self.cat_card_new.id), lines[card].detail_after)
        self.assertTrue(lines[unmapped].changed)
        self.assertIn("missing_mapping", lines[unmapped].outcome_before)
        self.assertEqual(lines[unmapped].outcome_after, "Processed")
        self.assertEqual((draft.test_line_count, draft.test_changed_count), (2, 2))
        # the messages themselves are untouched
        self.assertEqual((card.state, unmapped.state), ("done", "failed"))

    def test_schema_change_shows_which_messages_would_now_fail(self):
        complete = self.deliver("evt_s1", "card", reference="INV-1")
        incomplete = self.deliver("evt_s2", "card")
        version = (
            self.env["fi.flow.schema.version"]
            .with_user(self.manager_a)
            .create({"flow_id": self.flow.id, "schema_json": STRICT})
        )
        lines = version._fi_test_recent_messages()
        self.assertEqual(len(lines), 2)
        by_message = {line.message_id: line for line in lines}
        self.assertFalse(by_message[complete].changed)
        self.assertTrue(by_message[incomplete].changed)
        self.assertTrue(by_message[incomplete].now_fails)
        self.assertIn("schema_invalid", by_message[incomplete].outcome_after)
        self.assertIn("reference", by_message[incomplete].detail_after)
        self.assertFalse(self.flow.schema_json, "the flow keeps its schema")
        # only the last N messages are replayed
        self.assertEqual(
            version._fi_test_recent_messages(limit=1).message_id, incomplete
        )

    def test_dry_run_sends_nothing_outbound(self):
        outbound = self.env["fi.flow"].create(
            {
                "name": "invoice -> billing",
                "endpoint_id": self.endpoint.id,
                "direction": "out",
                "event_type": "invoice.export",
                "path": "/invoices",
            }
        )
        with patch.object(fi_http, "send") as send:
            message = self.endpoint._fi_send(outbound, {"amount_minor": 100})
            message.write({"state": "failed"})
            version = (
                self.env["fi.flow.schema.version"]
                .with_user(self.manager_a)
                .create(
                    {
                        "flow_id": outbound.id,
                        "schema_json": json.dumps({"required": ["currency"]}),
                    }
                )
            )
            (line,) = version._fi_test_recent_messages()
            send.assert_not_called()
        self.assertEqual(line.outcome_before, "Would call the other side")
        self.assertIn("not sent", line.detail_before)
        self.assertTrue(line.now_fails)

    def test_configuration_import_is_tested_before_it_is_applied(self):
        card = self.deliver("evt_i1", "card")
        transfer = self.env["fi.config.transfer"].with_user(self.manager_a)
        document = json.loads(transfer._fi_export_text(self.env.company))
        key = f"payment_method @ {self.endpoint.name}"
        vmap = next(r for r in document["value_maps"] if r["key"] == key)
        vmap["values"]["lines"]["card"] = {"name": "Card (acquirer 2)"}
        imported = (
            self.env["fi.config.import"]
            .with_user(self.manager_a)
            .create(
                {
                    "file": base64.b64encode(json.dumps(document).encode()),
                    "file_name": "config.json",
                }
            )
        )
        imported.action_dry_run()
        imported.action_submit()
        (line,) = imported._fi_test_recent_messages().filtered(
            lambda t: t.message_id == card
        )
        self.assertTrue(line.changed)
        self.assertIn(str(self.cat_card_new.id), line.detail_after)
        self.assertEqual(self.vmap.active_version_id, self.v1, "nothing applied")
        self.assertEqual(imported.state, "submitted")

    def test_only_managers_test_pending_versions(self):
        draft = self.vmap.with_user(self.manager_a)._fi_new_version()
        with self.assertRaises(AccessError):
            draft.with_user(self.operator).action_test_recent_messages()
        with self.assertRaisesRegex(UserError, "not waiting to be applied"):
            self.v1.with_user(self.manager_a).action_test_recent_messages()
