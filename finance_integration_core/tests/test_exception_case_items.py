# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Case items: exceptions opened for a case, not for a failing message."""

from datetime import datetime, timedelta

from odoo.tests import tagged

from .common import FiCommon


@tagged("post_install", "-at_install")
class TestExceptionCaseItems(FiCommon):
    def test_case_item_keeps_its_deadline_and_survives_its_message(self):
        _status, answer = self.receive(self.event("evt_case"))
        message = self.env["fi.message"].browse(answer["message_id"])
        due = datetime(2031, 5, 17, 12, 0)
        item = self.env["fi.exception"]._fi_open_for(
            "dispute", "Submit evidence", message=message, deadline=due
        )
        self.assertEqual(item.sla_deadline, due)
        self.assertEqual(item.activity_ids.date_deadline, due.date())
        self.assertEqual(item.error_code, "dispute")
        message._fi_mark_done(None)
        self.assertEqual(message.state, "done")
        self.assertEqual(item.state, "new", "processing does not close a case item")
        # a failure item of the same message is still closed by success
        failure = message._fi_open_exception("business_rule", "boom", "business")
        self.assertNotEqual(failure, item)
        message._fi_mark_done(None)
        self.assertEqual(failure.state, "resolved")
        self.assertEqual(item.state, "new")

    def test_case_item_without_message_is_anchored_on_its_endpoint(self):
        partner = self.env["res.partner"].create({"name": "Case partner"})
        item = self.env["fi.exception"]._fi_open_for(
            "reconciliation",
            "Stripe and Odoo differ",
            endpoint=self.endpoint,
            record=partner,
        )
        self.assertEqual(item.endpoint_id, self.endpoint)
        self.assertEqual(item.company_id, self.endpoint.company_id)
        self.assertEqual(item.fi_message_id.state, "done")
        self.assertEqual((item.res_model, item.res_id), ("res.partner", partner.id))
        self.assertTrue(item.correlation_id)
        self.assertAlmostEqual(
            (item.sla_deadline - item.date_opened).total_seconds(),
            timedelta(hours=24).total_seconds(),
            delta=1,
        )
