"""Benchmark: open the two dashboards over 1,000,000 messages.

Run as ``python3 setup/bench_dashboard.py`` (``setup/bench dashboard``). It

1. starts a throwaway PostgreSQL cluster (its own role ``odoo``, trust auth),
2. installs ``finance_integration_core`` without demo data,
3. bulk-inserts 1,000,000 messages spread over 90 days on 4 endpoints and
   12 flows (every state, latencies, retries), 3,000 exceptions, duplicate
   deliveries, refused webhooks and pending jobs, with SQL,
4. builds the hourly statistics (timed: the full rebuild, then one
   incremental refresh as the cron runs it),
5. starts Odoo with ``--workers=2`` and times over JSON-RPC, as admin, what the
   web client does to open each dashboard: loading the action, its views
   (``get_views``) and the data of its default view (``web_search_read`` for
   kanban and list, ``web_read_group`` for graph and pivot), for the dashboard
   itself and for the drill-down views of the same audience in the Dashboards
   menu. Each is opened 3 times on warmed-up workers; the slowest counts.

FI_BENCH_MESSAGES=N sets the number of messages (a quick run: 20000),
FI_BENCH_KEEP=1 keeps the work folder (cluster, logs).

The last line is
``bench dashboard: messages=N seconds=<slower audience> technical=<s>
finance=<s> rollup_refresh=<s> rollup_incremental=<s>``.
"""

import json
import os
import re
import time

import _fi

MESSAGES = int(os.environ.get("FI_BENCH_MESSAGES", "1000000"))
EXCEPTIONS = 3000
REPEAT = 3
MODULE = "finance_integration_core"
DB = "fi_bench_dashboard"

#: the dashboards of each audience, as the Dashboards menu opens them
AUDIENCES = {
    "technical": [
        "finance_integration_core.action_fi_dashboard_technical",
        "finance_integration_core.action_fi_message_stat",
        "finance_integration_core.action_fi_queue_depth",
    ],
    "finance": [
        "finance_integration_core.action_fi_dashboard_finance",
        "finance_integration_core.action_fi_exception_age",
        "finance_integration_core.action_fi_message_stat_completeness",
    ],
}


def log(text):
    print(f"bench dashboard: {text}", flush=True)


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


#: PostgreSQL tuned for a bulk load of a million rows (a throwaway cluster)
PG_SETTINGS = (
    "synchronous_commit=off",
    "shared_buffers=512MB",
    "work_mem=64MB",
    "maintenance_work_mem=256MB",
    "max_wal_size=4GB",
    "checkpoint_timeout=30min",
)

SHELL_SETUP = """
import json
company = env.company
admin = env.ref("base.user_admin")
endpoints = env["fi.endpoint"].create([
    {"name": f"Bench endpoint {i}", "state": "active", "responsible_id": admin.id}
    for i in range(4)
])
flows = []
for endpoint in endpoints:
    for j, (direction, event_type) in enumerate([
        ("in", "charge.succeeded"), ("in", "refund.created"), ("out", "invoice.export"),
    ]):
        flows.append(env["fi.flow"].create({
            "name": f"{event_type} ({endpoint.name})",
            "endpoint_id": endpoint.id,
            "direction": direction,
            "event_type": event_type,
            "owner_id": admin.id,
            "channel": f"root.fi.bench{j}",
        }))
env.cr.commit()
print("FLOWS=" + json.dumps([[f.id, f.endpoint_id.id, f.direction] for f in flows]))
"""

SHELL_REFRESH = """
import time
Stat = env["fi.message.stat"]
start = time.perf_counter()
Stat._fi_refresh(full=True)
env.cr.commit()
full = time.perf_counter() - start
env.cr.execute("UPDATE fi_message SET state = 'done', latency_ms = 900, "
               "write_date = now() at time zone 'UTC' WHERE id IN "
               "(SELECT id FROM fi_message WHERE state = 'queued' LIMIT 200)")
env.cr.commit()
start = time.perf_counter()
Stat._fi_refresh()
env.cr.commit()
incremental = time.perf_counter() - start
env.cr.execute("SELECT count(*) FROM fi_message_stat")
print(f"REFRESH={full:.3f} {incremental:.3f} {env.cr.fetchone()[0]}")
"""

BULK_SQL = """
WITH flows AS (
    SELECT row_number() OVER (ORDER BY f.id) - 1 AS n, f.id, f.endpoint_id,
           f.direction, f.event_type, e.company_id
      FROM fi_flow f JOIN fi_endpoint e ON e.id = f.endpoint_id
), nflows AS (SELECT count(*) AS c FROM flows),
series AS (
    SELECT g, g %% 1000 AS r, random() AS age, random() AS jitter
      FROM generate_series(1, %(messages)s) g
)
INSERT INTO fi_message
    (endpoint_id, flow_id, company_id, direction, state, event_type, external_id,
     idempotency_key, correlation_id, payload_encoding, payload_size, attempts,
     duplicate_count, latency_ms, error_class, res_model, res_id,
     create_uid, create_date, write_uid, write_date, date_done)
SELECT f.endpoint_id, f.id, f.company_id, f.direction, s.state, f.event_type,
       'evt_' || s.g, 'evt_' || s.g, md5(s.g::text), 'text', 800,
       CASE WHEN s.state IN ('queued', 'new') THEN 0
            WHEN s.state = 'dead' THEN 6
            ELSE 1 + (s.g %% 13 = 0)::int + (s.g %% 97 = 0)::int END,
       0,
       CASE WHEN s.state = 'done'
            THEN (200 - ln(1 - s.jitter) * 900)::int END,
       CASE WHEN s.state IN ('failed', 'dead', 'invalid') THEN
            CASE WHEN s.state = 'failed' THEN 'business' ELSE 'technical' END END,
       CASE WHEN s.state = 'done' AND f.direction = 'in' THEN 'res.partner' END,
       CASE WHEN s.state = 'done' AND f.direction = 'in' THEN 1 END,
       1, s.created, 1, s.created,
       CASE WHEN s.state = 'done'
            THEN s.created + (200 - ln(1 - s.jitter) * 900) * interval '1 ms' END
  FROM (
    SELECT g, jitter,
           CASE WHEN r < 930 THEN 'done' WHEN r < 950 THEN 'failed'
                WHEN r < 960 THEN 'dead' WHEN r < 970 THEN 'invalid'
                WHEN r < 990 THEN 'ignored' WHEN r < 996 THEN 'retry'
                ELSE 'queued' END AS state,
           -- waiting messages are recent; the rest spread over 90 days
           (now() at time zone 'UTC') - CASE WHEN r >= 990
                THEN age * interval '2 hours'
                ELSE age * interval '90 days' END AS created
      FROM series
  ) s
  JOIN flows f ON f.n = s.g %% (SELECT c FROM nflows)
"""

EXTRA_SQL = [
    # exceptions on failed and dead messages, 70 %% still open, over 10 days
    """
    INSERT INTO fi_exception
        (name, fi_message_id, endpoint_id, flow_id, company_id, reason_code,
         category, severity, priority_rank, detail, state, user_id, date_opened,
         sla_deadline, date_closed, occurrences, create_uid, create_date,
         write_uid, write_date)
    SELECT 'Business rule: IN #' || m.id, m.id, m.endpoint_id, m.flow_id,
           m.company_id, 'business_rule', 'business', 'medium', 1,
           'bench', CASE WHEN m.n %% 10 < 7 THEN 'new' ELSE 'resolved' END,
           2, m.opened, m.opened + interval '24 hours',
           CASE WHEN m.n %% 10 >= 7 THEN m.opened + interval '3 hours' END,
           1, 1, m.opened, 1, m.opened
      FROM (
        SELECT id, endpoint_id, flow_id, company_id,
               row_number() OVER (ORDER BY id) AS n,
               (now() at time zone 'UTC') - random() * interval '10 days' AS opened
          FROM fi_message WHERE state IN ('failed', 'dead')
         ORDER BY id DESC LIMIT %(exceptions)s
      ) m
    """,
    # duplicate deliveries suppressed, on 5,000 keys
    """
    UPDATE fi_message
       SET duplicate_count = 1 + id %% 3,
           last_duplicate_at = create_date + interval '5 minutes'
     WHERE id IN (SELECT id FROM fi_message
                   WHERE direction = 'in' AND id %% 200 = 0 LIMIT 5000)
    """,
    # refused webhooks
    """
    INSERT INTO fi_security_event
        (endpoint_id, company_id, reason, detail, remote_addr, create_uid,
         create_date, write_uid, write_date)
    SELECT e.id, e.company_id, 'bad_signature', 'bench', '203.0.113.7', 1, t, 1, t
      FROM fi_endpoint e,
           LATERAL (SELECT (now() at time zone 'UTC') - random() * interval '90 days'
                           AS t FROM generate_series(1, 500)) times
    """,
    # jobs waiting in the queues
    """
    INSERT INTO queue_job
        (uuid, name, state, channel, model_name, method_name, date_created,
         user_id, company_id, priority, retry, max_retries)
    SELECT md5('job' || g), 'bench job', 'pending', 'root.fi.bench' || (g %% 3),
           'fi.message', '_fi_process',
           (now() at time zone 'UTC') - g * interval '1 second', 2, 1, 10, 0, 5
      FROM generate_series(1, 600) g
    """,
]


def populate(cluster, flows):
    with cluster.connect(DB) as conn, conn.cursor() as cr:
        cr.execute(BULK_SQL, {"messages": MESSAGES})
        for sql in EXTRA_SQL:
            cr.execute(sql, {"exceptions": EXCEPTIONS})
        cr.execute(
            "SELECT setval('fi_message_id_seq', (SELECT max(id) FROM fi_message))"
        )
    conn = cluster.connect(DB)
    conn.autocommit = True
    try:
        with conn.cursor() as cr:
            cr.execute("VACUUM ANALYZE")
            cr.execute("SELECT count(*) FROM fi_message")
            return cr.fetchone()[0]
    finally:
        conn.close()


# ----------------------------------------------------------------------
# the web client, over JSON-RPC
# ----------------------------------------------------------------------
class WebClient(_fi.JsonRpc):
    """The web client opening dashboards, over JSON-RPC."""

    def __init__(self, url):
        super().__init__(url, DB, timeout=120)

    def open_action(self, xmlid):
        """What the web client does to show an action's default view."""
        action = self.call("/web/action/load", {"action_id": xmlid})
        model = action["res_model"]
        context = {"lang": "en_US", "tz": "UTC"}
        views = [list(v) for v in action["views"]] + [
            [(action.get("search_view_id") or [False])[0], "search"]
        ]
        result = self.call_kw(
            model,
            "get_views",
            [],
            {
                "views": views,
                "options": {
                    "action_id": action["id"],
                    "load_filters": True,
                    "toolbar": True,
                },
                "context": context,
            },
        )
        view_type = action["views"][0][1]
        arch = result["views"][view_type]["arch"]
        fields = result["models"][model]["fields"]
        domain = self.default_domain(action, result["views"]["search"]["arch"])
        return getattr(self, f"load_{view_type}")(model, arch, fields, domain, context)

    @staticmethod
    def default_domain(action, search_arch):
        """The domain of the action's search_default_* filters."""
        action_context = action.get("context") or "{}"
        wanted = re.findall(r"search_default_(\w+)", action_context)
        domain = []
        for name in wanted:
            match = re.search(
                rf'<filter[^>]*name="{name}"[^>]*domain="([^"]*)"', search_arch
            )
            days = match and re.search(r"relativedelta\(days=(\d+)\)", match.group(1))
            if days:
                since = time.strftime(
                    "%Y-%m-%d", time.gmtime(time.time() - int(days.group(1)) * 86400)
                )
                domain.append(["hour", ">=", since])
        return domain

    @staticmethod
    def spec(arch, fields):
        spec = {}
        for name in dict.fromkeys(re.findall(r'<field name="(\w+)"', arch)):
            if fields[name]["type"] in ("many2one", "many2many", "one2many"):
                spec[name] = {"fields": {"display_name": {}}}
            else:
                spec[name] = {}
        return spec

    def load_kanban(self, model, arch, fields, domain, context, limit=40):
        """Returns ``(records shown, records matching)``."""
        result = self.call_kw(
            model,
            "web_search_read",
            [],
            {
                "domain": domain,
                "specification": self.spec(arch, fields),
                "limit": limit,
                "offset": 0,
                "order": "",
                "count_limit": 10001,
                "context": context,
            },
        )
        return len(result["records"]), result["length"]

    def load_list(self, model, arch, fields, domain, context):
        return self.load_kanban(model, arch, fields, domain, context, limit=80)

    @staticmethod
    def measures_and_groupbys(arch):
        measures, rows, cols = [], [], []
        for attrs in re.findall(r"<field ([^>]*)/?>", arch):
            name = re.search(r'name="(\w+)"', attrs).group(1)
            interval = re.search(r'interval="(\w+)"', attrs)
            kind = re.search(r'type="(\w+)"', attrs)
            groupby = f"{name}:{interval.group(1)}" if interval else name
            if kind and kind.group(1) == "measure":
                measures.append(name)
            elif kind and kind.group(1) == "col":
                cols.append(groupby)
            else:
                rows.append(groupby)
        return measures, rows, cols

    def read_group(self, model, domain, measures, groupby, context):
        """Returns ``(groups, records in them)``."""
        result = self.call_kw(
            model,
            "web_read_group",
            [],
            {
                "domain": domain,
                "fields": measures or ["__count"],
                "groupby": groupby,
                "lazy": False,
                "context": context,
            },
        )
        groups = result["groups"]
        return len(groups), sum(g.get("__count", 0) for g in groups)

    def load_graph(self, model, arch, fields, domain, context):
        measures, rows, cols = self.measures_and_groupbys(arch)
        return self.read_group(
            model, domain, self.aggregates(measures, fields), rows + cols, context
        )

    @staticmethod
    def aggregates(measures, fields):
        return [
            f"{m}:{fields[m]['aggregator']}"
            for m in measures
            if fields[m].get("aggregator")
        ]

    def load_pivot(self, model, arch, fields, domain, context):
        measures, rows, cols = self.measures_and_groupbys(arch)
        # the pivot reads the total, the first row and column headers and
        # the cells of the expanded row groups
        measures = self.aggregates(measures, fields)
        for groupby in ([], rows[:1], cols[:1], rows[:1] + cols[:1], rows + cols):
            shown = self.read_group(model, domain, measures, groupby, context)
        return shown


def measure(server):
    # every worker loads the registry and the views once before timing
    for _i in range(4):
        warm = WebClient(server.url)
        warm.login()
        for xmlids in AUDIENCES.values():
            for xmlid in xmlids:
                warm.open_action(xmlid)
    client = WebClient(server.url)
    client.login()
    results = {}
    for audience, xmlids in AUDIENCES.items():
        total = 0.0
        for xmlid in xmlids:
            runs = [timed(client.open_action, xmlid) for _i in range(REPEAT)]
            slowest = max(seconds for seconds, _shown in runs)
            rows, records = runs[-1][1]
            log(
                f"{audience}: {xmlid.split('.')[-1]} {slowest:.3f}s "
                f"(runs {', '.join(f'{r:.3f}' for r, _shown in runs)}; "
                f"{rows} rows or groups over {records} records)"
            )
            total += slowest
        results[audience] = total
        log(f"{audience} dashboards, all views of the menu: {total:.3f}s")
    return results


def main():
    started = time.perf_counter()
    _fi.check_odoo()
    _fi.exit_on_sigterm("bench dashboard")
    with _fi.workdir(
        "fi_bench_dashboard_", keep=os.environ.get("FI_BENCH_KEEP")
    ) as work:
        logfile = os.path.join(work, "odoo.log")
        cluster = _fi.Cluster(os.path.join(work, "pg"), settings=PG_SETTINGS)
        server = None
        try:
            cluster.start()
            conf = _fi.write_config(os.path.join(work, "odoo.conf"), cluster.port)
            log(f"cluster on port {cluster.port}, logs in {logfile}")
            seconds, _out = timed(_fi.odoo_install, conf, DB, MODULE, False, logfile)
            log(f"installed {MODULE} in {seconds:.1f}s")
            answer = _fi.odoo_shell(conf, DB, SHELL_SETUP, log=logfile)
            flows = json.loads(re.search(r"FLOWS=(.*)", answer).group(1))
            seconds, count = timed(populate, cluster, flows)
            log(f"inserted {count} messages on {len(flows)} flows in {seconds:.1f}s")
            answer = _fi.odoo_shell(conf, DB, SHELL_REFRESH, log=logfile)
            full, incremental, rows = re.search(
                r"REFRESH=(\S+) (\S+) (\S+)", answer
            ).groups()
            log(
                f"statistics built in {float(full):.3f}s ({rows} hourly rows); "
                f"incremental refresh {float(incremental):.3f}s"
            )
            server = _fi.OdooServer(
                conf, DB, log=logfile, args=[f"--db-filter=^{DB}$"]
            ).start()
            results = measure(server)
            log(f"total bench time {time.perf_counter() - started:.0f}s")
            print(
                f"bench dashboard: messages={count} "
                f"seconds={max(results.values()):.3f} "
                f"technical={results['technical']:.3f} "
                f"finance={results['finance']:.3f} "
                f"rollup_refresh={float(full):.3f} "
                f"rollup_incremental={float(incremental):.3f}",
                flush=True,
            )
        finally:
            if server:
                server.stop()
            cluster.stop(mode="immediate")


if __name__ == "__main__":
    main()
