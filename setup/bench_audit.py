#!/usr/bin/env python3
"""setup/bench audit - what the audit chain costs the webhook intake, how fast
it seals, how fast a million events verify.

One throwaway PostgreSQL cluster, two databases from the same server build:
``plain`` (finance_integration_core) and ``audit`` (core plus
finance_integration_audit), each served by its own Odoo (--workers=2, no
cron). Intake is measured as in setup/bench intake (wrk, every request a
distinct, correctly signed event) on both, in interleaved rounds (A B B A ...),
so machine noise falls on both alike; every 200 is checked to be a stored
message.

Then, in the audit database: one million unsealed events are inserted (plus
the messages of the intake rounds, chained from their rows), sealed by the
sealer (seal_eps), verified by the in-Odoo verification (verify_1m_s),
exported and verified by the offline verifier (offline_verify_1m_s).

Usage: setup/bench audit [--seconds S] [--rounds N] [--level C] [--events N] [--keep]
"""

import argparse
import hashlib
import hmac
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_intake as bi  # noqa: E402 - the intake bench's cluster, server, wrk script

ROOT = bi.ROOT
DBS = {"without": "fi_bench_plain", "with": "fi_bench_audit"}
MODULES = {
    "without": "finance_integration_core",
    "with": "finance_integration_core,finance_integration_audit",
}


def say(*args):
    print(*args, flush=True)


def on_db(name):
    """bench_intake's Odoo class reads its database name from the module."""
    bi.DB = DBS[name]


class Side:
    """One database and its server."""

    def __init__(self, name, work, cluster, signing_key):
        self.name = name
        self.work = os.path.join(work, name)
        os.makedirs(self.work)
        self.cluster = cluster
        self.odoo = bi.Odoo(self.work, cluster)
        with open(self.odoo.conf, "a") as f:
            f.write(f"fi_audit_signing_key = {signing_key}\n")
        self.key = None
        self.endpoint = None

    def prepare(self):
        on_db(self.name)
        self.odoo.install(MODULES[self.name])
        out = self.odoo.shell(
            f"""
endpoint = env["fi.endpoint"].create({{
    "name": "bench", "state": "active", "webhook_secret": {bi.SECRET!r},
    "flow_ids": [(0, 0, {{"name": "bench", "event_type": "bench.event",
                          "direction": "in", "action": "store"}})]}})
print("BENCH", endpoint.key, endpoint.id)
"""
        )
        line = next(x for x in out.splitlines() if x.startswith("BENCH "))
        _tag, self.key, endpoint = line.split()
        self.endpoint = int(endpoint)

    def serve(self):
        on_db(self.name)
        self.odoo.serve()

    def run(self, tag, level, seconds):
        threads = 1 if level == 1 else 2
        count = 2500 * seconds + 200
        files = [os.path.join(self.work, f"{tag}-{t}.tsv") for t in range(threads)]
        handles = [open(f, "w") for f in files]
        for n in range(count):
            body = bi.event_body(f"evt_{tag}_{n:06d}", "bench.event", f"{tag}-{n:06d}")
            sig = (
                "sha256="
                + hmac.new(
                    bi.SECRET.encode(), body.encode(), hashlib.sha256
                ).hexdigest()
            )
            handles[n % threads].write(
                f"/fi/webhook/{self.key}\tX-Signature\t{sig}\t{body.encode().hex()}\n"
            )
        for h in handles:
            h.close()
        script = os.path.join(self.work, f"{tag}.lua")
        with open(script, "w") as f:
            f.write("FILES = {" + ", ".join(f'"{x}"' for x in files) + "}\nNEXT = 1\n")
            f.write(bi.LUA)
        done = subprocess.run(
            [
                "wrk",
                "-t",
                str(threads),
                "-c",
                str(level),
                "-d",
                f"{seconds}s",
                "--timeout",
                "10s",
                "-s",
                script,
                self.odoo.url,
            ],
            capture_output=True,
            text=True,
        )
        for f in [*files, script]:
            os.unlink(f)
        match = re.search(r"^RESULT (.*)$", done.stdout, re.M)
        if done.returncode or not match:
            sys.exit(f"wrk failed:\n{done.stdout}\n{done.stderr}")
        r = {k: int(v) for k, v in (kv.split("=") for kv in match.group(1).split())}
        stored = self.cluster.scalar(
            DBS[self.name],
            "SELECT count(*) FROM fi_message WHERE direction = 'in' "
            f"AND idempotency_key LIKE 'evt\\_{tag}\\_%'",
        )
        ok = r["requests"] - r["bad"]
        return {
            "eps": r["requests"] / (r["duration_us"] / 1e6),
            "ok": ok,
            "errors": r["bad"] + r["connect"] + r["read"] + r["write"] + r["timeout"],
            "lost": max(0, ok - stored),
            "p50": r["p50_us"] / 1000,
        }


SEAL_VERIFY = r"""
import json, os, time
cr = env.cr
cr.execute("SELECT pg_backend_pid()")
backend = cr.fetchone()[0]

def backend_cpu():
    # CPU seconds of this session's PostgreSQL backend (the verification runs
    # there): on a shared machine it moves far less than wall time does
    with open(f"/proc/{backend}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

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
    if not shutil.which("wrk"):
        sys.exit("wrk not found (apt-get install wrk)")
    sys.path.insert(0, ROOT)
    from finance_integration_audit.lib.signing import generate_private_key

    work = tempfile.mkdtemp(prefix="fi-bench-audit.")
    os.chmod(work, 0o755)  # PostgreSQL runs as another user
    cluster = bi.Cluster(work, fsync=False)
    sides = {}
    started = time.time()
    try:
        cluster.start()
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
        for name, side in sides.items():  # first requests of a worker: discarded
            side.run(f"w{name[0]}", args.level, 3)
        results = {"with": [], "without": []}
        for rnd in range(args.rounds):
            order = ("without", "with") if rnd % 2 == 0 else ("with", "without")
            for name in order:
                res = sides[name].run(f"r{rnd}{name[0]}", args.level, args.seconds)
                results[name].append(res)
                say(
                    f"  round {rnd + 1} {name:>7} audit: {res['eps']:8.1f} events/s "
                    f"p50 {res['p50']:.1f} ms errors {res['errors']} lost {res['lost']}"
                )
        for side in sides.values():
            side.odoo.stop()
        eps = {n: statistics.median(r["eps"] for r in results[n]) for n in results}
        lost = sum(r["lost"] for n in results for r in results[n])
        overhead = (eps["without"] - eps["with"]) / eps["without"] * 100
        say(
            f"intake median: without {eps['without']:.1f} with {eps['with']:.1f} "
            f"events/s: overhead {overhead:.1f}% (lost {lost})"
        )

        export = os.path.join(work, "audit-export.jsonl")
        keys = os.path.join(work, "audit-keys.txt")
        say(f"sealing and verifying {args.events} events ...")
        on_db("with")
        out = sides["with"].odoo.shell(
            f"EVENTS = {args.events}\nEXPORT = {export!r}\nKEYS = {keys!r}\n"
            + SEAL_VERIFY
        )
        line = next((x for x in out.splitlines() if x.startswith("RESULT ")), None)
        if not line:
            sys.exit(f"seal/verify failed:\n{out[-3000:]}")
        import json

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
                bi.PYTHON,
                "-m",
                "finance_integration_audit.lib.verify",
                export,
                "--public-key",
                keys,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        offline_s = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        offline_cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
        say(
            f"  offline verifier: {done.stdout.strip()} ({offline_s:.2f}s, "
            f"{offline_cpu:.2f}s CPU, "
            f"export written in {seal['export_s']:.1f}s)"
        )
        if done.returncode or seal["state"] != "ok":
            sys.exit("the chain did not verify")
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
            side.odoo.stop()
        cluster.stop()
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
