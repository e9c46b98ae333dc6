"""The audit chain: canonical form of an event, its hash, sealing and checking.

An event is hashed as the canonical JSON (core's ``canonical_json``: sorted
keys, no spaces, UTF-8) of one fixed-order array::

    ["fi-audit/1", company_id, sequence, prev_hash, date, event_type,
     user_id, integration_user_id, endpoint_id, flow_id, message_id,
     correlation_id, res_model, res_id, summary, facts]

A fixed-order array rather than an object: the fields are the same for every
event, so names add nothing but bytes, and encoding a list needs no key sort
(a million events verify in about a third of the time of objects). ``facts``
is itself canonical JSON text, embedded as a string, so a verifier hashes it
without parsing it again.

>>> row = (1, 1, GENESIS, "2026-12-01T10:00:00.000000", "message.received",
...        2, 3, 4, None, 5, "corr-1", None, None, "IN #5", '{"a":1}')
>>> h = event_hash(row)
>>> len(h), h == event_hash(row)
(64, True)
>>> first_break([(*row, h)]) is None
True
>>> bad = (*row[:13], "changed", row[14], h)
>>> first_break([bad]).kind
'changed'
"""

import hashlib
from collections import namedtuple

from .canonical import canonical_json

#: the version tag heading every canonical form
FORMAT = "fi-audit/1"
#: previous hash of the first event of a chain
GENESIS = "0" * 64
#: the hashed fields, in order (after the version tag)
FIELDS = (
    "company_id",
    "sequence",
    "prev_hash",
    "date",
    "event_type",
    "user_id",
    "integration_user_id",
    "endpoint_id",
    "flow_id",
    "message_id",
    "correlation_id",
    "res_model",
    "res_id",
    "summary",
    "facts",
)
SEQ, PREV = 1, 2  # positions of sequence and prev_hash in a row


def canonical_form(row):
    """Canonical bytes of ``row`` (a sequence of the FIELDS values)."""
    return canonical_json([FORMAT, *row])


def event_hash(row):
    """Hex SHA-256 of the canonical form of ``row``."""
    return hashlib.sha256(canonical_form(row)).hexdigest()


def seal(rows, sequence, prev_hash):
    """Seal unsealed ``rows`` after the chain head (``sequence``, ``prev_hash``).

    ``rows``: sequences of the FIELDS values with sequence and prev_hash left
    out (company_id, date, event_type ...). Yields ``(sequence, prev_hash,
    hash)`` per row, in order.

    >>> list(seal([(1, "d", "t", None, None, None, None, None, None, None,
    ...             None, "s", "{}")], 0, GENESIS))[0][:2]
    (1, '0000000000000000000000000000000000000000000000000000000000000000')
    """
    for row in rows:
        sequence += 1
        digest = event_hash((row[0], sequence, prev_hash, *row[1:]))
        yield sequence, prev_hash, digest
        prev_hash = digest


Break = namedtuple("Break", "sequence kind expected found")
Break.__doc__ = """The first broken link: at ``sequence``, what the chain should
have (``expected``) and what is there (``found``). ``kind``: ``changed`` (the
row's hash does not match its content), ``link`` (prev_hash is not the previous
row's hash: a row removed, inserted or swapped), ``gap`` (a sequence missing),
``order`` (a sequence out of place), ``checkpoint`` (the chain at a signed
checkpoint is not the signed one: rows re-hashed after signing), ``signature``
(a checkpoint whose signature does not verify), ``anchor`` (the first row does
not follow a known checkpoint or the genesis)."""


def describe(brk):
    """One line for a person."""
    what = {
        "changed": "row content changed (hash does not match)",
        "link": "previous hash does not match the previous row "
        "(row deleted, inserted or swapped)",
        "gap": "sequence missing (row deleted)",
        "order": "sequence out of order (rows swapped or moved)",
        "checkpoint": "chain differs from the signed checkpoint "
        "(rows re-hashed after signing)",
        "signature": "checkpoint signature invalid",
        "anchor": "first row does not follow the genesis or a signed checkpoint",
    }[brk.kind]
    return (
        f"broken at sequence {brk.sequence}: {what}; "
        f"expected {brk.expected}, found {brk.found}"
    )


def first_break(rows, sequence=0, prev_hash=GENESIS, checkpoints=None):
    """The first :class:`Break` in ``rows``, or None when the chain holds.

    ``rows``: iterable of ``(*FIELDS values, hash)`` ordered by sequence,
    starting right after (``sequence``, ``prev_hash``) - the genesis or a
    signed checkpoint. ``checkpoints``: {sequence: signed hash} of checkpoints
    whose signature was already checked; the row at each must carry that hash.
    """
    checkpoints = checkpoints or {}
    for row in rows:
        found_seq = row[SEQ]
        if found_seq != sequence + 1:
            kind = "gap" if found_seq > sequence + 1 else "order"
            return Break(sequence + 1, kind, sequence + 1, found_seq)
        sequence = found_seq
        if row[PREV] != prev_hash:
            return Break(sequence, "link", prev_hash, row[PREV])
        digest = event_hash(row[:-1])
        if digest != row[-1]:
            return Break(sequence, "changed", digest, row[-1])
        signed = checkpoints.get(sequence)
        if signed is not None and signed != digest:
            return Break(sequence, "checkpoint", signed, digest)
        prev_hash = digest
    return None
