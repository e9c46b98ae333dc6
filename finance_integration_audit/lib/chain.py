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

import json
from collections import namedtuple

from .canonical import canonical_json, sha256_hex

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
    return sha256_hex(canonical_form(row))


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


def event_line(row):
    """The line form of a sealed ``row`` (FIELDS values then hash): its
    canonical form with the hash appended as a last element, as exported and
    as checked (:class:`EventChecker`)."""
    return canonical_form(row[:-1])[:-1] + b',"' + row[-1].encode("ascii") + b'"]\n'


class EventChecker:
    """Checks event lines in chain order, fed in batches: the one check of
    both verifiers (the offline one over the lines of an export file, the one
    in Odoo over the lines PostgreSQL streams, lib/pgcopy.py).

    A line is :func:`event_line`: the bytes before its last element are what
    was hashed, so a line is hashed as read, with core's ``sha256_hex``;
    sequence and previous hash are compared at the head of the line without
    decoding it. A line that does not look like the expected one is decoded
    to say what is wrong with it (:meth:`_diagnose`).

    ``sequence``, ``prev_hash``: the link the first line follows (the genesis
    or a signed checkpoint); ``signed``: {sequence: hash} of the checkpoints
    whose signatures were checked; ``line_no``: lines before the first one.
    After :meth:`feed`: ``brk`` (the first :class:`Break` or None),
    ``count`` (lines that hold), ``sequence`` (the last sequence that holds)
    and ``line_no`` (of the break, else of the last line).
    """

    def __init__(self, company_id, sequence, prev_hash, signed=None, line_no=0):
        self.company_id = company_id
        self.sequence = sequence
        self.prev_hash = prev_hash
        self.signed = signed or {}
        self.line_no = line_no
        self.start = sequence
        self.brk = None
        self._head = b'["%s",%d,' % (FORMAT.encode("ascii"), company_id)

    @property
    def count(self):
        """Lines checked that hold."""
        return self.sequence - self.start

    def feed(self, lines):
        """Check ``lines`` (bytes, newline optional); False once broken."""
        if self.brk is not None:
            return False
        sha = sha256_hex
        signed = self.signed
        head = self._head
        sequence = self.sequence
        prev = self.prev_hash.encode("ascii")
        line_no = self.line_no
        for line in lines:
            line_no += 1
            body = line.rstrip(b"\r\n")
            digest = sha(body[:-68] + b"]")
            if not (
                body.startswith(b'%s%d,"%s",' % (head, sequence + 1, prev))
                and body.endswith(b',"%s"]' % digest.encode("ascii"))
            ):
                self.brk, digest = self._diagnose(body, line_no, sequence, prev)
                if self.brk is not None:
                    break
            expected = signed.get(sequence + 1)
            if expected is not None and expected != digest:
                self.brk = Break(sequence + 1, "checkpoint", expected, digest)
                break
            sequence += 1
            prev = digest.encode("ascii")
        self.sequence = sequence
        self.prev_hash = prev.decode("ascii")
        self.line_no = line_no
        return self.brk is None

    def _diagnose(self, body, line_no, sequence, prev):
        """(Break or None, digest) of a line that is not the expected one;
        ValueError naming the line when it is no event line at all."""
        try:
            row = json.loads(body)
        except ValueError:
            row = None
        if not (
            isinstance(row, list)
            and len(row) == len(FIELDS) + 2
            and row[0] == FORMAT
            and isinstance(row[1 + SEQ], int)
        ):
            raise ValueError(f"line {line_no}: not an event line of {FORMAT}")
        if row[1] != self.company_id:
            raise ValueError(f"line {line_no}: event of another company")
        found_seq = row[1 + SEQ]
        if found_seq != sequence + 1:
            kind = "gap" if found_seq > sequence + 1 else "order"
            return Break(sequence + 1, kind, sequence + 1, found_seq), None
        prev_hash = prev.decode("ascii")
        if row[1 + PREV] != prev_hash:
            return Break(found_seq, "link", prev_hash, row[1 + PREV]), None
        tail = b"," + canonical_json(row[-1]) + b"]"
        if not body.endswith(tail):
            raise ValueError(f"line {line_no}: not in canonical form")
        digest = sha256_hex(body[: -len(tail)] + b"]")
        if digest != row[-1]:
            return Break(found_seq, "changed", digest, row[-1]), None
        return None, digest


def first_break(rows, sequence=0, prev_hash=GENESIS, checkpoints=None):
    """The first :class:`Break` in ``rows``, or None when the chain holds.

    ``rows``: iterable of ``(*FIELDS values, hash)`` ordered by sequence,
    starting right after (``sequence``, ``prev_hash``) - the genesis or a
    signed checkpoint. ``checkpoints``: {sequence: signed hash} of checkpoints
    whose signature was already checked; the row at each must carry that hash.
    The rows are checked as lines (:class:`EventChecker`).
    """
    rows = list(rows)
    if not rows:
        return None
    checker = EventChecker(rows[0][0], sequence, prev_hash, checkpoints)
    checker.feed(event_line(row) for row in rows)
    return checker.brk
