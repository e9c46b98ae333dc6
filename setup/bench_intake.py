"""setup/bench intake - webhook intake throughput and latency.

Against one Odoo server with --workers=2, at 1, 8 and 32 concurrent senders
(wrk, keep-alive connections), each request a distinct, correctly signed event:

- ours:  POST /fi/webhook/<key>  (signature check, one INSERT of message + key)
- odoo:  POST /payment/stripe/webhook, payment_intent.succeeded for an existing
         draft transaction each (Odoo's own Stripe webhook processing it: peer)
- floor: POST /fi/bench/floor, a bench-only route doing one INSERT (the floor
         of any webhook inside Odoo)

Afterwards the database is checked: every 2xx of ours is a stored message
(lost=0), every 2xx of Odoo's is a transaction set to done.
"""

import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import sys
import time

from _bench_common import WORK, Server, install, shell, sql

DB = "fi_bench_intake"
SECRET = "whsec_bench_0123456789"
STRIPE_SECRET = "whsec_stripe_bench_0123456789"
DURATION = int(os.environ.get("FI_BENCH_SECONDS", "4"))
ROUNDS = 3
TARGETS = ("ours", "odoo", "floor")
LEVELS = (1, 8, 32)
EVENTS_PER_RUN = 12000
STRIPE_TX_PER_RUN = 2500
WARM_EVENTS = 4000

LUA = r"""
local requests, idx = {}, 0
function setup(thread)
  thread:set("file", FILES[NEXT]) ; NEXT = NEXT + 1
end
function init(args)
  for line in io.lines(file) do
    local path, sig_name, sig, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    local headers = {["Content-Type"] = "application/json"}
    if sig_name ~= "" then headers[sig_name] = sig end
    requests[#requests + 1] = wrk.format("POST", path, headers, body)
  end
end
function request()
  idx = idx + 1
  if idx > #requests then idx = 1 end
  return requests[idx]
end
"""


def sign_ours(body):
    return (
        "sha256=" + hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
    )


def sign_stripe(body):
    ts = int(time.time())
    digest = hmac.new(STRIPE_SECRET.encode(), f"{ts}.{body}".encode(), hashlib.sha256)
    return f"t={ts},v1={digest.hexdigest()}"


def setup_data():
    out = shell(
        DB,
        f"""
import json
endpoint = env["fi.endpoint"].create({{
    "name": "bench", "state": "active", "webhook_secret": {SECRET!r},
    "flow_ids": [(0, 0, {{"name": "bench", "event_type": "bench.event",
                          "direction": "in", "action": "store"}})]}})
provider = env.ref("payment.payment_provider_stripe")
card = env.ref("payment.payment_method_card")
provider.write({{"state": "test", "stripe_secret_key": "sk_test_bench",
                 "stripe_publishable_key": "pk_test_bench",
                 "stripe_webhook_secret": {STRIPE_SECRET!r},
                 "payment_method_ids": [(4, card.id)]}})
partner = env["res.partner"].create({{"name": "Bench customer"}})
tx = env["payment.transaction"].create({{
    "provider_id": provider.id, "payment_method_id": card.id,
    "reference": "BENCH-TEMPLATE", "amount": 42.0,
    "currency_id": env.ref("base.EUR").id, "partner_id": partner.id,
    "operation": "online_direct"}})
env.ref("base.EUR").active = True
print("BENCH", json.dumps({{"key": endpoint.key, "template": tx.id}}))
""",
    )
    line = next(x for x in out.splitlines() if x.startswith("BENCH "))
    info = json.loads(line[6:])
    # clone the template transaction with SQL: thousands of distinct draft txs
    total = (STRIPE_TX_PER_RUN * ROUNDS + 800) * len(LEVELS) + 500
    cols = [
        r[0]
        for r in sql(
            DB,
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'payment_transaction' "
            "AND column_name NOT IN ('id', 'reference')",
        )
    ]
    collist = ", ".join(cols)
    sql(
        DB,
        f"INSERT INTO payment_transaction (reference, {collist}) "
        f"SELECT 'BENCH-' || lpad(n::text, 6, '0'), {collist} "
        f"FROM payment_transaction, generate_series(1, %s) n WHERE id = %s",
        (total, info["template"]),
    )
    return info["key"]


def write_run_files(target, level, run, key, stripe_refs):
    """Per-thread request files: path, signature header, value, body per line."""
    threads = 1 if level == 1 else 2
    files = [
        os.path.join(WORK, f"{target}-{level}-{run}-{t}.tsv") for t in range(threads)
    ]
    handles = [open(f, "w") for f in files]
    if run == "warm":
        count = WARM_EVENTS if target != "odoo" else 800
    else:
        count = STRIPE_TX_PER_RUN if target == "odoo" else EVENTS_PER_RUN
    for n in range(count):
        if target == "ours":
            body = json.dumps(
                {
                    "id": f"evt_{level}_{run}_{n}",
                    "type": "bench.event",
                    "data": {"object": {"amount": 1250, "currency": "eur"}},
                }
            )
            line = (f"/fi/webhook/{key}", "X-Signature", sign_ours(body), body)
        elif target == "odoo":
            ref = stripe_refs.pop()
            body = json.dumps(
                {
                    "id": f"evt_{ref}",
                    "type": "payment_intent.succeeded",
                    "data": {
                        "object": {
                            "id": f"pi_{ref}",
                            "object": "payment_intent",
                            "description": ref,
                            "status": "succeeded",
                            "amount": 4200,
                            "currency": "eur",
                            "payment_method": {
                                "id": "pm_1",
                                "type": "card",
                                "card": {"brand": "visa"},
                            },
                        }
                    },
                }
            )
            line = (
                "/payment/stripe/webhook",
                "Stripe-Signature",
                sign_stripe(body),
                body,
            )
        else:
            body = json.dumps({"id": f"floor_{level}_{run}_{n}"})
            line = ("/fi/bench/floor", "", "", body)
        handles[n % threads].write("\t".join(line) + "\n")
    for handle in handles:
        handle.close()
    script = os.path.join(WORK, f"{target}-{level}-{run}.lua")
    with open(script, "w") as lua:
        lua.write(
            "FILES = {" + ", ".join(json.dumps(f) for f in files) + "}\nNEXT = 1\n"
        )
        lua.write(LUA)
    return script, threads


def parse_wrk(output):
    def number(pattern, default=0.0):
        match = re.search(pattern, output)
        return float(match.group(1)) if match else default

    def latency_ms(label):
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    requests_done = int(number(r"(\d+) requests in"))
    non2xx = int(number(r"Non-2xx or 3xx responses: (\d+)"))
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    socket_errors = sum(int(x) for x in socket.groups()) if socket else 0
    return {
        "eps": number(r"Requests/sec:\s+([\d.]+)"),
        "p50": latency_ms("50"),
        "p99": latency_ms("99"),
        "requests": requests_done,
        "errors": non2xx + socket_errors,
        "ok": requests_done - non2xx,
    }


def median_result(runs):
    """The round with the median throughput; errors and requests summed."""
    ordered = sorted(runs, key=lambda r: r["eps"])
    middle = dict(ordered[len(ordered) // 2])
    middle["errors"] = sum(r["errors"] for r in runs)
    middle["ok"] = sum(r["ok"] for r in runs)
    middle["requests"] = sum(r["requests"] for r in runs)
    return middle


def run_wrk(server, target, level, run, key, stripe_refs, seconds):
    script, threads = write_run_files(target, level, run, key, stripe_refs)
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(level),
            "-d",
            f"{seconds}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            script,
            server.url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return parse_wrk(out)


def main():
    if not shutil.which("wrk"):
        sys.exit("bench intake needs wrk (apt-get install wrk)")
    started = time.time()
    print(
        "installing finance_integration_core, payment_stripe and the floor route ...",
        flush=True,
    )
    install(DB, "finance_integration_core,payment_stripe,fi_bench_floor")
    key = setup_data()
    stripe_refs = [
        r[0]
        for r in sql(
            DB,
            "SELECT reference FROM payment_transaction "
            "WHERE reference LIKE 'BENCH-0%%' ORDER BY id DESC",
        )
    ]
    results = {}
    with Server(DB) as server:
        for level in LEVELS:
            for target in TARGETS:
                run_wrk(server, target, level, "warm", key, stripe_refs, 2)
            # targets interleaved over rounds, median per target: a slow moment
            # of the machine does not fall on one target only
            rounds = {target: [] for target in TARGETS}
            for n in range(ROUNDS):
                for target in TARGETS:
                    rounds[target].append(
                        run_wrk(
                            server, target, level, f"r{n}", key, stripe_refs, DURATION
                        )
                    )
            for target in TARGETS:
                results[target, level] = r = median_result(rounds[target])
                each = " ".join(f"{x['eps']:.0f}" for x in rounds[target])
                print(
                    f"  {target:5} c{level:<2} {r['eps']:8.1f} events/s  "
                    f"p50 {r['p50']:6.1f} ms  p99 {r['p99']:7.1f} ms  "
                    f"rounds {each}  errors {r['errors']}",
                    flush=True,
                )
    stored = sql(DB, "SELECT count(*) FROM fi_message")[0][0]
    ours_ok = sum(results["ours", c]["ok"] for c in LEVELS)
    warm_ours = stored - ours_ok  # warm-up runs stored too: counted separately below
    done_tx = sql(DB, "SELECT count(*) FROM payment_transaction WHERE state = 'done'")[
        0
    ][0]
    odoo_ok = sum(results["odoo", c]["ok"] for c in LEVELS)
    dup_keys = sql(DB, "SELECT count(*) FROM fi_message WHERE duplicate_count > 0")[0][
        0
    ]

    print()
    print(f"{'':8}{'events/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for level in LEVELS:
        for target in ("ours", "odoo", "floor"):
            r = results[target, level]
            print(
                f"{target:5}c{level:<2}{r['eps']:10.1f}{r['p50']:9.1f}{r['p99']:9.1f}"
                f"{r['errors']:8}"
            )
    ours8, odoo8, floor8 = (results[t, 8]["eps"] for t in ("ours", "odoo", "floor"))
    ratio = ours8 / odoo8 if odoo8 else float("inf")
    pct = 100 * ours8 / floor8 if floor8 else 0.0
    print()
    print(
        f"stored messages {stored} for {ours_ok} measured 2xx "
        f"(+{warm_ours} from warm-ups); "
        f"duplicates {dup_keys}; Odoo Stripe transactions done {done_tx} "
        f"(measured 2xx {odoo_ok}); {time.time() - started:.0f}s in all"
    )
    lost = max(0, ours_ok - stored)
    print(
        f"bench intake: ours_eps_c8={ours8:.1f} odoo_stripe_eps_c8={odoo8:.1f} "
        f"floor_eps_c8={floor8:.1f} ratio={ratio:.2f} pct_of_floor={pct:.1f} "
        f"p99_ms_c8={results['ours', 8]['p99']:.1f} "
        f"ours_eps_c1={results['ours', 1]['eps']:.1f} "
        f"ours_eps_c32={results['ours', 32]['eps']:.1f} "
        f"p99_ms_c32={results['ours', 32]['p99']:.1f} "
        f"errors_c32={results['ours', 32]['errors']} "
        f"lost={lost}"
    )


if __name__ == "__main__":
    main()
