#!/usr/bin/env python3
"""setup/bench stripe - Stripe payments end to end, against a floor; a 10k payout.

A throwaway PostgreSQL cluster and an Odoo server (--workers=2 and the
queue_job runner, channels root:2,root.fi:2) with finance_integration_stripe;
a local Stripe API (the tests' FakeStripe, on 127.0.0.1, in this process).

- events: signed ``payment_intent.succeeded`` events (Stripe-Signature made
  by the official ``stripe`` SDK) POSTed to /fi/webhook/<key> by --senders
  concurrent senders (Stripe delivers concurrently), processed by the flow's
  jobs in batches of --batch messages (the flow's processing batch size);
  a round's clock stops when every message is done (intake, dispatch, job,
  re-fetch of the PaymentIntent, payment posted, reconciled).
- floor: as many payments created, posted and reconciled with their invoices
  by a plain ORM loop in one process (odoo shell), one commit per payment as
  the pipeline does.
- the two run in --rounds interleaved rounds (events then floor, floor then
  events, ...) on the same machine load; events_per_s and floor_per_s are the
  medians of the rounds, ratio the median of the rounds' ratios.
- payout: a payout of 10,000 balance transactions (pages of 100) settled in one
  entry; seconds, and the Python peak memory of the settlement (tracemalloc)
  for 1,000 and 10,000 lines (the second must not be ~10x the first).

Usage: setup/bench stripe [--events N] [--lines N] [--rounds N] [--batch N]
       [--senders N] [--keep]
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "finance_integration_stripe", "tests"))

import _fi  # noqa: E402 - the cluster and server helpers of setup/
import stripe  # noqa: E402
from stripe_server import FakeStripe  # noqa: E402

WHSEC = "whsec_bench_stripe_0123456789abcdef"
DB = "fi_bench_stripe"


def say(*args):
    print(*args, flush=True)


SETUP = r"""
import json
from odoo import Command
Account = env["account.account"]
def account(code, name, kind, reconcile=False):
    return Account.create({"code": code, "name": name, "account_type": kind,
                           "reconcile": reconcile})
clearing = account("S1001", "Stripe clearing", "asset_current", True)
transit = account("S1002", "Stripe payout transit", "asset_current", True)
fees = account("S6001", "Stripe fees", "expense")
disputes = account("S6002", "Stripe disputes", "expense")
fx = account("S6003", "Stripe FX", "expense")
journal = env["account.journal"].create(
    {"name": "Stripe", "code": "STRP", "type": "bank"})
(journal.inbound_payment_method_line_ids
 | journal.outbound_payment_method_line_ids).payment_account_id = clearing
floor_journal = env["account.journal"].create(
    {"name": "Floor", "code": "FLR", "type": "bank"})
(floor_journal.inbound_payment_method_line_ids).payment_account_id = clearing
misc = env["account.journal"].create(
    {"name": "Stripe settlements", "code": "STSE", "type": "general"})
manager = env.ref("finance_integration_core.group_fi_manager")
second = env["res.users"].create({"name": "Manager B", "login": "bench_manager_b",
    "groups_id": [Command.set([manager.id, env.ref("base.group_user").id])]})
endpoint = env["fi.endpoint"].create({
    "name": "Stripe bench", "provider": "stripe", "state": "active",
    "base_url": BASE_URL, "credential": API_KEY, "webhook_secret": WHSEC,
    "integration_user_id": env.ref("finance_integration_stripe.user_fi_stripe_bot").id,
    "stripe_journal_id": journal.id, "stripe_clearing_account_id": clearing.id,
    "stripe_settlement_journal_id": misc.id, "stripe_fee_account_id": fees.id,
    "stripe_dispute_account_id": disputes.id, "stripe_transit_account_id": transit.id,
    "stripe_fx_account_id": fx.id})
endpoint.action_fi_stripe_install_flows()
# the fake lists every event of the bench from the start (/v1/events), also
# those not delivered yet: the catch-up would feed them before their webhooks
# and rounds would count them done unmeasured
env.ref("finance_integration_stripe.ir_cron_fi_stripe_catch_up").active = False
endpoint.flow_ids.filtered(
    lambda f: f.event_type == "payment_intent.succeeded").process_batch_size = BATCH
version = env["fi.value.map"].search([("endpoint_id", "=", endpoint.id)]).version_ids
version.with_user(second).action_approve()
version.with_user(second).action_activate()
partner = env["res.partner"].create(
    {"name": "Bench customer", "email": "bench@example.com"})
usd = env.ref("base.USD")
ids = []
for n in range(2 * N):
    move = env["account.move"].create({
        "move_type": "out_invoice", "partner_id": partner.id, "currency_id": usd.id,
        "invoice_line_ids": [Command.create({
            "name": "Plan", "quantity": 1, "price_unit": 10 + n % 50, "tax_ids": []})]})
    ids.append(move.id)
env["account.move"].browse(ids).action_post()
print("BENCH", json.dumps({
    "key": endpoint.key, "endpoint": endpoint.id, "invoices": ids,
    "floor_journal": floor_journal.id, "partner": partner.id}))
"""

FLOOR = r"""
import time
ids = INVOICES
journal = env["account.journal"].browse(JOURNAL)
started = time.perf_counter()
for invoice in env["account.move"].browse(ids):
    payment = env["account.payment"].create({
        "payment_type": "inbound", "partner_type": "customer",
        "partner_id": invoice.partner_id.id, "amount": invoice.amount_residual,
        "currency_id": invoice.currency_id.id, "journal_id": journal.id,
        "payment_method_line_id": journal.inbound_payment_method_line_ids[:1].id,
        "memo": invoice.name})
    payment.action_post()
    lines = (payment.move_id.line_ids | invoice.line_ids).filtered(
        lambda l: l.account_id.account_type == "asset_receivable" and not l.reconciled)
    lines.reconcile()
    env.cr.commit()
elapsed = time.perf_counter() - started
paid = env["account.move"].search_count(
    [("id", "in", ids), ("payment_state", "=", "paid")])
print("FLOOR", elapsed, paid)
"""

PAYOUT = r"""
import time, tracemalloc
endpoint = env["fi.endpoint"].browse(ENDPOINT).with_user(
    env.ref("finance_integration_stripe.user_fi_stripe_bot"))
results = {}
for pid, lines, traced in PAYOUTS:
    payout = endpoint._fi_stripe_fetch("payout", pid)
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    move = endpoint._fi_stripe_settle_payout(None, payout)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if traced else 0
    if traced:
        tracemalloc.stop()
    env.cr.commit()
    results[pid] = {"s": elapsed, "peak": peak, "lines": len(move.line_ids),
                    "state": move.state}
print("PAYOUT", json.dumps(results))
"""


def shell(conf, code, **values):
    prefix = "".join(f"{k} = {v!r}\n" for k, v in values.items())
    return _fi.odoo_shell(conf, DB, "import json\n" + prefix + code)


def pick(out, tag):
    line = next((x for x in out.splitlines() if x.startswith(tag + " ")), None)
    if line is None:
        sys.exit(f"bench step {tag} failed:\n{out[-3000:]}")
    return line[len(tag) + 1 :]


def send_events(url, bodies, senders=4):
    errors = []
    chunks = [bodies[i::senders] for i in range(senders)]

    def run(chunk):
        for body in chunk:
            header = stripe.WebhookSignature.generate_signature_header(
                body.decode(), WHSEC, timestamp=int(time.time())
            )
            request = urllib.request.Request(
                url,
                data=body,
                headers={
                    "Content-Type": "application/json",
                    "Stripe-Signature": header,
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=60) as answer:
                    if answer.status != 200:
                        errors.append(answer.status)
            except OSError as err:
                errors.append(str(err))

    threads = [threading.Thread(target=run, args=(c,)) for c in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--events",
        type=int,
        default=1200,
        help="events measured in all, split into the rounds (300 a round: a "
        "round of a few dozen events mostly measures the pipeline's start-up "
        "latency, about 2 s here, not its throughput)",
    )
    parser.add_argument("--lines", type=int, default=10000)
    parser.add_argument(
        "--warmup",
        type=int,
        default=20,
        help="unmeasured events first (they post nothing)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="interleaved rounds of events and floor (the ratio is the median "
        "of the rounds' ratios)",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=40,
        help="processing batch size of the payment_intent.succeeded flow "
        "(1: one message per job)",
    )
    parser.add_argument(
        "--senders",
        type=int,
        default=4,
        help="concurrent deliveries (Stripe delivers concurrently)",
    )
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="fi-bench-stripe.")
    os.chmod(work, 0o755)
    fake = FakeStripe(api_key="sk_test_bench_0123456789").start()
    cluster = _fi.Cluster(os.path.join(work, "pg"))
    server = None
    try:
        cluster.start()
        conf = _fi.write_config(
            os.path.join(work, "odoo.conf"), cluster.port, data_dir=work
        )
        say("installing finance_integration_stripe ...")
        _fi.odoo_install(conf, DB, "finance_integration_stripe")
        n = args.events
        info = json.loads(
            pick(
                shell(
                    conf,
                    SETUP,
                    N=n,
                    BATCH=args.batch,
                    BASE_URL=fake.url,
                    API_KEY=fake.api_key,
                    WHSEC=WHSEC,
                ),
                "BENCH",
            )
        )
        pipeline_invoices, floor_invoices = info["invoices"][:n], info["invoices"][n:]
        # the Stripe side: one PaymentIntent per invoice (amount from Odoo)
        amounts = {
            int(i): int(round(float(a) * 100))
            for i, a in cluster.query(
                DB,
                "SELECT id, amount_total FROM account_move WHERE id IN "
                f"({','.join(map(str, pipeline_invoices))})",
            )
        }
        bodies = []
        for invoice_id in pipeline_invoices:
            intent = fake.add(
                "payment_intent",
                id=f"pi_bench_{invoice_id}",
                amount=amounts[invoice_id],
                amount_received=amounts[invoice_id],
                currency="usd",
                status="succeeded",
                metadata={"odoo_invoice_id": str(invoice_id)},
                application=None,
                transfer_data=None,
            )
            event = fake.event("payment_intent.succeeded", intent)
            bodies.append(json.dumps(event).encode())
        # payouts of 1,000 and 10,000 balance transactions
        payouts = []
        for pid, lines in (
            ("po_bench_1k", 1000),
            (f"po_bench_{args.lines}", args.lines),
        ):
            for index in range(lines):
                fake.add(
                    "balance_transaction",
                    id=f"txn_{pid}_{index}",
                    type="charge",
                    reporting_category="charge",
                    amount=1000,
                    fee=59,
                    net=941,
                    currency="usd",
                    fee_details=[
                        {"amount": 59, "currency": "usd", "type": "stripe_fee"}
                    ],
                    source=f"ch_{pid}_{index}",
                    _payout=pid,
                )
            fake.add(
                "payout",
                id=pid,
                amount=941 * lines,
                currency="usd",
                status="paid",
                automatic=True,
                reconciliation_status="completed",
            )
            payouts.append(pid)

        say("starting Odoo (--workers=2, queue_job runner) ...")
        server = _fi.OdooServer(
            conf,
            DB,
            workers=2,
            cron_threads=1,
            queue_job=True,
            log=os.path.join(work, "server.log"),
            args=("--limit-time-real=100000", "--limit-time-cpu=100000"),
        ).start()
        url = f"{server.url}/fi/webhook/{info['key']}"
        rounds = max(1, args.rounds)
        size = n // rounds
        say(
            f"{rounds} interleaved rounds of {size} payments: signed "
            "payment_intent.succeeded events through the server, and a plain ORM "
            "loop in one process (the floor), the order alternating"
        )
        # warm-up: every worker loads the registry and the routes on events
        # that post nothing (PaymentIntents naming no invoice, canceled)
        warm = []
        for index in range(args.warmup):
            intent = fake.add(
                "payment_intent",
                id=f"pi_bench_warm_{index}",
                amount=100,
                amount_received=0,
                currency="usd",
                status="canceled",
                metadata={},
                application=None,
                transfer_data=None,
            )
            warm.append(
                json.dumps(fake.event("payment_intent.canceled", intent)).encode()
            )
        send_events(url, warm)
        expected = len(warm)
        deadline = time.time() + 300
        while time.time() < deadline and expected > cluster.scalar(
            DB,
            "SELECT count(*) FROM fi_message WHERE state IN "
            "('done', 'failed', 'dead', 'ignored') "
            f"AND endpoint_id = {info['endpoint']}",
        ):
            time.sleep(0.2)
        pipeline_rates, floor_rates, errors = [], [], []
        for index in range(rounds):
            chunk = slice(index * size, (index + 1) * size)

            def pipeline(chunk=chunk):
                nonlocal expected
                expected += size
                started = time.perf_counter()
                errors.extend(send_events(url, bodies[chunk], senders=args.senders))
                deadline = time.time() + 900
                while time.time() < deadline:
                    done = cluster.scalar(
                        DB,
                        "SELECT count(*) FROM fi_message WHERE state IN "
                        "('done', 'failed', 'dead', 'ignored') "
                        f"AND endpoint_id = {info['endpoint']}",
                    )
                    if done >= expected:
                        break
                    time.sleep(0.1)
                return size / (time.perf_counter() - started)

            def floor(chunk=chunk):
                out = pick(
                    shell(
                        conf,
                        FLOOR,
                        INVOICES=floor_invoices[chunk],
                        JOURNAL=info["floor_journal"],
                    ),
                    "FLOOR",
                )
                return size / float(out.split()[0])

            steps = [("events", pipeline), ("floor", floor)]
            if index % 2:
                steps.reverse()
            rates = {name: step() for name, step in steps}
            pipeline_rates.append(rates["events"])
            floor_rates.append(rates["floor"])
            say(
                f"  round {index + 1} ({steps[0][0]} first): "
                f"events {rates['events']:.1f}/s, floor {rates['floor']:.1f}/s, "
                f"ratio {rates['events'] / rates['floor']:.2f}"
            )
        server.stop()
        measured = rounds * size
        paid = cluster.scalar(
            DB,
            "SELECT count(*) FROM account_move WHERE payment_state IN "
            "('paid', 'in_payment') AND id IN "
            f"({','.join(map(str, pipeline_invoices[:measured]))})",
        )
        floor_paid = cluster.scalar(
            DB,
            "SELECT count(*) FROM account_move WHERE payment_state IN "
            "('paid', 'in_payment') AND id IN "
            f"({','.join(map(str, floor_invoices[:measured]))})",
        )
        not_done = cluster.scalar(
            DB,
            "SELECT count(*) FROM fi_message WHERE state NOT IN ('done', 'ignored') "
            f"AND endpoint_id = {info['endpoint']}",
        )
        events_per_s = statistics.median(pipeline_rates)
        floor_per_s = statistics.median(floor_rates)
        ratio = statistics.median(
            e / f for e, f in zip(pipeline_rates, floor_rates, strict=True)
        )
        say(
            f"  medians: events {events_per_s:.1f}/s, floor {floor_per_s:.1f}/s, "
            f"paired ratio {ratio:.2f}; paid={paid}/{measured} "
            f"floor_paid={floor_paid}/{measured} not_done={not_done} "
            f"send_errors={len(errors)}"
        )

        say("payout settlement ...")
        results = json.loads(
            pick(
                shell(
                    conf,
                    PAYOUT,
                    ENDPOINT=info["endpoint"],
                    PAYOUTS=[
                        ("po_bench_1k", 1000, True),
                        (payouts[1], args.lines, False),
                    ],
                ),
                "PAYOUT",
            )
        )
        # peak memory at 10k measured apart: tracemalloc slows the timed run
        big = payouts[1] + "_traced"
        for index in range(args.lines):
            fake.add(
                "balance_transaction",
                **dict(
                    fake.objects[f"txn_{payouts[1]}_{index}"],
                    id=f"txn_{big}_{index}",
                    _payout=big,
                ),
            )
        fake.add(
            "payout",
            id=big,
            amount=941 * args.lines,
            currency="usd",
            status="paid",
            automatic=True,
            reconciliation_status="completed",
        )
        traced = json.loads(
            pick(
                shell(
                    conf,
                    PAYOUT,
                    ENDPOINT=info["endpoint"],
                    PAYOUTS=[(big, args.lines, True)],
                ),
                "PAYOUT",
            )
        )
        small, large = results["po_bench_1k"], results[payouts[1]]
        peak_1k = small["peak"] / 2**20
        peak_mb = traced[big]["peak"] / 2**20
        say(
            f"  1,000 lines: {small['s']:.2f}s, peak {peak_1k:.1f} MB; "
            f"{args.lines:,} lines: {large['s']:.2f}s, peak {peak_mb:.1f} MB, "
            f"entry of {large['lines']} lines {large['state']}"
        )
        print(
            f"bench stripe: events_per_s={events_per_s:.1f} "
            f"floor_per_s={floor_per_s:.1f} ratio={ratio:.2f} "
            f"payout_10k_s={large['s']:.2f} payout_peak_mb={peak_mb:.1f}",
            flush=True,
        )
    finally:
        if server:
            server.stop()
        cluster.stop()
        fake.stop()
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    main()
