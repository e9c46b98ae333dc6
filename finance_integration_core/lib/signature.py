"""Webhook signature checks (HMAC-SHA256 over the raw body).

Verification runs before anything is read from the payload and fails closed:
no secret configured means refused, never "skip the check".
"""

import base64
import hmac
import re
import time

from .errors import SignatureError

_SPLIT = re.compile(r"[,\s]+")


def hmac_sha256(secret, message):
    """Raw HMAC-SHA256 digest of ``message`` (bytes) under ``secret``."""
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    return hmac.digest(secret, message, "sha256")


def signed_content(body, timestamp=None):
    """What the sender signs: the raw body, prefixed by ``<timestamp>.``."""
    if timestamp is None:
        return body
    return str(timestamp).encode("ascii") + b"." + body


def sign(body, secret, timestamp=None, encoding="hex", prefix="sha256="):
    """Signature header value a sender would put on ``body`` (tests, benches)."""
    digest = hmac_sha256(secret, signed_content(body, timestamp))
    text = digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()
    return prefix + text


def _candidates(header_value):
    """Signatures listed in one header: ``sha256=ab..,sha256=cd..`` or bare."""
    for part in _SPLIT.split(header_value.strip()):
        if not part:
            continue
        scheme, sep, value = part.partition("=")
        # a bare base64 value may end with '=' padding: keep it whole then
        if sep and value and re.fullmatch(r"[A-Za-z0-9_-]{1,16}", scheme):
            yield value
        else:
            yield part


def _decode(candidate, encoding):
    try:
        if encoding == "hex":
            return bytes.fromhex(candidate)
        return base64.b64decode(candidate, validate=True)
    except ValueError:
        return None


def verify_hmac_sha256(
    body,
    header_value,
    secrets,
    timestamp=None,
    tolerance=300,
    encoding="hex",
    now=None,
):
    """Raise :class:`SignatureError` unless one signature matches one secret.

    :param body: the raw request body (bytes), exactly as received
    :param header_value: the signature header (several signatures allowed)
    :param secrets: active secrets (two during a rotation)
    :param timestamp: the timestamp header value when the sender signs one;
        ``False`` when the endpoint expects one and the request has none
    :param tolerance: seconds a signed timestamp stays acceptable
    """
    secrets = [s for s in secrets if s]
    if not secrets:
        raise SignatureError("no_secret", "no webhook secret is configured")
    if not header_value:
        raise SignatureError("missing_signature", "the signature header is absent")
    if timestamp is False:
        raise SignatureError("missing_timestamp", "the timestamp header is absent")
    if timestamp is not None:
        try:
            sent_at = int(str(timestamp).strip())
        except ValueError:
            raise SignatureError(
                "bad_timestamp", "timestamp is not an integer"
            ) from None
        now = time.time() if now is None else now
        if abs(now - sent_at) > tolerance:
            raise SignatureError(
                "stale_timestamp", f"timestamp is {int(now - sent_at)}s off"
            )
    content = signed_content(body, timestamp)
    expected = [hmac_sha256(secret, content) for secret in secrets]
    for candidate in _candidates(header_value):
        given = _decode(candidate, encoding)
        if given is None:
            continue
        for digest in expected:
            if hmac.compare_digest(given, digest):
                return True
    raise SignatureError("bad_signature", "no signature matches an active secret")
