# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Operating controls: technical and finance routing, alerts once per breach
(refused webhook spikes, silent flows), SLA escalation, runbooks."""

from datetime import timedelta

from lxml import etree

from odoo import fields
from odoo.tests import tagged
from odoo.tools.safe_eval import safe_eval

from .common import LocalApi
from .dashboard_common import DashboardCommon


@tagged("post_install", "-at_install")
class TestRouting(DashboardCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tech = cls.owner.copy(
            {"name": "Platform Engineer", "login": "fi_tech_owner"}
        )
        cls.endpoint.technical_owner_id = cls.tech
        cls.out_flow = cls.env["fi.flow"].create(
            {
                "name": "partner -> customer (routing)",
                "endpoint_id": cls.endpoint.id,
                "direction": "out",
                "event_type": "customer.route",
                "path": "/v1/customers",
                "max_attempts": 1,
                "owner_id": cls.owner.id,
            }
        )

    def activity_users(self, item):
        return item.activity_ids.user_id

    def send_against(self, status):
        with LocalApi([(status, {}, {"error": "nope"}, 0)]) as api:
            self.endpoint.base_url = api.url
            message = self.endpoint._fi_send(self.out_flow, {"name": "Acme"})
            self.run_jobs(ignore_eta=True)
        return message

    def test_dead_letter_goes_to_the_technical_owner(self):
        message = self.send_against(503)
        self.assertEqual(message.state, "dead")
        item = message.exception_ids
        self.assertEqual(item.category, "technical")
        self.assertEqual(item.user_id, self.tech)
        self.assertEqual(self.activity_users(item), self.tech)

    def test_authentication_refused_is_technical_not_finance(self):
        message = self.send_against(401)
        item = message.exception_ids
        self.assertEqual(message.state, "failed")
        self.assertEqual(
            (item.reason_code, item.error_code, item.category),
            ("authentication", "http_401", "technical"),
        )
        self.assertEqual(item.user_id, self.tech)

    def test_inbound_schema_drift_is_technical(self):
        self.flow.schema_json = '{"type":"object","required":["livemode"]}'
        status, answer = self.receive(self.event("evt_drift"))
        self.assertEqual(status, 200)
        self.run_jobs()
        item = self.env["fi.message"].browse(answer["message_id"]).exception_ids
        self.assertEqual(
            (item.reason_code, item.category), ("schema_invalid", "technical")
        )
        self.assertEqual(item.user_id, self.tech)

    def test_business_exception_goes_to_the_flow_owner(self):
        item = self.open_exception()
        self.assertEqual(item.category, "business")
        self.assertEqual(item.user_id, self.owner)
        self.assertEqual(self.activity_users(item), self.owner)

    def test_without_technical_owner_technical_failures_go_to_the_flow_owner(self):
        self.endpoint.technical_owner_id = False
        message = self.send_against(503)
        self.assertEqual(message.exception_ids.user_id, self.owner)

    def action_selects(self, xmlid):
        """What an action's default filters select (one search view, its
        filters evaluated as the web client combines them)."""
        action = self.env.ref(xmlid)
        context = safe_eval(action.context)
        view = action.search_view_id
        self.assertEqual(
            view, self.env.ref("finance_integration_core.fi_exception_view_search")
        )
        arch = etree.fromstring(view.arch)
        domain = []
        for key, value in context.items():
            if key.startswith("search_default_") and value:
                (node,) = arch.xpath(f"//filter[@name='{key[15:]}']")
                domain += safe_eval(node.get("domain"), {"uid": self.env.uid})
        return self.env["fi.exception"].search(domain)

    def test_finance_queue_shows_business_and_technical_queue_shows_technical(self):
        business = self.open_exception()
        technical = self.send_against(503).exception_ids
        finance_queue = self.action_selects(
            "finance_integration_core.action_fi_exception"
        )
        tech_queue = self.action_selects(
            "finance_integration_core.action_fi_exception_technical"
        )
        self.assertIn(business, finance_queue)
        self.assertNotIn(technical, finance_queue)
        self.assertIn(technical, tech_queue)
        self.assertNotIn(business, tech_queue)


@tagged("post_install", "-at_install")
class TestControlAlerts(DashboardCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tech = cls.owner.copy({"name": "Platform Engineer", "login": "fi_tech_al"})
        cls.boss = cls.owner.copy({"name": "Finance Lead", "login": "fi_escalation"})
        cls.endpoint.write(
            {
                "technical_owner_id": cls.tech.id,
                "refused_spike_count": 5,
                "refused_spike_minutes": 10,
            }
        )
        cls.flow.write({"backlog_threshold": 0, "sla_max_exception_age_hours": 4})

    def check(self):
        self.env["fi.alert"]._cron_fi_check_alerts()
        self.env.invalidate_all()

    def alerts(self, kind, **domain):
        return self.env["fi.alert"].search(
            [("kind", "=", kind), ("endpoint_id", "=", self.endpoint.id)]
            + [(key, "=", value) for key, value in domain.items()],
            order="id",
        )

    def refuse(self, count, bad=True):
        body = self.body_of(self.event("evt_spike"))
        for _i in range(count):
            headers = (
                self.signed_headers(body, secret="whsec_wrong")
                if bad
                else {"Content-Type": "application/json"}
            )
            status, _answer = self.receive(body=body, headers=headers)
            self.assertEqual(status, 401)

    def age_refusals(self, minutes):
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE fi_security_event SET create_date = create_date - %s "
            "WHERE endpoint_id = %s",
            (timedelta(minutes=minutes), self.endpoint.id),
        )

    def test_refused_spike_alerts_the_technical_owner_once_with_reasons_counted(self):
        self.refuse(4)
        self.check()
        self.assertFalse(self.alerts("refused_spike"), "4 refusals: under 5")
        self.refuse(1, bad=False)
        self.check()
        self.refuse(3)
        self.check()
        alert = self.alerts("refused_spike")
        self.assertEqual(len(alert), 1, "one alert per spike")
        self.assertEqual(alert.user_id, self.tech)
        self.assertEqual(alert.value, 8)
        self.assertFalse(alert.flow_id)
        self.assertIn("Signature does not match: 7", alert.detail)
        self.assertIn("Signature missing: 1", alert.detail)
        self.assertEqual(len(alert.activity_ids), 1)
        self.assertEqual(alert.activity_ids.user_id, self.tech)
        self.assertTrue(
            any(
                "Signature does not match: 4, Signature missing: 1" in m.body
                for m in alert.message_ids
            ),
            "the opening note counts the reasons of the spike",
        )

        # the window passes: the spike is over, the next one is a new alert
        self.age_refusals(11)
        self.check()
        self.assertEqual(alert.state, "closed")
        self.refuse(5)
        self.check()
        self.assertEqual(
            self.alerts("refused_spike").mapped("state"), ["closed", "open"]
        )

    def test_exception_past_sla_escalates_once_to_the_escalation_user(self):
        self.flow.escalation_user_id = self.boss
        now = fields.Datetime.now()
        late = self.open_exception(now - timedelta(hours=5))
        on_time = self.open_exception(now - timedelta(hours=1))
        self.check()
        self.check()
        self.assertTrue(late.escalated_at)
        self.assertFalse(on_time.escalated_at)
        escalations = late.activity_ids.filtered(lambda a: a.user_id == self.boss)
        self.assertEqual(len(escalations), 1, "escalated once however often checked")
        self.assertIn("Escalated", escalations.summary)
        self.assertFalse(
            on_time.activity_ids.filtered(lambda a: a.user_id == self.boss)
        )

    def test_exception_shows_the_runbook_of_its_reason(self):
        self.env["fi.reason.runbook"].create(
            {
                "reason_code": "business_rule",
                "instructions": "Check the customer's VAT number in the ledger.",
                "approver_id": self.boss.id,
            }
        )
        item = self.open_exception()
        self.assertIn("VAT number in the ledger", item.runbook)
        self.assertEqual(item.runbook_approver_id, self.boss)
        # a company's own runbook wins over the shared one
        self.env["fi.reason.runbook"].create(
            {
                "reason_code": "business_rule",
                "company_id": item.company_id.id,
                "instructions": "Company procedure FIN-12.",
            }
        )
        item.invalidate_recordset()
        self.assertEqual(item.runbook, "Company procedure FIN-12.")
        self.assertFalse(
            self.env["fi.exception"].new({"reason_code": "missing_mapping"}).runbook
        )

    def set_last_message(self, minutes_ago):
        """The flow's messages all received ``minutes_ago``."""
        self.make_message(fields.Datetime.now())
        self.env.cr.execute(
            "UPDATE fi_message SET create_date = %s WHERE flow_id = %s",
            (fields.Datetime.now() - timedelta(minutes=minutes_ago), self.flow.id),
        )

    def test_silent_flow_alerts_its_owner_once_per_gap(self):
        if "resource_calendar_id" in self.env.company._fields:
            self.env.company.resource_calendar_id = False  # all hours count
        self.flow.expected_interval_minutes = 30
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE fi_flow SET create_date = %s WHERE id = %s",
            (fields.Datetime.now() - timedelta(days=1), self.flow.id),
        )
        self.set_last_message(10)
        self.check()
        self.assertFalse(self.alerts("silence"), "a message 10 minutes ago")
        self.set_last_message(45)
        self.check()
        self.check()
        alert = self.alerts("silence", flow_id=self.flow.id)
        self.assertEqual(len(alert), 1)
        self.assertEqual(alert.user_id, self.owner)
        self.assertEqual(len(alert.activity_ids), 1)
        self.assertGreaterEqual(alert.value, 44)  # minutes, database clock

        self.set_last_message(1)  # traffic is back: the gap is over
        self.check()
        self.assertEqual(alert.state, "closed")
        self.set_last_message(60)
        self.check()
        self.assertEqual(
            self.alerts("silence", flow_id=self.flow.id).mapped("state"),
            ["closed", "open"],
        )

    def test_silence_counts_only_working_time_of_the_company_calendar(self):
        flow = self.env["fi.flow"]
        minutes = flow.browse(self.flow.id)._fi_working_minutes(
            fields.Datetime.now() - timedelta(hours=2), fields.Datetime.now()
        )
        if "resource_calendar_id" not in self.env.company._fields:
            # core does not depend on resource: without it every minute counts
            self.assertAlmostEqual(minutes, 120, delta=1)
            return
        calendar = self.env["resource.calendar"].create(
            {"name": "No working time", "attendance_ids": [(5, 0, 0)]}
        )
        self.env.company.resource_calendar_id = calendar
        self.assertEqual(
            self.flow._fi_working_minutes(
                fields.Datetime.now() - timedelta(hours=2), fields.Datetime.now()
            ),
            0,
        )
