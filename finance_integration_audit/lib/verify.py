"""Offline verifier of an audit export (no Odoo needed)::

    python -m finance_integration_audit.lib.verify FILE --public-key KEY [...]

KEY: a base64 Ed25519 public key, a PEM file, or a file holding one base64
key per line (as exported from Odoo). Prints ``OK ...`` and exits 0, or prints
where the chain breaks and exits 1.
"""

import argparse
import os
import sys

from .chain import describe
from .export import verify_lines
from .signing import key_id, normalize_public_key


def read_public_keys(values):
    keys = {}
    for value in values:
        if os.path.exists(value):
            with open(value, encoding="ascii") as stream:
                text = stream.read()
            chunks = [text] if "BEGIN" in text else text.split()
        else:
            chunks = [value]
        for chunk in chunks:
            if chunk.strip():
                public = normalize_public_key(chunk)
                keys[key_id(public)] = public
    return keys


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m finance_integration_audit.lib.verify",
        description="Verify an exported audit chain segment.",
    )
    parser.add_argument("file", help="the .jsonl export")
    parser.add_argument(
        "--public-key",
        action="append",
        required=True,
        help="trusted public key (base64, PEM file or key list file); repeatable",
    )
    args = parser.parse_args(argv)
    try:
        keys = read_public_keys(args.public_key)
        with open(args.file, "rb") as stream:
            result = verify_lines(stream, keys)
    except (OSError, ValueError, KeyError, IndexError, TypeError) as err:
        print(f"ERROR {args.file}: {err}")
        return 2
    if not result.ok:
        print(f"BROKEN {args.file}: {describe(result.brk)}")
        return 1
    tail = ""
    if result.last_sequence > result.signed_sequence:
        tail = (
            f"; sequences {result.signed_sequence + 1}..{result.last_sequence}"
            " not yet covered by a signed checkpoint"
        )
    print(
        f"OK {args.file}: {result.rows} events up to sequence "
        f"{result.last_sequence}, signed up to {result.signed_sequence}{tail}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
