# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The finance exception queue: SLA, assignment, actions."""

from datetime import timedelta

from lxml import etree

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import Form, tagged
from odoo.tools.safe_eval import safe_eval

from .common import SECRET, FiCommon


@tagged("post_install", "-at_install")
class TestExceptionQueue(FiCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.flow.write({"sla_max_exception_age_hours": 4})

    def open_exception(self, event_id):
        status, answer = self.receive(body=b"{not json " + event_id.encode())
        self.assertEqual(status, 200)
        self.env["fi.message"].browse(answer["message_id"]).flow_id = self.flow
        message = self.env["fi.message"].browse(answer["message_id"])
        return message.exception_ids

    def test_exception_gets_sla_from_flow_and_becomes_overdue(self):
        status, answer = self.receive(self.event("evt_sla"))
        message = self.env["fi.message"].browse(answer["message_id"])
        item = message._fi_open_exception(
            "business_rule", "VAT number missing", "business"
        )
        self.assertEqual(item.flow_id, self.flow)
        self.assertEqual(item.user_id, self.owner, "assigned to the flow owner")
        self.assertEqual(item.sla_deadline, item.date_opened + timedelta(hours=4))
        activity = item.activity_ids
        self.assertEqual(activity.user_id, self.owner)
        overdue = self.env["fi.exception"].search([("is_overdue", "=", True)])
        self.assertNotIn(item, overdue)
        item.date_opened = fields.Datetime.now() - timedelta(hours=5)
        self.assertTrue(item.is_overdue)
        self.assertIn(
            item, self.env["fi.exception"].search([("is_overdue", "=", True)])
        )
        # a second failure of the same message refreshes the item, no new one
        again = message._fi_open_exception("business_rule", "still missing", "business")
        self.assertEqual(again, item)
        self.assertEqual(item.occurrences, 2)

    def test_ignore_requires_a_reason(self):
        item = self.open_exception("evt_ign")
        action = item.action_ignore()
        self.assertEqual(action["res_model"], "fi.exception.ignore.wizard")
        self.assertEqual(item.state, "new")
        self.assertEqual(
            item.action_ignore(reason="   ")["res_model"], action["res_model"]
        )
        self.assertEqual(item.state, "new", "a blank reason ignores nothing")
        with self.assertRaises(AssertionError):
            Form(
                self.env["fi.exception.ignore.wizard"].with_context(active_ids=item.ids)
            ).save()
        wizard = (
            self.env["fi.exception.ignore.wizard"]
            .with_context(active_ids=item.ids)
            .create({"reason": "Test event sent by the bank during onboarding"})
        )
        wizard.action_confirm()
        self.assertEqual(item.state, "ignored")
        self.assertEqual(
            item.ignore_reason, "Test event sent by the bank during onboarding"
        )
        self.assertEqual(item.fi_message_id.state, "ignored")
        self.assertTrue(item.date_closed)
        with self.assertRaisesRegex(UserError, "already closed"):
            item.action_resolve()

    def test_take_and_resolve(self):
        item = self.open_exception("evt_take")
        item.with_user(self.owner).action_take()
        self.assertEqual((item.state, item.user_id), ("in_progress", self.owner))
        item.with_user(self.owner).action_resolve()
        self.assertEqual(item.state, "resolved")
        self.assertFalse(item.activity_ids)

    def test_successful_retry_closes_the_item(self):
        item = self.open_exception("evt_fix")
        message = item.fi_message_id
        message.sudo().write(
            {
                "state": "failed",
                "payload": '{"id": "evt_fix", "type": "customer.created", "data": {}}',
                "payload_encoding": "text",
            }
        )
        item.with_user(self.owner).action_retry()
        self.assertEqual(message.state, "queued")
        self.run_jobs()
        self.assertEqual(message.state, "done")
        self.assertEqual(item.state, "resolved")
        self.assertIn("automatically", item.resolution_note)

    def search_filter(self, name, user):
        """What the search view's filter ``name`` selects for ``user``: its
        domain (or group-by) taken from the view arch, evaluated as the web
        client does."""
        view = self.env.ref("finance_integration_core.fi_exception_view_search")
        node = etree.fromstring(view.arch).xpath(f"//filter[@name='{name}']")
        self.assertTrue(node, f"filter {name} is in the search view")
        node = node[0]
        if node.get("context"):
            group_by = safe_eval(node.get("context"))["group_by"]
            groups = (
                self.env["fi.exception"]
                .with_user(user)
                ._read_group([], [group_by], ["__count"])
            )
            return dict(groups)
        domain = safe_eval(node.get("domain"), {"uid": user.id})
        return self.env["fi.exception"].with_user(user).search(domain)

    def test_filters_mine_overdue_by_endpoint_select_the_right_items(self):
        mine = self.open_exception("evt_f_mine")
        theirs = self.open_exception("evt_f_theirs")
        late = self.open_exception("evt_f_late")
        mine.user_id = self.owner
        theirs.user_id = self.env.user
        late.write(
            {
                "user_id": self.owner.id,
                "date_opened": fields.Datetime.now() - timedelta(hours=5),
            }
        )
        other_endpoint = self.env["fi.endpoint"].create(
            {"name": "Other endpoint", "state": "active", "webhook_secret": SECRET}
        )
        status, answer = self.receive(body=b"{not json other", key=other_endpoint.key)
        self.assertEqual(status, 200)
        selected = self.search_filter("mine", self.owner)
        self.assertIn(mine, selected)
        self.assertIn(late, selected)
        self.assertNotIn(theirs, selected)
        overdue = self.search_filter("overdue", self.owner)
        self.assertIn(late, overdue)
        self.assertNotIn(mine, overdue)
        by_endpoint = self.search_filter("by_endpoint", self.env.user)
        self.assertEqual(by_endpoint[other_endpoint], 1)
        self.assertGreaterEqual(by_endpoint[self.endpoint], 3)
