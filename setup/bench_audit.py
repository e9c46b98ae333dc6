#!/usr/bin/env python3
"""setup/bench audit - what the audit chain costs the webhook intake, how fast
it seals, how fast a million events verify.

One throwaway PostgreSQL cluster, two databases from the same server build:
``plain`` (finance_integration_core) and ``audit`` (core plus
finance_integration_audit), each served by its own Odoo (--workers=2, no
cron). Intake is measured with setup/_fi.py's load generator (wrk, every
request a distinct, correctly signed event, the Stripe-shaped body of setup/
bench intake) on both, in interleaved rounds (A B B A ...), so machine noise
falls on both alike; every 200 is checked to be a stored message.

Then, in the audit database: one million unsealed events are inserted (plus
the messages of the intake rounds, chained from their rows), sealed by the
sealer (seal_eps), verified by the in-Odoo verification (verify_1m_s),
exported and verified by the offline verifier (offline_verify_1m_s).

Usage: setup/bench audit [--seconds S] [--rounds N] [--level C] [--events N] [--keep]
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import _fi
from _fi import say
from bench_intake import event_body

DBS = {"without": "fi_bench_plain", "with": "fi_bench_audit"}
MODULES = {
    "without": "finance_integration_core",
    "with": "finance_integration_core,finance_integration_audit",
}
SECRET = "whsec_bench_audit_0123456789abcdef"
SETUP_CODE = f"""
endpoint = env["fi.endpoint"].create({{
    "name": "bench", "state": "active", "webhook_secret": {SECRET!r},
    "flow_ids": [(0, 0, {{"name": "bench", "event_type": "bench.event",
                          "direction": "in", "action": "store"}})]}})
print("BENCH", endpoint.key, endpoint.id)
"""


class Side:
    """One database, its server and its load."""

    def __init__(self, name, work, cluster, signing_key):
        self.name, self.db, self.cluster = name, DBS[name], cluster
        self.conf = _fi.write_config(
            os.path.join(work, f"{name}.conf"),
            cluster.port,
            data_dir=os.path.join(work, f"{name}-data"),
            fi_audit_signing_key=signing_key,
        )
        self.log = os.path.join(work, f"{name}.log")
        self.work = work
        self.server = self.load = None

    def prepare(self):
        _fi.odoo_install(self.conf, self.db, MODULES[self.name], log=self.log)
        out = _fi.odoo_shell(self.conf, self.db, SETUP_CODE, log=self.log)
        line = next(x for x in out.splitlines() if x.startswith("BENCH "))
        _tag, key, endpoint = line.split()
        tag = self.name[0]

        def build(run, n):
            body = event_body(f"evt_{run}_{n:06d}", "bench.event", f"{run}-{n:06d}")
            body = body.encode()
            return _fi.Request(
                f"/fi/webhook/{key}", body, _fi.hmac_headers(body, SECRET)
            )

        def stored(run, _requests):
            return self.cluster.scalar(
                self.db,
                "SELECT count(*) FROM fi_message WHERE endpoint_id = %s "
                "AND direction = 'in' AND idempotency_key LIKE %s",
                (int(endpoint), f"evt\\_{run}\\_%"),
            )

        self.target = _fi.Target(self.name, tag, build, stored)

    def serve(self):
        self.server = _fi.OdooServer(self.conf, self.db, workers=2, log=self.log)
        self.server.start()
        self.load = _fi.Load(self.server, self.cluster, [self.target], work=self.work)

    def run(self, run, level, seconds):
        return self.load.run(self.name, level, run, seconds)

    def stop(self):
        if self.server:
            self.server.stop()
            self.server = None


SEAL_VERIFY = r"""
import json, os, time
cr = env.cr
def backend_cpu():
    # CPU seconds of PostgreSQL (the postmaster, its live backends and the
    # ones it reaped: the verification's second connection ends with it); on
    # a shared machine it moves far less than wall time does
    tick = os.sysconf("SC_CLK_TCK")

    def stat(pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return int(fields[1]), [int(x) for x in fields[11:15]]

    top = stat(POSTMASTER)
    total = sum(top[1]) if top else 0
    for entry in os.listdir("/proc"):
        if entry.isdigit() and entry != str(POSTMASTER):
            found = stat(entry)
            if found and found[0] == POSTMASTER:
                total += found[1][0] + found[1][1]
    return total / tick

company = env.company
cr.execute("SELECT count(*) FROM fi_audit_event WHERE sequence IS NULL")
before = cr.fetchone()[0]
cr.execute('''
INSERT INTO fi_audit_event (company_id, event_date, event_type, user_id,
    integration_user_id, endpoint_id, flow_id, message_id, correlation_id,
    res_model, res_id, summary, facts)
SELECT %s, (now() at time zone 'UTC') + n * interval '1 microsecond',
       'bench.event', 1, 2, 3, 4, n, 'corr-' || n, 'account.move', n,
       'Bench event ' || n,
       '{"amount_minor":' || n || ',"currency":"EUR","payload_sha256":"'
           || md5(n::text) || md5(n::text) || '"}'
  FROM generate_series(1, %s) n''', (company.id, EVENTS))
env.cr.commit()
cr.execute("SELECT count(*) FROM fi_audit_event WHERE sequence IS NULL")
unsealed = cr.fetchone()[0]
cr.execute("SELECT count(*) FROM fi_message")
messages = cr.fetchone()[0]
started = time.perf_counter()
sealed = env["fi.audit.event"]._fi_seal()
seal_s = time.perf_counter() - started
env.cr.commit()
env["fi.audit.checkpoint"]._fi_sign_heads(company)
env.cr.commit()
started, cpu, py_cpu = time.perf_counter(), backend_cpu(), time.process_time()
found = env["fi.audit.verification"]._fi_check_company(company.id)
verify_s = time.perf_counter() - started
verify_cpu_s = backend_cpu() - cpu
verify_py_cpu_s = time.process_time() - py_cpu
started = time.perf_counter()
with open(EXPORT, "wb") as stream:
    env["fi.audit.event"]._fi_export(company, stream=stream)
export_s = time.perf_counter() - started
env.cr.commit()
keys = env["fi.audit.key"]._fi_public_keys()
with open(KEYS, "w") as stream:
    stream.write("\n".join(keys.values()) + "\n")
print("RESULT " + json.dumps({
    "sealed": sealed, "unsealed": unsealed, "messages": messages,
    "seal_s": seal_s, "verify_s": verify_s, "export_s": export_s,
    "verify_cpu_s": verify_cpu_s, "verify_py_cpu_s": verify_py_cpu_s,
    "events_checked": found["events_checked"], "state": found["state"],
    "summary": found["summary"],
}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--level", type=int, default=8, help="concurrent senders")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    _fi.ensure_wrk()
    sys.path.insert(0, _fi.ROOT)
    from finance_integration_audit.lib.signing import generate_private_key

    started = time.time()
    sides = {}
    with _fi.workdir("fi-bench-audit.", keep=args.keep) as work:
        cluster = _fi.Cluster(os.path.join(work, "pg"))
        cluster.start()
        try:
            key = generate_private_key()
            for name in ("without", "with"):
                sides[name] = Side(name, work, cluster, key)
                say(f"installing {MODULES[name]} into {DBS[name]} ...")
                sides[name].prepare()
                sides[name].serve()
            say(
                f"intake: {args.rounds} interleaved rounds of {args.seconds}s "
                f"at {args.level} concurrent senders"
            )
            for name, side in sides.items():  # first requests of a worker
                side.run(f"w{name[0]}", args.level, 3)
            results = {"with": [], "without": []}
            for rnd in range(args.rounds):
                order = ("without", "with") if rnd % 2 == 0 else ("with", "without")
                for name in order:
                    res = sides[name].run(f"r{rnd}{name[0]}", args.level, args.seconds)
                    results[name].append(res)
                    say(
                        f"  round {rnd + 1} {name:>7} audit: {res['eps']:8.1f} "
                        f"events/s p50 {res['p50']:.1f} ms errors {res['errors']} "
                        f"lost {res['lost']}"
                    )
            for side in sides.values():
                side.stop()
            eps = {n: statistics.median(r["eps"] for r in results[n]) for n in results}
            lost = sum(r["lost"] for n in results for r in results[n])
            ratios = [
                (w["eps"] - a["eps"]) / w["eps"] * 100
                for w, a in zip(results["without"], results["with"], strict=True)
                if w["eps"]
            ]
            overhead = statistics.median(ratios) if ratios else 0.0
            say(
                f"intake median: without {eps['without']:.1f} with {eps['with']:.1f} "
                f"events/s: overhead {overhead:.1f}% (median of the paired rounds; "
                f"lost {lost})"
            )

            export = os.path.join(work, "audit-export.jsonl")
            keys = os.path.join(work, "audit-keys.txt")
            say(f"sealing and verifying {args.events} events ...")
            out = _fi.odoo_shell(
                sides["with"].conf,
                DBS["with"],
                f"EVENTS = {args.events}\nEXPORT = {export!r}\nKEYS = {keys!r}\n"
                f"POSTMASTER = {cluster.pid}\n" + SEAL_VERIFY,
                log=sides["with"].log,
            )
            line = next((x for x in out.splitlines() if x.startswith("RESULT ")), None)
            if not line:
                sys.exit(f"seal/verify failed:\n{out[-3000:]}")
            seal = json.loads(line[7:])
            seal_eps = seal["sealed"] / seal["seal_s"]
            say(
                f"  sealed {seal['sealed']} events ({seal['messages']} message rows "
                f"chained among them) in {seal['seal_s']:.1f}s: {seal_eps:.0f} events/s"
            )
            say(
                f"  verified in Odoo: {seal['events_checked']} events in "
                f"{seal['verify_s']:.2f}s ({seal['verify_cpu_s']:.2f}s CPU in "
                f"PostgreSQL building the lines, {seal['verify_py_cpu_s']:.2f}s CPU "
                f"in Odoo hashing them): {seal['state']} ({seal['summary']})"
            )
            t0 = time.perf_counter()
            cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            done = subprocess.run(
                [
                    _fi.PYTHON,
                    "-m",
                    "finance_integration_audit.lib.verify",
                    export,
                    "--public-key",
                    keys,
                ],
                cwd=_fi.ROOT,
                capture_output=True,
                text=True,
            )
            offline_s = time.perf_counter() - t0
            cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            offline_cpu = (cpu1.ru_utime + cpu1.ru_stime) - (
                cpu0.ru_utime + cpu0.ru_stime
            )
            say(
                f"  offline verifier: {done.stdout.strip()} ({offline_s:.2f}s, "
                f"{offline_cpu:.2f}s CPU, "
                f"export written in {seal['export_s']:.1f}s)"
            )
            if done.returncode or seal["state"] != "ok":
                sys.exit(f"the chain did not verify: {done.stderr[-2000:]}")
            scale = 1_000_000 / max(seal["events_checked"], 1)
            say(f"elapsed {time.time() - started:.0f}s")
            print(
                f"bench audit: intake_eps_with={eps['with']:.1f} "
                f"intake_eps_without={eps['without']:.1f} overhead_pct={overhead:.1f} "
                f"seal_eps={seal_eps:.0f} verify_1m_s={seal['verify_s'] * scale:.2f} "
                f"offline_verify_1m_s={offline_s * scale:.2f}"
            )
        finally:
            for side in sides.values():
                side.stop()
            cluster.stop()


if __name__ == "__main__":
    main()
