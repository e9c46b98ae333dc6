"""Redaction of secrets from payloads and headers before anyone sees them."""

import re

MASK = "***"

#: keys whose values are never shown (matched case-insensitively, anywhere in
#: the key: ``client_secret``, ``X-Api-Key``, ``card_number`` ...)
SENSITIVE_KEY = re.compile(
    r"secret|password|passwd|token|api[-_]?key|authorization|cookie|signature"
    r"|card[-_]?number|\bpan\b|cvc|cvv|iban|account[-_]?number|private",
    re.IGNORECASE,
)

#: request headers that are dropped entirely from stored copies
DROPPED_HEADERS = frozenset(
    {"authorization", "cookie", "set-cookie", "proxy-authorization", "x-api-key"}
)


def redact_value(value):
    """Copy of a JSON value with the values of sensitive keys masked.

    >>> redact_value({"id": "x", "client_secret": "s", "n": [{"api_key": 1}]})
    {'id': 'x', 'client_secret': '***', 'n': [{'api_key': '***'}]}
    """
    if isinstance(value, dict):
        return {
            key: (
                MASK
                if isinstance(key, str) and SENSITIVE_KEY.search(key) and val
                else redact_value(val)
            )
            for key, val in value.items()
        }
    if isinstance(value, list):
        return [redact_value(item) for item in value]
    return value


def redact_headers(headers, secret_headers=()):
    """Headers safe to store: credentials and cookies dropped, signatures masked.

    ``secret_headers`` names provider-specific headers (e.g. the signature
    header) whose value is masked.
    """
    secret = {name.lower() for name in secret_headers}
    safe = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower in DROPPED_HEADERS:
            continue
        safe[name] = MASK if lower in secret or SENSITIVE_KEY.search(lower) else value
    return safe
