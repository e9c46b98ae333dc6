# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""A local Stripe API on 127.0.0.1 for the tests.

It answers the paths the connector uses with Stripe's own example objects
(``shared/data/stripe/fixtures3.json``, overridden per test), in Stripe's list
shape with ``limit`` / ``starting_after`` / ``has_more``, Stripe's error
shape, Bearer authentication, and Stripe's idempotency semantics: the same
key with the same body answers the same; the same key with another body is a
400 ``idempotency_error``.
"""

import copy
import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

FIXTURES = Path(__file__).resolve().parents[2] / "../shared/data/stripe/fixtures3.json"

_FIXTURES_CACHE = {}


def fixture(resource):
    """A fresh copy of Stripe's example object of ``resource``."""
    if not _FIXTURES_CACHE:
        with open(FIXTURES, encoding="utf-8") as handle:
            _FIXTURES_CACHE.update(json.load(handle)["resources"])
    return copy.deepcopy(_FIXTURES_CACHE[resource])


COLLECTIONS = {
    "payment_intents": "payment_intent",
    "charges": "charge",
    "refunds": "refund",
    "payouts": "payout",
    "disputes": "dispute",
    "invoices": "invoice",
    "customers": "customer",
    "balance_transactions": "balance_transaction",
    "events": "event",
    "credit_notes": "credit_note",
    "reviews": "review",
    "early_fraud_warnings": "radar.early_fraud_warning",
}


class FakeStripe:
    def __init__(self, api_key="sk_test_fi_0123456789"):
        self.api_key = api_key
        self.objects = {}  # id -> object
        self.by_payout = {}  # payout id -> ids of its balance transactions
        self.order = []  # ids in creation order (lists: newest first)
        self.idempotency = {}  # key -> (body hash, status, answer)
        self.requests = []  # (method, path, query dict, headers, body)
        self.down = 0  # answer the next N requests with a 503
        self.fail_next = []  # [(status, error dict, headers)]
        self.lock = threading.Lock()
        self.account = fixture("account")
        self.balance = fixture("balance")
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server._handle(self, "GET")

            def do_POST(self):
                server._handle(self, "POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- objects -----------------------------------------------------------
    def add(self, resource, **values):
        """Store Stripe's example ``resource`` overridden by ``values``."""
        obj = fixture(resource)
        obj.update(values)
        with self.lock:
            if obj["id"] not in self.objects:
                self.order.append(obj["id"])
                if obj.get("_payout"):
                    self.by_payout.setdefault(obj["_payout"], []).append(obj["id"])
            self.objects[obj["id"]] = obj
        return obj

    def event(self, event_type, obj, event_id=None, created=None, **extra):
        """A Stripe event about ``obj`` (also listed by /v1/events)."""
        values = {
            "id": event_id
            or f"evt_{hashlib.sha1(repr((event_type, obj['id'], time.monotonic())).encode()).hexdigest()[:20]}",  # noqa: E501
            "type": event_type,
            "created": created or int(time.time()),
            "api_version": "2022-04-12",
            "livemode": False,
            "data": {"object": copy.deepcopy(obj)},
        }
        values.update(extra)
        return self.add("event", **values)

    def count(self, method, path_prefix):
        return sum(
            1
            for m, p, _q, _h, _b in self.requests
            if m == method and p.startswith(path_prefix)
        )

    # -- HTTP --------------------------------------------------------------
    def _send(self, handler, status, document, headers=None):
        body = json.dumps(document).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Request-Id", f"req_{len(self.requests)}")
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    @staticmethod
    def error(kind, message, code=None, param=None):
        error = {"type": kind, "message": message}
        if code:
            error["code"] = code
        if param:
            error["param"] = param
        return {"error": error}

    def _handle(self, handler, method):
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        form = dict(parse_qsl(raw.decode(), keep_blank_values=True))
        with self.lock:
            self.requests.append(
                (method, parts.path, query, dict(handler.headers), raw)
            )
        if handler.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._send(
                handler,
                401,
                self.error("invalid_request_error", "Invalid API Key provided"),
            )
        if self.down > 0:
            self.down -= 1
            return self._send(
                handler,
                503,
                self.error("api_error", "Stripe is down"),
                {"Retry-After": "1"},
            )
        if self.fail_next:
            status, document, headers = self.fail_next.pop(0)
            return self._send(handler, status, document, headers)
        if method == "POST":
            return self._post(handler, parts.path, form, raw)
        return self._get(handler, parts.path, query)

    def _get(self, handler, path, query):
        segments = path.strip("/").split("/")
        if segments[1:2] == ["radar"]:
            segments = segments[:1] + segments[2:]
        if segments == ["v1", "account"]:
            return self._send(handler, 200, self.account)
        if segments == ["v1", "balance"]:
            return self._send(handler, 200, self.balance)
        if len(segments) == 3 and segments[1] in COLLECTIONS:
            obj = self.objects.get(segments[2])
            if obj is None or obj.get("object") != COLLECTIONS[segments[1]]:
                return self._missing(handler, COLLECTIONS[segments[1]], segments[2])
            return self._send(handler, 200, obj)
        if len(segments) == 2 and segments[1] in COLLECTIONS:
            return self._list(handler, path, COLLECTIONS[segments[1]], query)
        if len(segments) == 4 and segments[1] in COLLECTIONS and segments[3] == "lines":
            # the line items of an invoice or credit note: every one of them
            # (``_lines``, when the object embeds only its first page)
            obj = self.objects.get(segments[2])
            if obj is None or obj.get("object") != COLLECTIONS[segments[1]]:
                return self._missing(handler, COLLECTIONS[segments[1]], segments[2])
            items = obj.get("_lines") or (obj.get("lines") or {}).get("data") or []
            return self._page(handler, path, list(items), query)
        return self._send(
            handler, 404, self.error("invalid_request_error", f"Unrecognized {path}")
        )

    def _missing(self, handler, resource, object_id):
        return self._send(
            handler,
            404,
            self.error(
                "invalid_request_error",
                f"No such {resource}: '{object_id}'",
                "resource_missing",
                "id",
            ),
        )

    def _list(self, handler, path, resource, query):
        limit = max(1, min(int(query.pop("limit", 10)), 100))
        after = query.pop("starting_after", None)
        filters = {k: v for k, v in query.items() if not k.startswith("expand")}
        gte = filters.pop("created[gte]", None)
        lt = filters.pop("created[lt]", None)
        with self.lock:
            if "payout" in filters:
                # the balance transactions of a payout, in their payout order
                ids = list(self.by_payout.get(filters["payout"], ()))
            else:
                ids = list(reversed(self.order))  # newest first, as Stripe lists
            objects = [self.objects[i] for i in ids]
        selected = [
            obj
            for obj in objects
            if obj.get("object") == resource
            and all(
                str(obj.get(k, "")) == v for k, v in filters.items() if k != "payout"
            )
            and ("payout" not in filters or obj.get("_payout") == filters["payout"])
            and (gte is None or obj.get("created", 0) >= int(gte))
            and (lt is None or obj.get("created", 0) < int(lt))
        ]
        return self._page(handler, path, selected, {"limit": limit, "after": after})

    def _page(self, handler, path, selected, query):
        """One page of ``selected`` (``limit``, ``starting_after``), as Stripe
        answers a list."""
        limit = max(1, min(int(query.get("limit", 10)), 100))
        after = query.get("after", query.get("starting_after"))
        start = 0
        if after:
            positions = [i for i, obj in enumerate(selected) if obj["id"] == after]
            if not positions:
                return self._send(
                    handler,
                    400,
                    self.error(
                        "invalid_request_error",
                        f"starting_after {after} is not in this list",
                        param="starting_after",
                    ),
                )
            start = positions[0] + 1
        page = selected[start : start + limit]
        data = [
            {k: v for k, v in obj.items() if k not in ("_payout", "_lines")}
            for obj in page
        ]
        return self._send(
            handler,
            200,
            {
                "object": "list",
                "url": path,
                "has_more": start + limit < len(selected),
                "data": data,
            },
        )

    def _post(self, handler, path, form, raw):
        key = handler.headers.get("Idempotency-Key")
        digest = hashlib.sha256(path.encode() + b"?" + raw).hexdigest()
        if key:
            with self.lock:
                known = self.idempotency.get(key)
            if known:
                if known[0] != digest:
                    return self._send(
                        handler,
                        400,
                        self.error(
                            "idempotency_error",
                            "Keys for idempotent requests can only be used with the "
                            "same parameters they were first used with.",
                        ),
                    )
                return self._send(
                    handler, known[1], known[2], {"Idempotent-Replayed": "true"}
                )
        if path == "/v1/refunds":
            status, answer = self._create_refund(form)
        else:
            status, answer = 404, self.error("invalid_request_error", f"No {path}")
        if key:
            with self.lock:
                self.idempotency[key] = (digest, status, answer)
        return self._send(handler, status, answer)

    def _create_refund(self, form):
        intent = self.objects.get(form.get("payment_intent", ""))
        if intent is None:
            return 400, self.error(
                "invalid_request_error", "No such payment_intent", "resource_missing"
            )
        refund_id = (
            f"re_{hashlib.sha1(repr(form).encode()).hexdigest()[:14]}{len(self.order)}"  # noqa: E501
        )
        metadata = {
            k[len("metadata[") : -1]: v
            for k, v in form.items()
            if k.startswith("metadata[")
        }
        refund = self.add(
            "refund",
            id=refund_id,
            amount=int(form.get("amount") or intent["amount_received"]),
            currency=intent["currency"],
            charge=intent.get("latest_charge"),
            payment_intent=intent["id"],
            status="succeeded",
            metadata=metadata,
            created=int(time.time()),
        )
        return 200, refund
