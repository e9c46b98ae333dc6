"""Stripe API requests: one place that builds them, one that reads answers.

The transport is injected (``send(method, url, body, headers) -> HttpResult``,
the endpoint's ``_fi_request`` in Odoo), so the same code runs against Stripe,
a local test server or a bench.
"""

import json

from odoo.addons.finance_integration_core.lib.backoff import parse_retry_after
from odoo.addons.finance_integration_core.lib.errors import (
    FiBusinessError,
    FiTransientError,
)

from .const import API_VERSION
from .form import encode

#: Stripe error types / codes worth retrying with the same request
TRANSIENT_TYPES = frozenset({"api_error", "rate_limit_error"})
TRANSIENT_CODES = frozenset({"lock_timeout", "rate_limit"})


class StripeBusinessError(FiBusinessError):
    """Stripe refused the request for a reason retrying cannot fix."""

    def __init__(self, message, reason_code, error=None, status=None):
        super().__init__(message, reason_code)
        self.error = error or {}
        self.status = status


def build_request(
    method,
    base_url,
    path,
    api_key,
    params=None,
    api_version=API_VERSION,
    idempotency_key=None,
):
    """``(method, url, body, headers)`` of one Stripe API call.

    GET/DELETE carry their parameters in the query string, POST in a form
    body with its ``Idempotency-Key``.

    >>> m, url, body, h = build_request("GET", "http://x/", "/v1/events",
    ...     "sk_test_1", {"limit": 3, "expand": ["data.source"]})
    >>> url
    'http://x/v1/events?limit=3&expand%5B%5D=data.source'
    >>> body, h["Authorization"], h["Stripe-Version"]
    (None, 'Bearer sk_test_1', '2022-04-12')
    >>> _, _, body, h = build_request("POST", "http://x", "/v1/refunds",
    ...     "sk_test_1", {"charge": "ch_1", "amount": 500}, idempotency_key="k1")
    >>> body, h["Idempotency-Key"], h["Content-Type"]
    (b'charge=ch_1&amount=500', 'k1', 'application/x-www-form-urlencoded')
    """
    if not api_key:
        raise FiBusinessError("the Stripe endpoint has no API key", "configuration")
    method = method.upper()
    url = base_url.rstrip("/") + "/" + path.lstrip("/")
    headers = {
        "Authorization": f"Bearer {api_key}",
        "Stripe-Version": api_version or API_VERSION,
        "Accept": "application/json",
    }
    body = None
    query = encode(params)
    if method in ("GET", "DELETE"):
        if query:
            url = f"{url}?{query}"
    else:
        body = query.encode("ascii")
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        if method == "POST":
            if not idempotency_key:
                raise ValueError("every Stripe POST carries an Idempotency-Key")
            headers["Idempotency-Key"] = idempotency_key
    return method, url, body, headers


def _header(headers, name):
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    return lowered.get(name.lower())


def read_answer(result, what):
    """The JSON object of a 2xx answer; raise the classified error otherwise.

    Technical (retry, honouring ``Retry-After``): 429, 5xx, ``api_error``,
    ``lock_timeout``, or ``Stripe-Should-Retry: true``. Business: the rest
    (``card_error``, ``invalid_request_error``, ``idempotency_error``,
    authentication), with reason code ``stripe_<code or type>``.
    """
    body = result.body or ""
    try:
        document = json.loads(body) if body else {}
    except ValueError:
        document = None
    if 200 <= result.status < 300:
        if not isinstance(document, dict):
            raise FiTransientError(
                f"{what}: Stripe answered {result.status} with a body that is not "
                f"a JSON object: {body[:200]!r}",
                "stripe_bad_answer",
            )
        return document
    error = (document or {}).get("error") if isinstance(document, dict) else None
    error = error if isinstance(error, dict) else {}
    kind = error.get("type") or "unknown"
    code = error.get("code") or error.get("decline_code") or ""
    request_id = _header(result.headers, "Request-Id")
    text = (
        f"{what}: Stripe answered HTTP {result.status} {kind}"
        f"{' ' + code if code else ''}: {error.get('message') or body[:200]}"
        f"{f' (request {request_id})' if request_id else ''}"
    )
    should_retry = (_header(result.headers, "Stripe-Should-Retry") or "").lower()
    transient = (
        result.status == 429
        or result.status >= 500
        or kind in TRANSIENT_TYPES
        or code in TRANSIENT_CODES
    )
    if should_retry == "true":
        transient = True
    elif should_retry == "false" and result.status < 500:
        transient = False
    if transient:
        raise FiTransientError(
            text,
            f"stripe_http_{result.status}",
            parse_retry_after(_header(result.headers, "Retry-After")),
        )
    raise StripeBusinessError(
        text, f"stripe_{code or kind}", error=error, status=result.status
    )


class StripeApi:
    """A small Stripe client over an injected transport."""

    def __init__(self, send, base_url, api_key, api_version=API_VERSION):
        self.send = send
        self.base_url = base_url
        self.api_key = api_key
        self.api_version = api_version or API_VERSION

    def call(self, method, path, params=None, idempotency_key=None):
        method, url, body, headers = build_request(
            method,
            self.base_url,
            path,
            self.api_key,
            params,
            api_version=self.api_version,
            idempotency_key=idempotency_key,
        )
        result = self.send(method, url, body, headers)
        return read_answer(result, f"{method} {path}")

    def get(self, path, params=None):
        return self.call("GET", path, params)

    def post(self, path, params, idempotency_key):
        return self.call("POST", path, params, idempotency_key=idempotency_key)

    def iterate(self, path, params=None, page_size=100):
        """Every object of a list endpoint, page after page (``starting_after``,
        ``has_more``): a generator holding one page at a time."""
        params = dict(params or {}, limit=page_size)
        while True:
            page = self.get(path, params)
            data = page.get("data")
            if page.get("object") != "list" or not isinstance(data, list):
                raise FiTransientError(
                    f"GET {path}: Stripe did not answer a list", "stripe_bad_answer"
                )
            yield from data
            if not page.get("has_more") or not data:
                return
            params["starting_after"] = data[-1]["id"]
