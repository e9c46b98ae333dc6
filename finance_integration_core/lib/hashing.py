"""The suite's one hash function and its canonical JSON form."""

import hashlib
import json


def sha256_hex(data):
    """Hex SHA-256 of ``data`` (bytes, or str encoded as UTF-8)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def canonical_json(value):
    """Deterministic UTF-8 JSON bytes: sorted keys, no insignificant spaces."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode("utf-8")
