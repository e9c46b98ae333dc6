# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Alerts on business thresholds: one alert per breach, to the flow owner."""

from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from .dashboard_common import DashboardCommon


@tagged("post_install", "-at_install")
class TestAlerting(DashboardCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.owner.notification_type = "email"
        cls.flow.write({"sla_max_exception_age_hours": 4, "backlog_threshold": 0})

    def check(self):
        self.env["fi.alert"]._cron_fi_check_alerts()
        self.env.invalidate_all()

    def alerts(self, kind=None):
        domain = [("flow_id", "=", self.flow.id)]
        if kind:
            domain.append(("kind", "=", kind))
        return self.env["fi.alert"].search(domain, order="id")

    def alert_activities(self, alerts):
        return self.env["mail.activity"].search(
            [("res_model", "=", "fi.alert"), ("res_id", "in", alerts.ids)]
        )

    def test_sla_breach_opens_one_alert_with_one_activity_however_often_checked(self):
        now = fields.Datetime.now()
        for hours in (5, 6, 7):
            self.open_exception(now - timedelta(hours=hours))
        self.open_exception(now - timedelta(hours=1))  # within its SLA

        self.check()
        self.check()

        alert = self.alerts("exception_sla")
        self.assertEqual(len(alert), 1, "one alert per breach, not one per item")
        self.assertEqual(alert.state, "open")
        self.assertEqual(alert.value, 3)
        self.assertEqual(alert.user_id, self.owner)
        activity = self.alert_activities(alert)
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.owner)
        # the owner is told by email, through the mail queue (not sent inline)
        notified = self.env["mail.message"].search(
            [
                ("model", "=", "fi.alert"),
                ("res_id", "=", alert.id),
                ("partner_ids", "in", self.owner.partner_id.ids),
            ]
        )
        self.assertEqual(len(notified), 1)
        mails = self.env["mail.mail"].search([("mail_message_id", "in", notified.ids)])
        self.assertTrue(mails, "an email to the owner waits in the mail queue")
        self.assertIn(self.owner.partner_id, mails.recipient_ids)
        self.assertEqual(set(mails.mapped("state")), {"outgoing"})

    def test_breach_growing_updates_the_open_alert(self):
        now = fields.Datetime.now()
        self.open_exception(now - timedelta(hours=5))
        self.check()
        self.open_exception(now - timedelta(hours=6))
        self.check()
        alert = self.alerts("exception_sla")
        self.assertEqual(len(alert), 1)
        self.assertEqual((alert.value, alert.peak_value), (2, 2))
        self.assertEqual(len(self.alert_activities(alert)), 1)

    def test_backlog_over_threshold_alerts_the_owner(self):
        self.flow.backlog_threshold = 3
        self.open_exception()
        self.open_exception()
        self.check()
        self.assertFalse(self.alerts("backlog"), "2 open items: under the threshold")
        self.open_exception()
        self.check()
        self.check()
        alert = self.alerts("backlog")
        self.assertEqual(len(alert), 1)
        self.assertEqual((alert.value, alert.threshold), (3, 3))
        self.assertEqual(len(self.alert_activities(alert)), 1)
        self.assertFalse(self.alerts("exception_sla"), "nothing is overdue")

    def test_resolved_breach_closes_its_alert_and_a_new_breach_is_a_new_alert(self):
        now = fields.Datetime.now()
        item = self.open_exception(now - timedelta(hours=5))
        self.check()
        first = self.alerts("exception_sla")
        self.assertEqual(first.state, "open")

        item.action_resolve()
        self.check()
        self.assertEqual(first.state, "closed")
        self.assertTrue(first.date_closed)
        self.assertFalse(first.activity_ids, "its activity is marked done")

        self.open_exception(now - timedelta(hours=8))
        self.check()
        alerts = self.alerts("exception_sla")
        self.assertEqual(len(alerts), 2)
        self.assertEqual(alerts.mapped("state"), ["closed", "open"])
        self.assertEqual(len(self.alert_activities(alerts[1])), 1)

    def test_messages_waiting_past_max_latency_alert_once_then_close(self):
        self.flow.sla_max_latency_minutes = 15
        now = fields.Datetime.now()
        waiting = self.make_message(
            now - timedelta(minutes=40), state="queued", attempts=0
        )
        self.make_message(now - timedelta(minutes=41), state="retry")
        self.make_message(now - timedelta(minutes=2), state="queued")
        self.check()
        self.check()
        alert = self.alerts("latency_sla")
        self.assertEqual(len(alert), 1)
        self.assertEqual(alert.value, 2)
        self.assertEqual(len(self.alert_activities(alert)), 1)

        self.env["fi.message"].search(
            [("flow_id", "=", self.flow.id), ("state", "in", ("queued", "retry"))]
        ).sudo().write({"state": "done"})
        self.check()
        self.assertEqual(alert.state, "closed")
        self.assertTrue(waiting.exists())

    def test_alert_without_owner_goes_to_the_endpoint_responsible(self):
        self.flow.owner_id = False
        self.endpoint.responsible_id = self.owner
        self.open_exception(fields.Datetime.now() - timedelta(hours=5))
        self.check()
        alert = self.alerts("exception_sla")
        self.assertEqual(alert.user_id, self.owner)
        self.assertEqual(self.alert_activities(alert).user_id, self.owner)
