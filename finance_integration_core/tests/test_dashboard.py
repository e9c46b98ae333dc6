# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Dashboards: the hourly statistics, queue depth, exception ageing, cards."""

from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from ..models.fi_message_stat import LAST_RUN_PARAM
from .dashboard_common import DashboardCommon


@tagged("post_install", "-at_install")
class TestMessageStatistics(DashboardCommon):
    def populate_old_hour(self):
        """A known hour: 10 done (3 posted) with latencies 100..1000 ms, one
        retried twice, 2 failed, 1 dead, 1 waiting, 1 outbound."""
        at = self.old_hour + timedelta(minutes=5)
        for i, latency in enumerate(range(100, 1001, 100)):
            self.make_message(
                at + timedelta(minutes=i),
                latency_ms=latency,
                posted=i < 3,
                attempts=3 if i == 0 else 1,
            )
        self.make_message(at, state="failed")
        self.make_message(at, state="failed")
        self.make_message(at, state="dead", attempts=6)
        self.make_message(at, state="queued", attempts=0)
        self.make_message(at, state="done", flow=self.flow_out, latency_ms=40)

    def test_rollup_figures_equal_counts_of_the_message_log(self):
        self.populate_old_hour()
        # duplicates suppressed are counted on the first message of their key
        first = self.env["fi.message"].search(
            [("flow_id", "=", self.flow.id), ("state", "=", "done")], limit=1
        )
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE fi_message SET idempotency_key = 'evt_dup', duplicate_count = 4, "
            "last_duplicate_at = now() at time zone 'UTC' WHERE id = %s",
            (first.id,),
        )
        for _i in range(2):
            self.env["fi.security.event"].sudo().create(
                {"endpoint_id": self.endpoint.id, "reason": "bad_signature"}
            )
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE fi_security_event SET create_date = %s WHERE endpoint_id = %s",
            (self.old_hour + timedelta(minutes=2), self.endpoint.id),
        )

        self.env["fi.message.stat"]._fi_refresh()

        stats = self.stats(hour=self.old_hour)
        row = stats[self.old_hour, self.flow, "in"]
        messages = self.env["fi.message"].search(
            [
                ("endpoint_id", "=", self.endpoint.id),
                ("flow_id", "=", self.flow.id),
                ("create_date", ">=", self.old_hour),
                ("create_date", "<", self.old_hour + timedelta(hours=1)),
            ]
        )
        self.assertEqual(row.received, len(messages))
        self.assertEqual(row.received, 14)
        self.assertEqual(row.done, len(messages.filtered(lambda m: m.state == "done")))
        self.assertEqual(row.done, 10)
        self.assertEqual(row.posted, 3)
        self.assertEqual(row.failed, 2)
        self.assertEqual(row.dead, 1)
        self.assertEqual(row.pending, 1)
        self.assertEqual(row.errors, 3)
        self.assertAlmostEqual(row.error_rate, 100 * 3 / 14, places=1)
        self.assertEqual(row.retries, 2 + 5, "tries beyond the first one")
        # percentile_cont over 100..1000 ms: p50 = 550 ms, p95 = 955 ms
        self.assertAlmostEqual(row.latency_p50, 0.550, places=3)
        self.assertAlmostEqual(row.latency_p95, 0.955, places=3)
        self.assertAlmostEqual(row.latency_max, 1.0, places=3)
        out = stats[self.old_hour, self.flow_out, "out"]
        self.assertEqual((out.received, out.done), (1, 1))
        self.assertAlmostEqual(out.latency_p50, 0.040, places=3)
        endpoint_row = stats[self.old_hour, self.env["fi.flow"], "in"]
        self.assertEqual(endpoint_row.auth_failures, 2)
        self.assertEqual(row.duplicates, 4, "counted on the flow of the first message")
        self.assertEqual(endpoint_row.duplicates, 0)
        self.assertEqual(endpoint_row.received, 0)

    def test_refresh_is_idempotent(self):
        self.populate_old_hour()
        Stat = self.env["fi.message.stat"]
        Stat._fi_refresh()
        before = {
            key: (row.id, row.received, row.done, row.latency_p95)
            for key, row in self.stats().items()
        }
        _hours, written, removed = Stat._fi_refresh()
        self.assertEqual((written, removed), (0, 0), "nothing changed, nothing written")
        after = {
            key: (row.id, row.received, row.done, row.latency_p95)
            for key, row in self.stats().items()
        }
        self.assertEqual(before, after)

    def test_refresh_recomputes_only_hours_touched_since_last_run(self):
        self.populate_old_hour()
        Stat = self.env["fi.message.stat"]
        Stat._fi_refresh()
        # the messages of the old hour were last written long ago
        self.env.cr.execute(
            "UPDATE fi_message SET write_date = %s WHERE endpoint_id = %s",
            (self.old_hour, self.endpoint.id),
        )
        self.env.cr.execute(
            "UPDATE fi_message_stat SET received = 999 WHERE endpoint_id = %s "
            "AND hour = %s AND flow_id = %s",
            (self.endpoint.id, self.old_hour, self.flow.id),
        )
        Stat._fi_refresh()
        row = self.stats(hour=self.old_hour)[self.old_hour, self.flow, "in"]
        self.assertEqual(row.received, 999, "an untouched hour is not recomputed")

        # one message of that hour changes: its hour is recomputed
        late = self.env["fi.message"].search(
            [("endpoint_id", "=", self.endpoint.id), ("state", "=", "queued")]
        )
        late.sudo().write({"state": "done", "latency_ms": 3000})
        Stat._fi_refresh()
        row = self.stats(hour=self.old_hour)[self.old_hour, self.flow, "in"]
        self.assertEqual(row.received, 14)
        self.assertEqual(row.done, 11)
        self.assertEqual(row.pending, 0)

    def test_refresh_removes_groups_without_messages_and_rebuild_fixes_all(self):
        self.populate_old_hour()
        Stat = self.env["fi.message.stat"]
        Stat._fi_refresh()
        ghost_flow = self.env["fi.flow"].create(
            {
                "name": "ghost",
                "endpoint_id": self.endpoint.id,
                "direction": "in",
                "event_type": "ghost.event",
            }
        )
        self.env.cr.execute(
            "INSERT INTO fi_message_stat (hour, endpoint_id, flow_id, company_id, "
            "direction, received) VALUES (%s, %s, %s, %s, 'in', 5)",
            (self.old_hour, self.endpoint.id, ghost_flow.id, self.env.company.id),
        )
        self.env.cr.execute(
            "UPDATE fi_message_stat SET received = 999 WHERE endpoint_id = %s "
            "AND hour = %s AND flow_id = %s",
            (self.endpoint.id, self.old_hour, self.flow.id),
        )
        self.env["ir.config_parameter"].sudo().set_param(
            LAST_RUN_PARAM, fields.Datetime.to_string(fields.Datetime.now())
        )
        self.env.cr.execute(
            "UPDATE fi_message SET write_date = %s WHERE endpoint_id = %s",
            (self.old_hour, self.endpoint.id),
        )
        action = Stat.with_user(self.env.ref("base.user_admin")).action_fi_rebuild()
        self.assertEqual(action["params"]["type"], "success")
        stats = self.stats(hour=self.old_hour)
        self.assertNotIn((self.old_hour, ghost_flow, "in"), stats)
        self.assertEqual(stats[self.old_hour, self.flow, "in"].received, 14)

    def test_dashboard_reads_every_figure_from_the_statistics(self):
        recent = fields.Datetime.now() - timedelta(hours=2)
        for latency in (1000, 2000, 3000):
            self.make_message(recent, latency_ms=latency, posted=True)
        self.make_message(recent, state="failed", attempts=2)
        self.make_message(recent - timedelta(days=3), latency_ms=500)
        self.env["fi.message.stat"]._fi_refresh()
        card = self.env["fi.dashboard.flow"].search([("flow_id", "=", self.flow.id)])
        self.assertEqual(card.received_24h, 4)
        self.assertEqual(card.errors_24h, 1)
        self.assertAlmostEqual(card.error_rate_24h, 25.0, places=1)
        self.assertEqual(card.retries_24h, 1)
        self.assertAlmostEqual(card.latency_p50_24h, 2.0, places=3)
        self.assertAlmostEqual(card.latency_p95_24h, 2.9, places=3)
        self.assertEqual(card.received_7d, 5)
        self.assertEqual(card.done_7d, 4)
        self.assertEqual(card.posted_7d, 3)
        self.assertAlmostEqual(card.completeness_7d, 80.0, places=1)
        # the card is read from the statistics, not from the message log
        self.env.cr.execute(
            "UPDATE fi_message_stat SET received = received + 100 "
            "WHERE flow_id = %s AND hour >= %s",
            (self.flow.id, recent - timedelta(hours=1)),
        )
        self.env.invalidate_all()
        card = self.env["fi.dashboard.flow"].search([("flow_id", "=", self.flow.id)])
        self.assertEqual(card.received_24h, 104)

    def test_statistics_follow_company_rules(self):
        self.populate_old_hour()
        self.env["fi.message.stat"]._fi_refresh()
        other = self.env["res.company"].create({"name": "Other Co"})
        user = self.env["res.users"].create(
            {
                "name": "Other Co finance",
                "login": "fi_other_co",
                "company_id": other.id,
                "company_ids": [(6, 0, other.ids)],
                "groups_id": [
                    (
                        6,
                        0,
                        [
                            self.env.ref("finance_integration_core.group_fi_user").id,
                            self.env.ref("base.group_user").id,
                        ],
                    )
                ],
            }
        )
        Stat = self.env["fi.message.stat"].with_user(user)
        self.assertFalse(Stat.search([("endpoint_id", "=", self.endpoint.id)]))
        Card = self.env["fi.dashboard.flow"].with_user(user)
        self.assertFalse(Card.search([("endpoint_id", "=", self.endpoint.id)]))
        mine = self.env["fi.message.stat"].with_user(self.owner)
        self.assertTrue(mine.search([("endpoint_id", "=", self.endpoint.id)]))


@tagged("post_install", "-at_install")
class TestQueueDepthAndAgeing(DashboardCommon):
    def test_queue_depth_shows_pending_jobs_per_channel(self):
        endpoint = self.endpoint.with_user(self.bot)
        for _i in range(2):
            endpoint.with_delay(channel="root.fi.dash_out")._fi_dispatch()
        endpoint.with_delay(channel="root.fi.dash_other")._fi_dispatch()
        done = endpoint.with_delay(channel="root.fi.dash_other")._fi_dispatch()
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE queue_job SET state = 'done' WHERE uuid = %s", (done.uuid,)
        )
        depth = {
            (channel, state): count
            for channel, state, count in self.env["fi.queue.depth"]._read_group(
                [("channel", "like", "root.fi.dash_%")],
                ["channel", "state"],
                ["job_count:sum"],
            )
        }
        self.assertEqual(
            depth,
            {("root.fi.dash_out", "pending"): 2, ("root.fi.dash_other", "pending"): 1},
            "finished jobs are not queued",
        )
        card = self.env["fi.dashboard.flow"].search(
            [("flow_id", "=", self.flow_out.id)]
        )
        self.assertEqual(card.queue_depth, 2, "jobs of the flow's channel")

    def test_open_exceptions_fall_in_age_buckets(self):
        now = fields.Datetime.now()
        ages = {
            "a_lt4h": timedelta(hours=1),
            "b_4_24h": timedelta(hours=10),
            "c_1_3d": timedelta(days=2),
            "d_gt3d": timedelta(days=5),
        }
        items = {bucket: self.open_exception(now - age) for bucket, age in ages.items()}
        closed = self.open_exception(now - timedelta(days=9))
        closed.action_resolve()
        rows = self.env["fi.exception.age"].search([("flow_id", "=", self.flow.id)])
        self.assertEqual(
            {row.exception_id: row.age_bucket for row in rows},
            {item: bucket for bucket, item in items.items()},
            "one row per open item, in its bucket; closed items are not listed",
        )
        overdue = rows.filtered("is_overdue").exception_id
        # SLA of the flow: 24 hours
        self.assertEqual(overdue, items["c_1_3d"] | items["d_gt3d"])
        by_owner = self.env["fi.exception.age"]._read_group(
            [("flow_id", "=", self.flow.id)], ["owner_id", "age_bucket"], ["__count"]
        )
        self.assertEqual(
            sorted((owner.id, bucket, n) for owner, bucket, n in by_owner),
            sorted((self.owner.id, bucket, 1) for bucket in ages),
        )
        card = self.env["fi.dashboard.flow"].search([("flow_id", "=", self.flow.id)])
        self.assertEqual(
            (
                card.open_exceptions,
                card.exceptions_lt4h,
                card.exceptions_4_24h,
                card.exceptions_1_3d,
                card.exceptions_gt3d,
                card.overdue_exceptions,
            ),
            (4, 1, 1, 1, 1, 2),
        )
        self.assertEqual(card.oldest_open_date, items["d_gt3d"].date_opened)
        self.assertEqual(card.health, "breach")

    def test_dashboards_are_reachable_from_the_menu(self):
        menus = self.env["ir.ui.menu"].with_user(self.owner)._visible_menu_ids()
        for xmlid, model in (
            ("menu_fi_dashboard_technical", "fi.dashboard.flow"),
            ("menu_fi_dashboard_finance", "fi.dashboard.flow"),
        ):
            menu = self.env.ref(f"finance_integration_core.{xmlid}")
            self.assertIn(menu.id, menus)
            self.assertEqual(menu.action.res_model, model)
            views = (
                self.env[model]
                .with_user(self.owner)
                .get_views([(v.view_id.id, v.view_mode) for v in menu.action.view_ids])
            )
            self.assertEqual(set(views["views"]), {"kanban", "list", "pivot", "graph"})
