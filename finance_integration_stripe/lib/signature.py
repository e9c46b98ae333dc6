"""``Stripe-Signature`` verification.

Stripe signs ``<t>.<raw body>`` with HMAC-SHA256 under the endpoint's signing
secret and sends ``t=<unix time>,v1=<hex>[,v1=<hex>...][,v0=...]``. During a
secret rotation Stripe sends one ``v1`` per active secret; the endpoint also
holds two secrets: any ``v1`` matching any secret is accepted. The comparison
is constant-time (core's :func:`verify_hmac_sha256`), over the raw bytes as
received; anything missing or malformed is refused (fails closed).
"""

from odoo.addons.finance_integration_core.lib.errors import SignatureError
from odoo.addons.finance_integration_core.lib.signature import (
    hmac_sha256,
    signed_content,
    verify_hmac_sha256,
)

HEADER = "Stripe-Signature"
DEFAULT_TOLERANCE = 300


def parse_header(value):
    """``(timestamp, [v1 signatures])`` of a ``Stripe-Signature`` value.

    >>> parse_header("t=12,v1=ab,v0=zz,v1=cd")
    (12, ['ab', 'cd'])
    """
    if not value:
        raise SignatureError("missing_signature", f"the {HEADER} header is absent")
    timestamps, signatures = [], []
    for item in value.split(","):
        key, sep, val = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            timestamps.append(val.strip())
        elif key == "v1" and val.strip():
            signatures.append(val.strip())
    if len(timestamps) != 1:
        raise SignatureError(
            "missing_timestamp" if not timestamps else "bad_timestamp",
            f"{HEADER} must carry exactly one t= (found {len(timestamps)})",
        )
    try:
        timestamp = int(timestamps[0])
    except ValueError:
        raise SignatureError("bad_timestamp", "t= is not an integer") from None
    if not signatures:
        raise SignatureError("missing_signature", f"{HEADER} has no v1= signature")
    return timestamp, signatures


def verify(body, header_value, secrets, tolerance=DEFAULT_TOLERANCE, now=None):
    """Raise :class:`SignatureError` unless ``body`` (bytes) is signed by one
    of ``secrets`` within ``tolerance`` seconds; returns the timestamp."""
    if not isinstance(body, bytes | bytearray):
        raise TypeError("verify the raw body (bytes), never a decoded document")
    if not [s for s in secrets if s]:
        raise SignatureError("no_secret", "no Stripe signing secret is configured")
    timestamp, signatures = parse_header(header_value)
    verify_hmac_sha256(
        bytes(body),
        ",".join(signatures),
        secrets,
        timestamp=timestamp,
        tolerance=tolerance if tolerance and tolerance > 0 else DEFAULT_TOLERANCE,
        encoding="hex",
        now=now,
    )
    return timestamp


def sign(body, secret, timestamp):
    """A ``Stripe-Signature`` value for ``body`` (benches and demo data).

    >>> sign(b"{}", "whsec_x", 1)[:7]
    't=1,v1='
    """
    digest = hmac_sha256(secret, signed_content(body, timestamp)).hex()
    return f"t={timestamp},v1={digest}"
