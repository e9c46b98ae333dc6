#!/usr/bin/env python3
"""setup/bench intake - webhook intake throughput and latency, with a peer and a floor.

One Odoo server (--workers=2, no cron, log level warn) on a throwaway
PostgreSQL cluster, three targets measured in the same run, interleaved:

- ours   POST /fi/webhook/<key>: signature check, message stored durably, 200
- odoo   POST /payment/stripe/webhook: Odoo's own Stripe webhook (the peer),
         payment_intent.succeeded for an existing draft transaction each, which
         it looks up, verifies (Stripe-Signature) and sets to done
- floor  POST /fi/bench/floor (bench-only addon fi_bench_floor): Odoo's HTTP
         stack plus one INSERT and nothing else, the floor of any webhook in Odoo
- enc    ours on an endpoint that encrypts payloads at rest (MultiFernet):
         the cost of encryption, reported as encrypted_pct_of_floor

at 1, 8 and 32 concurrent senders (wrk). Every request is a distinct,
correctly signed event (the same Stripe-shaped, same-size JSON for all three),
so nobody takes a duplicate's cheaper path. After each run the database is
checked: every 200 of ours is a stored message (lost=0), every 200 of Odoo's
is a transaction set to done (the peer really processed its events).

Besides events/s and latency, the CPU the Odoo server and PostgreSQL spend per
event is measured: on a machine shared with other jobs it moves far less than
events/s do.

The server runs with -d and no --db-filter (Odoo's mono-database mode): with a
filter, every request without a session cookie opens a new PostgreSQL
connection to list the databases, the same cost on all three targets
(--db-filter measures that setup).

Usage: setup/bench intake [--seconds S] [--rounds N] [--db-filter] [--fsync] [--keep]
"""

import argparse
import hashlib
import json
import statistics
import sys
import time

import _fi
from _fi import say

DB = "fi_bench_intake"
MODULES = "finance_integration_core,payment_stripe,fi_bench_floor"
SECRET = "whsec_bench_intake_0123456789abcdef"
STRIPE_SECRET = "whsec_stripe_bench_0123456789abcdef"
TARGETS = ("ours", "odoo", "floor", "enc")
LABELS = {
    "ours": "ours (/fi/webhook)",
    "odoo": "Odoo Stripe webhook",
    "floor": "floor (1 INSERT)",
    "enc": "ours, payloads encrypted",
}
LEVELS = (1, 8, 32)
# events written per wrk run (a run must never cycle back to an event already sent)
EVENTS_PER_SECOND_MAX = {"ours": 2500, "odoo": 1000, "floor": 2500, "enc": 2500}

STRIPE_LIKE_EVENT = {
    # the shape and size of a real Stripe payment_intent.succeeded event
    "id": None,
    "object": "event",
    "api_version": "2019-05-16",
    "created": 1767225600,
    "data": {
        "object": {
            "id": None,
            "object": "payment_intent",
            "amount": 4200,
            "amount_capturable": 0,
            "amount_details": {"tip": {}},
            "amount_received": 4200,
            "application": None,
            "application_fee_amount": None,
            "automatic_payment_methods": None,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": "automatic",
            "client_secret": None,
            "confirmation_method": "automatic",
            "created": 1767225590,
            "currency": "eur",
            "customer": "cus_QbEnchCustomer01",
            "description": None,
            "invoice": None,
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": {},
            "next_action": None,
            "on_behalf_of": None,
            "payment_method": "pm_1QbEnchCardVisa0001",
            "payment_method_configuration_details": None,
            "payment_method_options": {
                "card": {
                    "installments": None,
                    "mandate_options": None,
                    "network": None,
                    "request_three_d_secure": "automatic",
                }
            },
            "payment_method_types": ["card"],
            "processing": None,
            "receipt_email": None,
            "review": None,
            "setup_future_usage": None,
            "shipping": None,
            "source": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "status": "succeeded",
            "transfer_data": None,
            "transfer_group": None,
        }
    },
    "livemode": False,
    "pending_webhooks": 1,
    "request": {"id": None, "idempotency_key": None},
    "type": None,
}


def event_body(event_id, event_type, reference):
    event = json.loads(json.dumps(STRIPE_LIKE_EVENT))
    tail = hashlib.sha1(event_id.encode()).hexdigest()[:14]
    event["id"] = event_id
    event["type"] = event_type
    obj = event["data"]["object"]
    obj["id"] = f"pi_{tail}"
    obj["client_secret"] = f"pi_{tail}_secret_{tail[::-1]}"
    obj["description"] = reference
    obj["latest_charge"] = f"ch_{tail}"
    event["request"] = {"id": f"req_{tail}", "idempotency_key": f"idk-{tail}"}
    return json.dumps(event, indent=2)  # Stripe sends pretty-printed JSON


def setup_data(conf, cluster, tx_count):
    out = _fi.odoo_shell(
        conf,
        DB,
        f"""
import json
endpoint = env["fi.endpoint"].create({{
    "name": "bench", "state": "active", "webhook_secret": {SECRET!r},
    "flow_ids": [(0, 0, {{"name": "bench", "event_type": "bench.event",
                          "direction": "in", "action": "store"}})]}})
encrypted = env["fi.endpoint"].create({{
    "name": "bench encrypted", "state": "active", "webhook_secret": {SECRET!r},
    "encrypt_payloads": True,
    "flow_ids": [(0, 0, {{"name": "bench enc", "event_type": "bench.event",
                          "direction": "in", "action": "store"}})]}})
eur = env.ref("base.EUR")
eur.active = True
card = env.ref("payment.payment_method_card")
provider = env.ref("payment.payment_provider_stripe")
provider.write({{"state": "test", "stripe_secret_key": "sk_test_bench",
                 "stripe_publishable_key": "pk_test_bench",
                 "stripe_webhook_secret": {STRIPE_SECRET!r},
                 "payment_method_ids": [(4, card.id)]}})
partner = env["res.partner"].create({{
    "name": "Bench customer", "email": "bench@example.com",
    "country_id": env.ref("base.be").id}})
tx = env["payment.transaction"].create({{
    "provider_id": provider.id, "payment_method_id": card.id,
    "reference": "BENCH-TEMPLATE", "amount": 42.0, "currency_id": eur.id,
    "partner_id": partner.id, "operation": "online_direct"}})
print("BENCH", json.dumps({{"key": endpoint.key, "endpoint": endpoint.id,
                           "enc_key": encrypted.key, "enc_endpoint": encrypted.id,
                           "template": tx.id, "state": tx.state}}))
""",
    )
    line = next((x for x in out.splitlines() if x.startswith("BENCH ")), None)
    if not line:
        sys.exit(f"bench data setup failed:\n{out[-3000:]}")
    info = json.loads(line[6:])
    # distinct draft transactions, cloned from the template with one statement
    cols = [
        r[0]
        for r in cluster.query(
            DB,
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'payment_transaction' "
            "AND column_name NOT IN ('id', 'reference')",
        )
    ]
    collist = ", ".join(cols)
    cluster.execute(
        DB,
        f"INSERT INTO payment_transaction (reference, {collist}) "
        f"SELECT 'BENCH-' || lpad(n::text, 6, '0'), {collist} "
        f"FROM payment_transaction, generate_series(1, {int(tx_count)}) n "
        f"WHERE id = {int(info['template'])}",
    )
    cluster.execute(DB, "ANALYZE")
    return info


def targets(cluster, info, tx_total):
    """The four targets: distinct, correctly signed, same-size events."""
    key, endpoint = info["key"], int(info["endpoint"])
    enc_key, enc_endpoint = info["enc_key"], int(info["enc_endpoint"])
    next_tx = [1]

    def ours(tag, n):
        body = event_body(f"evt_{tag}_{n:06d}", "bench.event", f"OURS-{tag}-{n:06d}")
        body = body.encode()
        return _fi.Request(f"/fi/webhook/{key}", body, _fi.hmac_headers(body, SECRET))

    def ours_stored(tag, _requests):
        return cluster.scalar(
            DB,
            "SELECT count(*) FROM fi_message WHERE endpoint_id = %s "
            "AND direction = 'in' AND idempotency_key LIKE %s",
            (endpoint, f"evt\\_{tag}\\_%"),
        )

    def enc(tag, n):
        body = event_body(f"enc_{tag}_{n:06d}", "bench.event", f"ENC-{tag}-{n:06d}")
        body = body.encode()
        return _fi.Request(
            f"/fi/webhook/{enc_key}", body, _fi.hmac_headers(body, SECRET)
        )

    def enc_stored(tag, _requests):
        return cluster.scalar(
            DB,
            "SELECT count(*) FROM fi_message WHERE endpoint_id = %s "
            "AND direction = 'in' AND idempotency_key LIKE %s "
            "AND payload_encoding = 'fernet'",
            (enc_endpoint, f"enc\\_{tag}\\_%"),
        )

    def odoo(tag, n):
        if next_tx[0] > tx_total:
            sys.exit("bench ran out of prepared Stripe transactions")
        ref = f"BENCH-{next_tx[0]:06d}"
        next_tx[0] += 1
        body = event_body(f"evt_{tag}_{n:06d}", "payment_intent.succeeded", ref)
        body = body.encode()
        headers = _fi.stripe_headers(body, STRIPE_SECRET)
        return _fi.Request("/payment/stripe/webhook", body, headers, ref=ref)

    def odoo_stored(_tag, requests):
        return cluster.scalar(
            DB,
            "SELECT count(*) FROM payment_transaction WHERE state = 'done' "
            "AND reference BETWEEN %s AND %s",
            (requests[0].ref, requests[-1].ref),
        )

    def floor(tag, n):
        body = event_body(f"flr_{tag}_{n:06d}", "bench.event", f"FLOOR-{tag}-{n:06d}")
        headers = {"Content-Type": "application/json"}
        return _fi.Request("/fi/bench/floor", body.encode(), headers)

    def floor_stored(tag, _requests):
        return cluster.scalar(
            DB,
            "SELECT count(*) FROM fi_bench_row WHERE name LIKE %s",
            (f"%flr\\_{tag}\\_%",),
        )

    return [
        _fi.Target(
            "ours", "u", ours, ours_stored, rate_max=EVENTS_PER_SECOND_MAX["ours"]
        ),
        _fi.Target(
            "odoo", "s", odoo, odoo_stored, rate_max=EVENTS_PER_SECOND_MAX["odoo"]
        ),
        _fi.Target(
            "floor", "f", floor, floor_stored, rate_max=EVENTS_PER_SECOND_MAX["floor"]
        ),
        _fi.Target("enc", "e", enc, enc_stored, rate_max=EVENTS_PER_SECOND_MAX["enc"]),
    ]


def main():
    parser = argparse.ArgumentParser(
        prog="setup/bench intake", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--seconds", type=int, default=3, help="length of one measured run (3)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=6,
        help="measured runs per target and concurrency, interleaved (6)",
    )
    parser.add_argument(
        "--fsync",
        action="store_true",
        help="durable PostgreSQL (fsync on); default off on this throwaway cluster",
    )
    parser.add_argument(
        "--db-filter",
        action="store_true",
        help="serve with --db-filter=^DB$ too (adds a new PostgreSQL connection "
        "per webhook to all three targets)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work folder (logs)"
    )
    args = parser.parse_args()
    _fi.ensure_wrk()
    _fi.check_odoo()
    _fi.exit_on_sigterm("bench intake")  # clean up the cluster on `timeout`
    started = time.time()
    with _fi.workdir("fi-bench-intake.", keep=args.keep) as work:
        cluster = _fi.Cluster(f"{work}/pg", durability="full" if args.fsync else "off")
        server = None
        try:
            cluster.start()
            conf = _fi.write_config(f"{work}/odoo.conf", cluster.port, data_dir=work)
            say(f"installing {MODULES.replace(',', ', ')} ...")
            _fi.odoo_install(conf, DB, MODULES)
            # transactions for the peer: every run can use up to its file's worth
            per_run = EVENTS_PER_SECOND_MAX["odoo"] * args.seconds + 200
            warm = EVENTS_PER_SECOND_MAX["odoo"] * 2 + 200
            tx_total = (len(LEVELS) + 1) * warm + len(LEVELS) * args.rounds * per_run
            info = setup_data(conf, cluster, tx_total)
            if info["state"] != "draft":
                sys.exit(
                    f"the template Stripe transaction is {info['state']}, not draft"
                )
            say(
                f"serving Odoo (--workers=2 -d {DB}"
                f"{f' --db-filter=^{DB}$' if args.db_filter else ''}, log level warn); "
                f"{args.rounds} interleaved rounds of {args.seconds}s per target and "
                "concurrency, "
                f"PostgreSQL fsync {'on' if args.fsync else 'off'}"
            )
            # -d alone exposes that one database (Odoo's mono-database mode). With
            # a --db-filter, every request without a session cookie - every webhook
            # - lists the databases on a connection to "postgres", which Odoo never
            # keeps in its pool: one new PostgreSQL connection per request (~5-10 ms
            # here), the same fixed cost on all three targets, hiding their
            # difference. No cron, no queue_job runner: intake alone is measured.
            server = _fi.OdooServer(
                conf,
                DB,
                log=f"{work}/server.log",
                args=[
                    *([f"--db-filter=^{DB}$"] if args.db_filter else []),
                    "--limit-time-real=100000",
                    "--limit-time-cpu=100000",
                    "--limit-request=100000000",
                ],
            ).start()
            load = _fi.Load(server, cluster, targets(cluster, info, tx_total), work)
            results = load.measure(LEVELS, args.rounds, args.seconds)
            for level in LEVELS:
                results["paired", level] = {
                    "ratio": load.paired("ours", "odoo", level),
                    "pct": load.paired("ours", "floor", level, scale=100),
                }
        finally:
            if server:
                server.stop()
            cluster.stop()
    report(results, args, time.time() - started)


def report(results, args, elapsed):
    def get(target, level, key):
        return results[target, level][key]

    say()
    _fi.table({k: v for k, v in results.items() if k[0] in TARGETS}, LABELS)
    say(
        "events/s and p50/p90/p99: median of the rounds; requests, errors: all rounds; "
        "stored: messages stored / transactions set to done / rows inserted by those "
        "runs (may exceed the 200s by the requests in flight when wrk stopped); lost: "
        "200s without that; cpu ms/ev: CPU of the Odoo server and PostgreSQL per event "
        "handled, (pg) the PostgreSQL part - unlike events/s, hardly moved by other "
        "load on the machine"
    )
    say(
        "other processes on this machine kept busy (cores of 2): "
        + ", ".join(
            f"c{c} {statistics.mean(get(t, c, 'other_load') for t in TARGETS):.2f}"
            for c in LEVELS
        )
    )

    ours8, odoo8, floor8, enc8 = (get(t, 8, "eps") for t in TARGETS)
    ratio = ours8 / odoo8 if odoo8 else float("inf")
    pct = 100 * ours8 / floor8 if floor8 else 0.0
    enc_pct = 100 * enc8 / floor8 if floor8 else 0.0
    p99_8 = get("ours", 8, "p99")
    cpu8 = {t: get(t, 8, "cpu_ms") for t in TARGETS}
    cpu_ratio = cpu8["odoo"] / cpu8["ours"]
    cpu_pct = 100 * cpu8["floor"] / cpu8["ours"]
    paired = results["paired", 8]
    lost = sum(get("ours", c, "lost") for c in LEVELS)
    errors = {c: get("ours", c, "errors") for c in LEVELS}
    odoo_ok = sum(get("odoo", c, "ok") for c in LEVELS)
    odoo_done = sum(get("odoo", c, "stored") for c in LEVELS)
    odoo_unprocessed = sum(get("odoo", c, "lost") for c in LEVELS)
    wrapped = sum(results[k]["wrapped"] for k in results if k[0] in TARGETS)
    overflows = {c: sum(get(t, c, "overflows") for t in TARGETS) for c in LEVELS}

    checks = [
        (
            "ours >= 2x Odoo's Stripe webhook at c8",
            ratio >= 2.0,
            f"ratio {ratio:.2f} (paired rounds {paired['ratio']:.2f}, "
            f"per event CPU {cpu_ratio:.2f}x less)",
        ),
        (
            "ours >= 85% of the floor at c8",
            pct >= 85.0,
            f"{pct:.1f}% (paired rounds {paired['pct']:.1f}%, "
            f"per event CPU {cpu_pct:.1f}%)",
        ),
        ("p99 < 100 ms at c8", p99_8 < 100.0, f"{p99_8:.1f} ms"),
        (
            "c32: no request lost or failed",
            errors[32] == 0 and get("ours", 32, "lost") == 0,
            f"errors {errors[32]}, lost {get('ours', 32, 'lost')}",
        ),
    ]
    say()
    for label, ok, value in checks:
        say(f"  [{'met ' if ok else 'MISS'}] {label}: {value}")
    say(
        f"  peer check: Odoo's Stripe webhook answered {odoo_ok} x 200 and set "
        f"{odoo_done} transactions to done ({odoo_unprocessed} answered 200 "
        "without processing)"
    )
    say(
        f"  intake check: {sum(get('ours', c, 'ok') for c in LEVELS)} x 200 from "
        f"ours, {sum(get('ours', c, 'stored') for c in LEVELS)} messages stored by "
        f"those runs, lost {lost}"
    )
    if any(overflows.values()):
        say(
            "  listen backlog overflows (Odoo's prefork server listens with a backlog "
            "of 8 x workers = 16 and closes the connection after each request): "
            + ", ".join(f"c{c} {overflows[c]}" for c in LEVELS)
            + "; a dropped connection attempt is retried by the sender after ~1 s: "
            "the second-long p99 at 32 senders, the same for all three"
        )
    if wrapped:
        say(
            f"  WARNING: {wrapped} wrk threads ran out of distinct events and re-sent "
            "some (duplicates): raise EVENTS_PER_SECOND_MAX"
        )
    say(f"  {elapsed:.0f}s in all")
    met = all(ok for _l, ok, _v in checks)
    fields = [
        f"ours_eps_c8={ours8:.1f}",
        f"odoo_stripe_eps_c8={odoo8:.1f}",
        f"floor_eps_c8={floor8:.1f}",
        f"ratio={ratio:.2f}",
        f"pct_of_floor={pct:.1f}",
        f"encrypted_eps_c8={enc8:.1f}",
        f"encrypted_pct_of_floor={enc_pct:.1f}",
        f"encrypted_lost={sum(get('enc', c, 'lost') for c in LEVELS)}",
        f"p99_ms_c8={p99_8:.1f}",
        f"p50_ms_c8={get('ours', 8, 'p50'):.1f}",
    ]
    for c in (1, 32):
        fields += [
            f"ours_eps_c{c}={get('ours', c, 'eps'):.1f}",
            f"odoo_stripe_eps_c{c}={get('odoo', c, 'eps'):.1f}",
            f"floor_eps_c{c}={get('floor', c, 'eps'):.1f}",
            f"p99_ms_c{c}={get('ours', c, 'p99'):.1f}",
        ]
    fields += [f"errors_c{c}={errors[c]}" for c in LEVELS]
    fields += [
        f"lost={lost}",
        f"odoo_stripe_processed={odoo_done}/{odoo_ok}",
        f"ratio_paired={paired['ratio']:.2f}",
        f"pct_of_floor_paired={paired['pct']:.1f}",
        f"cpu_ms_c8_ours={cpu8['ours']:.2f}",
        f"cpu_ms_c8_odoo_stripe={cpu8['odoo']:.2f}",
        f"cpu_ms_c8_floor={cpu8['floor']:.2f}",
        f"cpu_ratio={cpu_ratio:.2f}",
        f"cpu_pct_of_floor={cpu_pct:.1f}",
        "other_load_c8="
        f"{statistics.mean(get(t, 8, 'other_load') for t in TARGETS):.2f}",
        f"targets_met={'yes' if met else 'no'}",
        f"db_filter={'on' if args.db_filter else 'off'}",
        f"fsync={'on' if args.fsync else 'off'}",
    ]
    say("bench intake: " + " ".join(fields))


if __name__ == "__main__":
    main()
