# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Local HTTP servers on 127.0.0.1 speaking AvaTax REST v2 (the shapes of
shared/data/avatax/openapi.yaml) and the clearance contract of this addon."""

import base64
import json
import socket
import threading
import time
from decimal import ROUND_HALF_UP, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit


def _num(value):
    return float(value)  # JSON numbers on the wire, as the real service sends


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that gave up (timeout) or a connection cut on purpose


class _Server:
    """A local server that can go down (connections refused, the open ones
    cut), come back on the same port, and hang (no answer: timeouts)."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        self.connections = set()
        self.hang = False
        self.released = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # answer in one segment, as a real server does: no Nagle /
            # delayed-ACK stall added to every call
            disable_nagle_algorithm = True

            def setup(self):
                super().setup()
                with server.lock:
                    server.connections.add(self.connection)

            def finish(self):
                with server.lock:
                    server.connections.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with server.lock:
                    server.requests.append(
                        {
                            "method": self.command,
                            "path": self.path,
                            "headers": dict(self.headers),
                            "body": body,
                        }
                    )
                if server.hang:
                    # no answer until released: the client's read timeout
                    server.released.wait()
                    self.close_connection = True
                    return
                status, answer = server.answer(
                    self.command, self.path, dict(self.headers), body
                )
                if server.latency:
                    time.sleep(server.latency)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _handle

            def log_message(self, *args):
                pass

        self.handler = Handler
        self.latency = 0
        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.running = False

    def start(self):
        self.released.clear()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.running = True
        return self

    def stop(self):
        if not self.running:
            return
        self.running = False
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            connections = list(self.connections)
        for connection in connections:  # keep-alive connections too
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def go_down(self):
        """Nothing listens any more: every call is refused."""
        self.stop()

    def come_back(self):
        """Listening again, on the same port."""
        if not self.running:
            self.server = _QuietServer(("127.0.0.1", self.port), self.handler)
            self.start()
        self.hang = False
        self.released.set()

    def start_hanging(self):
        """Every call from now on gets no answer (until come_back)."""
        self.released.clear()
        self.hang = True

    def calls(self, fragment):
        return [r for r in self.requests if fragment in r["path"]]


class FakeAvaTax(_Server):
    """AvaTax: tax = amount x rate per line, transactions kept by code."""

    def __init__(self, account_id="1100", license_key="lk_test"):
        super().__init__()
        token = base64.b64encode(f"{account_id}:{license_key}".encode()).decode()
        self.auth = f"Basic {token}"
        self.rate = Decimal("0.10")
        self.down = False
        self.locked = set()
        self.transactions = {}
        self.answer_currency = None  # answer in another currency than asked

    def error(self, status, code, message):
        return status, {
            "error": {
                "code": code,
                "message": message,
                "target": "Unknown",
                "details": [
                    {
                        "code": code,
                        "message": message,
                        "description": message,
                        "severity": "Error",
                    }
                ],
            }
        }

    def compute(self, model, status="Saved"):
        """Tax per line, rounded half-up to the cent: ``amount x rate``, or for
        a tax-included line the tax backed out of the amount (the line's
        taxable amount is then the amount less its tax). Amounts are in the
        transaction's currency (currencyCode), as AvaTax answers them."""
        lines, total_tax, total = [], Decimal(0), Decimal(0)
        cent = Decimal("0.01")
        for index, line in enumerate(model["lines"], 1):
            amount = Decimal(str(line["amount"]))
            if line.get("taxIncluded"):
                taxable = (amount / (1 + self.rate)).quantize(cent, ROUND_HALF_UP)
                tax = amount - taxable
            else:
                taxable = amount
                tax = (amount * self.rate).quantize(cent, ROUND_HALF_UP)
            total_tax += tax
            total += taxable
            lines.append(
                {
                    "id": index,
                    "lineNumber": line.get("number"),
                    "lineAmount": _num(taxable),
                    "quantity": line.get("quantity"),
                    "tax": _num(tax),
                    "taxableAmount": _num(taxable),
                    "taxIncluded": bool(line.get("taxIncluded")),
                    "taxCode": line.get("taxCode", "P0000000"),
                    "itemCode": line.get("itemCode"),
                    "details": [
                        {
                            "taxName": "ST TAX",
                            "taxType": "Sales",
                            "jurisCode": "CA",
                            "rate": _num(self.rate),
                            "tax": _num(tax),
                            "taxableAmount": _num(taxable),
                        }
                    ]
                    if tax
                    else [],
                }
            )
        answer = {
            "id": len(self.transactions) + 1,
            "code": model["code"],
            "companyId": 1,
            "date": model["date"],
            "status": status,
            "type": model["type"],
            "customerCode": model["customerCode"],
            "currencyCode": self.answer_currency or model.get("currencyCode"),
            "totalAmount": _num(total),
            "totalTax": _num(total_tax),
            "locked": model["code"] in self.locked,
            "lines": lines,
            "exemptNo": model.get("exemptionNo"),
        }
        for key in (
            "exchangeRate",
            "exchangeRateEffectiveDate",
            "exchangeRateCurrencyCode",
        ):
            if key in model:
                answer[key] = model[key]
        return answer

    def answer(self, method, path, headers, body):
        if self.down:
            return self.error(503, "ServiceUnavailable", "maintenance")
        if headers.get("Authorization") != self.auth:
            return self.error(401, "AuthenticationException", "bad credentials")
        url = urlsplit(path)
        parts = [ava_unescape(unquote(p)) for p in url.path.split("/")]
        doc = json.loads(body) if body else {}
        if url.path == "/api/v2/utilities/ping":
            return 200, {
                "version": "24.8.0",
                "authenticated": True,
                "authenticationType": "AccountIdLicenseKey",
                "authenticatedAccountId": 1100,
            }
        if url.path == "/api/v2/transactions/create":
            old = self.transactions.get(doc["code"])
            if old and old["status"] == "Committed":
                return self.error(
                    400, "TransactionAlreadyExists", f"{doc['code']} already exists"
                )
            self.transactions[doc["code"]] = self.compute(doc)
            return 200, self.transactions[doc["code"]]
        if url.path == "/api/v2/transactions/createoradjust":
            model = doc["createTransactionModel"]
            if model["code"] in self.locked:
                return self.error(
                    400, "CannotModifyLockedTransaction", "reported on a filing"
                )
            self.transactions[model["code"]] = self.compute(
                model, "Committed" if model.get("commit") else "Saved"
            )
            return 200, self.transactions[model["code"]]
        if url.path == "/api/v2/addresses/resolve":
            return 200, {
                "address": doc,
                "validatedAddresses": [
                    {
                        "addressType": "StreetOrResidentialAddress",
                        "line1": doc.get("line1", "").upper(),
                        "city": doc.get("city", "").upper(),
                        "region": doc.get("region"),
                        "country": doc.get("country"),
                        "postalCode": (doc.get("postalCode") or "") + "-1234",
                    }
                ],
                "messages": [],
            }
        if len(parts) >= 6 and parts[3] == "companies" and parts[5] == "transactions":
            if len(parts) == 6 and method == "GET":
                values = list(self.transactions.values())
                return 200, {"@recordsetCount": len(values), "value": values}
            code, action = parts[6], parts[7] if len(parts) > 7 else ""
            tx = self.transactions.get(code)
            if not tx:
                return self.error(404, "EntityNotFoundError", f"{code} not found")
            if action == "commit":
                tx["status"] = "Committed"
            elif action == "void":
                if code in self.locked:
                    return self.error(400, "CannotModifyLockedTransaction", "locked")
                tx["status"] = "Cancelled"
            return 200, tx
        return self.error(404, "NotFound", path)


class FakeClearance(_Server):
    """The clearance contract: POST /documents, GET /documents/{id}, /health."""

    def __init__(self):
        super().__init__()
        self.down = False
        self.documents = {}
        self.by_key = {}
        self.precondition = None

    def answer(self, method, path, headers, body):
        if self.down:
            return 503, {"error": {"code": "unavailable", "message": "maintenance"}}
        url = urlsplit(path)
        if url.path == "/health":
            return 200, {"status": "ok"}
        if url.path == "/documents" and method == "POST":
            if self.precondition:
                return 422, {
                    "error": {
                        "code": "missing_field",
                        "message": self.precondition,
                        "field": "buyer_endpoint",
                    }
                }
            key = headers.get("Idempotency-Key")
            if key in self.by_key:
                return 200, self.documents[self.by_key[key]]
            doc = json.loads(body)
            doc_id = f"doc-{len(self.documents) + 1}"
            self.documents[doc_id] = {
                "id": doc_id,
                "status": "submitted",
                "number": doc["number"],
                "sha256": doc["sha256"],
            }
            self.by_key[key] = doc_id
            return 201, self.documents[doc_id]
        if url.path.startswith("/documents/"):
            doc = self.documents.get(url.path.rsplit("/", 1)[1])
            if not doc:
                return 404, {"error": {"code": "not_found", "message": "not yet"}}
            return 200, doc
        return 404, {"error": {"code": "not_found", "message": path}}


def ava_unescape(text):
    """AvaTax's path escapes of codes, back to the code."""
    for char, escape in (
        ("/", "_-ava2f-_"),
        ("+", "_-ava2b-_"),
        ("?", "_-ava3f-_"),
        ("#", "_-ava23-_"),
        ("%", "_-ava25-_"),
    ):
        text = text.replace(escape, char)
    return text


def query(path):
    return parse_qs(urlsplit(path).query)
