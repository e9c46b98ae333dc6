"""The suite's one HTTP client and the rules that classify answers.

Every outbound request of every connector goes through :func:`send`: one
pooled ``requests`` session per thread, explicit connect/read timeouts, and an
answer turned into "done", "retry later" or "finance must look" in one place.
"""

import threading
import time
from dataclasses import dataclass, field

import requests

from .backoff import parse_retry_after
from .errors import FiBusinessError, FiTransientError

#: statuses worth retrying: the same request may succeed later
TRANSIENT_STATUSES = frozenset({408, 409, 423, 425, 429, 500, 502, 503, 504})

USER_AGENT = "odoo-finance-integration/18.0"

_local = threading.local()


def _session():
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        _local.session = session
    return session


@dataclass
class HttpResult:
    status: int
    headers: dict = field(default_factory=dict)
    body: str = ""
    elapsed_ms: int = 0


def send(method, url, *, headers=None, json_body=None, data=None, timeout=(5, 30)):
    """Send one request and return an :class:`HttpResult`.

    Network failures (refused, reset, timeout) raise :class:`FiTransientError`;
    an HTTP answer is returned whatever its status: :func:`raise_for_outcome`
    classifies it.
    """
    session = _session()
    prepared = session.prepare_request(
        requests.Request(method, url, headers=headers, json=json_body, data=data)
    )
    settings = session.merge_environment_settings(prepared.url, {}, None, None, None)
    started = time.monotonic()
    try:
        # the pooled adapter directly: the (connect, read) timeout pair reaches
        # the socket as given, and redirects are never followed
        response = session.get_adapter(prepared.url).send(
            prepared, timeout=timeout, **settings
        )
    except requests.Timeout as err:
        raise FiTransientError(f"{method} {url} timed out: {err}", "timeout") from None
    except requests.ConnectionError as err:
        raise FiTransientError(
            f"{method} {url} could not connect: {err}", "connection"
        ) from None
    return HttpResult(
        status=response.status_code,
        headers=dict(response.headers),
        body=response.text,
        elapsed_ms=int((time.monotonic() - started) * 1000),
    )


def raise_for_outcome(result, what="request"):
    """Return ``result`` when 2xx; raise the classified error otherwise.

    429, 5xx and the other :data:`TRANSIENT_STATUSES` are transient (with the
    server's ``Retry-After`` carried along); any other status is a business
    error naming the status and the start of the answer.
    """
    if 200 <= result.status < 300:
        return result
    excerpt = (result.body or "")[:500]
    message = f"{what} answered HTTP {result.status}: {excerpt}"
    if result.status in TRANSIENT_STATUSES:
        retry_after = parse_retry_after(
            {k.lower(): v for k, v in result.headers.items()}.get("retry-after")
        )
        raise FiTransientError(message, f"http_{result.status}", retry_after)
    raise FiBusinessError(message, f"http_{result.status}")
