"""Live checks against a real multi-worker Odoo server (run by setup/test).

The Odoo test runner serialises HTTP requests on one test cursor, so what needs
real concurrency and real crashes is checked here, on the freshly installed
test database, with `--workers=2` and the queue_job runner:

- 20 simultaneous deliveries of one event -> one message, one processing job;
- a forged delivery -> 401 and nothing stored;
- the whole server killed (SIGKILL) while events arrive -> after a restart every
  acknowledged event is processed exactly once, and redelivering the events that
  got no answer creates no duplicate.

Nothing here races a timer against the work: the kill follows a number of
acknowledged deliveries, waits poll for evidence and give up only when the
work stops moving, so the checks hold on a fast machine and on a slow one.

The sender signs with its own HMAC code, independent from the suite's.
Prints one line per check and ends with `live: N passed, N failed`.
"""

import json
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import _fi
import requests

CONF = os.environ["FI_TEST_CONF"]
DB = os.environ["FI_TEST_DB"]
SECRET = "whsec_live_checks_0123456789"
RESULTS = []
query = _fi.DbConf(CONF, DB).query


def check(name, ok, detail=""):
    RESULTS.append(bool(ok))
    print(
        f"live: {'PASS' if ok else 'FAIL'} {name}{' - ' + detail if detail else ''}",
        flush=True,
    )


def signed(event_id, event_type="live.event", secret=SECRET):
    body = json.dumps(
        {"id": event_id, "type": event_type, "data": {"n": event_id}}
    ).encode()
    return body, _fi.hmac_headers(body, secret)


def post(server, key, body, headers, timeout=60):
    return requests.post(
        f"{server.url}/fi/webhook/{key}", data=body, headers=headers, timeout=timeout
    )


def main():
    # the test config, with limits for a live server; queue_job server-wide
    conf = _fi.derive_config(CONF, f"{CONF}.live", limit_time_real=300)
    server = _fi.OdooServer(conf, DB, workers=2, cron_threads=1, queue_job=True)
    rpc = _fi.Rpc(server.url, DB).call
    server.start()
    try:
        endpoint_id = rpc(
            "fi.endpoint",
            "create",
            {
                "name": "Live checks",
                "state": "active",
                "webhook_secret": SECRET,
                "flow_ids": [
                    (
                        0,
                        0,
                        {
                            "name": "live.event",
                            "event_type": "live.event",
                            "direction": "in",
                            "action": "store",
                        },
                    )
                ],
            },
        )
        key = rpc("fi.endpoint", "read", [endpoint_id], ["key"])[0]["key"]

        # 1. twenty simultaneous deliveries of one event
        body, headers = signed("evt_live_concurrent")
        barrier = threading.Barrier(20)

        def deliver(_n):
            barrier.wait()
            return post(server, key, body, headers)

        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(deliver, range(20)))
        statuses = [a.status_code for a in answers]
        kinds = sorted(a.json()["status"] for a in answers if a.status_code == 200)
        check(
            "20 concurrent deliveries all answered 200",
            statuses == [200] * 20,
            str(statuses),
        )
        check(
            "exactly one delivery stored, 19 seen as duplicates",
            kinds.count("received") == 1 and kinds.count("duplicate") == 19,
            str(kinds),
        )
        rows = query(
            "SELECT id FROM fi_message WHERE endpoint_id = %s AND idempotency_key = %s",
            (endpoint_id, "evt_live_concurrent"),
        )
        check("one message row for the event", len(rows) == 1, f"{len(rows)} rows")
        message_id = rows[0][0] if rows else 0
        done = _fi.wait_for(
            lambda: query("SELECT state FROM fi_message WHERE id = %s", (message_id,)),
            lambda states: states == [("done",)],
        )
        check("the message is processed by the job runner", done)
        jobs = query(
            "SELECT count(*) FROM queue_job WHERE identity_key LIKE %s",
            (f"fi.message:{message_id}:%",),
        )[0][0]
        check("one processing job for the event", jobs == 1, f"{jobs} jobs")
        duplicates = query(
            "SELECT duplicate_count FROM fi_idempotency_key WHERE message_id = %s",
            (message_id,),
        )
        check(
            "19 duplicates counted on the idempotency key",
            duplicates == [(19,)],
            str(duplicates),
        )

        # 2. a forged delivery
        body, headers = signed("evt_live_forged", secret="wrong-secret")
        answer = post(server, key, body, headers)
        stored = query(
            "SELECT count(*) FROM fi_message WHERE idempotency_key = 'evt_live_forged'"
        )[0][0]
        check(
            "forged delivery refused with 401, nothing stored",
            answer.status_code == 401 and stored == 0,
            f"{answer.status_code}, {stored} stored",
        )

        # 3. kill -9 of every Odoo process while events arrive. The kill is
        # triggered by evidence, not by a timer: once KILL_AFTER deliveries are
        # acknowledged; the senders keep sending distinct events until each of
        # them sees a delivery go unanswered after the kill, so the crash always
        # falls among arriving events, whatever the machine's speed. The count
        # and the time are bounded (MAX_EVENTS, KILL_WAIT) for a server that
        # never acknowledges.
        KILL_AFTER, MAX_EVENTS, KILL_WAIT = 40, 5000, 300
        acknowledged, unanswered = [], []
        lock = threading.Lock()
        enough, killed = threading.Event(), threading.Event()
        numbers = iter(range(MAX_EVENTS))

        def send(event_id):
            body, headers = signed(event_id)
            try:
                answer = post(server, key, body, headers, timeout=60)
                ok = answer.status_code == 200
            except requests.RequestException:
                ok = False
            with lock:
                (acknowledged if ok else unanswered).append(event_id)
                if len(acknowledged) >= KILL_AFTER:
                    enough.set()
            return ok

        def sender():
            while True:
                with lock:
                    number = next(numbers, None)
                if number is None:
                    return
                ok = send(f"evt_live_crash_{number:04d}")
                if not ok and killed.is_set():
                    return  # this sender has seen the crash

        def killer():
            enough.wait(KILL_WAIT)
            server.kill()
            killed.set()

        kill_thread = threading.Thread(target=killer)
        kill_thread.start()
        with ThreadPoolExecutor(4) as pool:
            for future in [pool.submit(sender) for _n in range(4)]:
                future.result()
        kill_thread.join()
        events = acknowledged + unanswered
        check(
            "the crash hit while events were arriving",
            len(acknowledged) >= KILL_AFTER and bool(unanswered),
            f"{len(acknowledged)} answered, {len(unanswered)} unanswered at the kill",
        )
        server.start()
        for event_id in list(unanswered):  # the sender retries what got no answer
            send(event_id)

        def crash_states():
            return query(
                "SELECT count(*), count(*) FILTER (WHERE state = 'done') "
                "FROM fi_message WHERE endpoint_id = %s "
                "AND idempotency_key LIKE 'evt_live_crash_%%'",
                (endpoint_id,),
            )[0]

        finished = _fi.wait_for(crash_states, lambda c: c == (len(events), len(events)))
        rows = query(
            "SELECT idempotency_key, state, "
            "count(*) OVER (PARTITION BY idempotency_key) "
            "FROM fi_message WHERE endpoint_id = %s AND idempotency_key LIKE "
            "'evt_live_crash_%%'",
            (endpoint_id,),
        )
        states = {}
        for _key, state, _count in rows:
            states[state] = states.get(state, 0) + 1
        check(
            "after kill -9 and restart every event is processed", finished, str(states)
        )
        check(
            "no event stored twice across the crash",
            all(count == 1 for _key, _state, count in rows)
            and len(rows) == len(events),
            f"{len(rows)} rows for {len(events)} events",
        )
    finally:
        server.stop()
    passed = sum(RESULTS)
    print(f"live: {passed} passed, {len(RESULTS) - passed} failed", flush=True)
    return 0 if passed == len(RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main())
