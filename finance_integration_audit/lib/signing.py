"""Ed25519 checkpoints: the chain head signed with a key kept outside the
database.

The private key comes from the server configuration (``fi_audit_signing_key``
or the ``FI_AUDIT_SIGNING_KEY`` environment variable) as base64 of the 32-byte
raw key, or as a PEM block. Public keys are shared as base64 of their 32 raw
bytes; a key id is the first 16 hex digits of the SHA-256 of those bytes.

>>> key = generate_private_key()
>>> signer = load_private_key(key)
>>> public = public_key_b64(signer)
>>> cp = sign_checkpoint(signer, 1, 42, "ab" * 32, "2026-12-01T10:00:00")
>>> cp["key_id"] == key_id(public)
True
>>> verify_checkpoint(cp, {cp["key_id"]: public})
True
>>> verify_checkpoint(dict(cp, sequence=43), {cp["key_id"]: public})
False
"""

import base64

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from .canonical import canonical_json, sha256_hex

CHECKPOINT_FORMAT = "fi-audit-checkpoint/1"


def generate_private_key():
    """A new private key as base64 (for the server configuration)."""
    raw = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    return base64.b64encode(raw).decode("ascii")


def load_private_key(text):
    """An Ed25519 private key from base64 raw bytes or PEM text."""
    text = (text or "").strip()
    if not text:
        raise ValueError("no signing key configured")
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode("ascii"), None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the signing key is not an Ed25519 key")
        return key
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raise ValueError("the signing key is neither PEM nor base64") from None
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 key has 32 bytes, this one has {len(raw)}")
    return Ed25519PrivateKey.from_private_bytes(raw)


def public_key_b64(private_key):
    raw = private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return base64.b64encode(raw).decode("ascii")


def load_public_key(text):
    """An Ed25519 public key from base64 raw bytes or PEM text."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode("ascii"))
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the public key is not an Ed25519 key")
        return key
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))


def normalize_public_key(text):
    """base64 raw form of a public key given as base64 or PEM."""
    raw = load_public_key(text).public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return base64.b64encode(raw).decode("ascii")


def key_id(public_b64):
    return sha256_hex(base64.b64decode(public_b64))[:16]


def checkpoint_message(company_id, sequence, head_hash, signed_at):
    """The signed bytes of a checkpoint."""
    return canonical_json(
        [CHECKPOINT_FORMAT, company_id, sequence, head_hash, signed_at]
    )


def sign_checkpoint(private_key, company_id, sequence, head_hash, signed_at):
    """A checkpoint dict: company_id, sequence, hash, signed_at, key_id,
    signature (base64)."""
    public = public_key_b64(private_key)
    signature = private_key.sign(
        checkpoint_message(company_id, sequence, head_hash, signed_at)
    )
    return {
        "company_id": company_id,
        "sequence": sequence,
        "hash": head_hash,
        "signed_at": signed_at,
        "key_id": key_id(public),
        "signature": base64.b64encode(signature).decode("ascii"),
    }


def verify_checkpoint(checkpoint, public_keys):
    """True when ``checkpoint`` is signed by one of ``public_keys``
    ({key_id: base64 public key}) under its key id."""
    public = public_keys.get(checkpoint["key_id"])
    if not public:
        return False
    try:
        load_public_key(public).verify(
            base64.b64decode(checkpoint["signature"]),
            checkpoint_message(
                checkpoint["company_id"],
                checkpoint["sequence"],
                checkpoint["hash"],
                checkpoint["signed_at"],
            ),
        )
    except (InvalidSignature, ValueError):
        return False
    return True
