"""JSON Lines export of a chain segment, and its verification.

Line 1, the header (an object)::

    {"format": "fi-audit-export/1", "company_id": 1, "fields": [...],
     "anchor": {"sequence": 0, "hash": "000..."}, "public_keys": {...}}

``anchor`` is the link the first exported row follows: the genesis (sequence
0) or a signed checkpoint exported with the segment. ``public_keys`` lists the
keys the company used, for information only: a verifier trusts only the keys
it is given separately.

Then one line per checkpoint, ``{"checkpoint": {...}}`` (see signing.py), and
one line per event ordered by sequence: the event's canonical form (the array
chain.py hashes) with its hash appended as the last element::

    ["fi-audit/1",1,7,"<prev hash>","2026-12-01T10:00:00.123456",...,"<hash>"]

so the line minus its last element is byte for byte what was hashed: a
verifier hashes the bytes it reads and reads sequence and previous hash from
the head of the line, without decoding and encoding JSON again (a million
events in a few seconds). Any change to those bytes changes the hash; the
hash is tied to the next row's previous hash and to the signed checkpoints.
"""

import json

from .chain import FIELDS, GENESIS, Break, EventChecker, event_line
from .signing import verify_checkpoint

EXPORT_FORMAT = "fi-audit-export/1"


def header(company_id, anchor_sequence, anchor_hash, public_keys):
    return {
        "format": EXPORT_FORMAT,
        "company_id": company_id,
        "fields": ["format", *FIELDS, "hash"],
        "anchor": {"sequence": anchor_sequence, "hash": anchor_hash},
        "public_keys": public_keys,
    }


def write_head(stream, head, checkpoints):
    """Write the header and checkpoint lines of an export to ``stream``."""
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    stream.write(dumps(head).encode("utf-8") + b"\n")
    for checkpoint in checkpoints:
        stream.write(dumps({"checkpoint": checkpoint}).encode("utf-8") + b"\n")


def write_export(stream, head, checkpoints, rows):
    """Write an export to the binary ``stream``; returns the number of rows
    (in Odoo, the event lines come from PostgreSQL instead: lib/pgcopy.py)."""
    write_head(stream, head, checkpoints)
    count = 0
    for row in rows:
        stream.write(event_line(row))
        count += 1
    return count


class Result:
    """What a verification found: ``ok``, the first ``brk``, how many rows,
    the last sequence and the last signed sequence."""

    def __init__(self, brk, rows, last_sequence, signed_sequence, line=None):
        self.brk = brk
        self.rows = rows
        self.last_sequence = last_sequence
        self.signed_sequence = signed_sequence
        self.line = line

    @property
    def ok(self):
        return self.brk is None


def check_checkpoints(checkpoints, public_keys, company_id):
    """({sequence: hash} of the valid checkpoints, first Break or None)."""
    signed = {}
    for cp in sorted(checkpoints, key=lambda c: c["sequence"]):
        if cp.get("company_id") != company_id or not verify_checkpoint(cp, public_keys):
            return signed, Break(
                cp["sequence"],
                "signature",
                f"signature of key {cp['key_id']}",
                "no valid signature",
            )
        signed[cp["sequence"]] = cp["hash"]
    return signed, None


def verify_lines(lines, public_keys):
    """Verify an export given as an iterable of bytes lines.

    ``public_keys``: {key_id: base64 public key} the verifier trusts.
    """
    lines = iter(lines)
    head = json.loads(next(lines))
    if head.get("format") != EXPORT_FORMAT:
        raise ValueError(f"line 1: not an {EXPORT_FORMAT} file")
    if head.get("fields") != ["format", *FIELDS, "hash"]:
        raise ValueError("line 1: unknown field list")
    company_id = head["company_id"]
    checkpoints, first_event = [], None
    for line in lines:
        if isinstance(line, str):
            raise TypeError("verify_lines reads bytes lines (open the file 'rb')")
        if line.startswith(b"{"):
            checkpoints.append(json.loads(line)["checkpoint"])
        else:
            first_event = line
            break
    signed, brk = check_checkpoints(checkpoints, public_keys, company_id)
    anchor_seq = head["anchor"]["sequence"]
    anchor_hash = head["anchor"]["hash"]
    if brk is None and (
        (anchor_seq == 0 and anchor_hash != GENESIS)
        or (anchor_seq != 0 and signed.get(anchor_seq) != anchor_hash)
    ):
        brk = Break(
            anchor_seq + 1,
            "anchor",
            "the genesis or a signed checkpoint",
            f"{anchor_seq}:{anchor_hash}",
        )
    if brk is not None:
        return Result(brk, 0, anchor_seq, 0)
    return _verify_events(first_event, lines, anchor_seq, anchor_hash, signed, head)


def _verify_events(first, lines, sequence, prev_hash, signed, head):
    """Check the event lines; ``first`` is the first one, already read."""
    checker = EventChecker(
        head["company_id"], sequence, prev_hash, signed, line_no=1 + len(signed)
    )
    if first is not None:
        checker.feed(_chain_first(first, lines))
    last_signed = max((s for s in signed if s <= checker.sequence), default=0)
    return Result(
        checker.brk,
        checker.count,
        checker.sequence,
        last_signed,
        line=checker.line_no if checker.brk else None,
    )


def _chain_first(first, lines):
    yield first
    yield from lines
