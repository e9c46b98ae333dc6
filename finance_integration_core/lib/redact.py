"""Redaction of secrets from payloads and headers before anyone sees them."""

import json
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


#: decisions of SENSITIVE_KEY per key name: payloads of one system repeat the
#: same few hundred keys, a dictionary lookup is many times cheaper than the regex
_SENSITIVE = {}
_SENSITIVE_MAX = 8192


def is_sensitive_key(key):
    """True when the value of ``key`` must never be shown."""
    try:
        return _SENSITIVE[key]
    except KeyError:
        if len(_SENSITIVE) >= _SENSITIVE_MAX:
            _SENSITIVE.clear()
        found = _SENSITIVE[key] = bool(SENSITIVE_KEY.search(key))
        return found


def redact_value(value):
    """Copy of a JSON value with the values of sensitive keys masked.

    Parts without anything to mask are shared with ``value``, not copied: the
    result must be treated as read-only.

    >>> redact_value({"id": "x", "client_secret": "s", "n": [{"api_key": 1}]})
    {'id': 'x', 'client_secret': '***', 'n': [{'api_key': '***'}]}
    """
    if isinstance(value, dict):
        copy = None
        for key, val in value.items():
            if val and isinstance(key, str) and is_sensitive_key(key):
                new = MASK
            elif isinstance(val, dict | list):
                new = redact_value(val)
            else:
                continue
            if new is not val:
                if copy is None:
                    copy = dict(value)
                copy[key] = new
        return value if copy is None else copy
    if isinstance(value, list):
        copy = None
        for index, item in enumerate(value):
            if isinstance(item, dict | list):
                new = redact_value(item)
                if new is not item:
                    if copy is None:
                        copy = list(value)
                    copy[index] = new
        return value if copy is None else copy
    return value


def redacted_json(value):
    """The redacted copy of a JSON value as shown: indented JSON text with the
    values of sensitive keys masked.

    >>> print(redacted_json({"id": "evt_1", "api_key": "k"}))
    {
      "id": "evt_1",
      "api_key": "***"
    }
    """
    return json.dumps(redact_value(value), indent=2, ensure_ascii=False)


def pretty_json(text):
    """Indented JSON for display; text that is not JSON is returned unchanged."""
    if not text:
        return text
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


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
        safe[name] = MASK if lower in secret or is_sensitive_key(lower) else value
    return safe
