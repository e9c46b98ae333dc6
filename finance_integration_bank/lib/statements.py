"""Format detection from content, and the checks every statement goes through
before anything is written: balances, account and currency, line identities.
"""

import hashlib
from decimal import Decimal

from . import bai2, camt, csvprofile, mt940, ofx
from .model import StatementError, normalize_iban

# balance rules per message type: strict = opening + lines == closing, required
STRICT = {"camt.053", "mt940", "bai2"}
WHEN_PRESENT = {"camt.052", "mt942", "ofx", "csv"}


def detect(data, filename="<file>"):
    """The format of a file from its first bytes, never its name.

    >>> detect(b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">')
    'camt'
    >>> detect(b"{1:F01BANK}{2:I940}{4:\\r\\n:20:X")
    'mt940'
    >>> detect(b"01,BANK,CUST,240101,0800,1,,,2/")
    'bai2'
    >>> detect(b"OFXHEADER:100\\nDATA:OFXSGML")
    'ofx'
    """
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    upper = head.upper()
    if camt.sniff(head):
        return "camt"
    if upper.startswith(b"OFXHEADER") or b"<OFX>" in upper or b"<?OFX" in upper:
        return "ofx"
    if head.startswith(b"<"):
        raise StatementError(
            filename, "line 1", "root element", "an ISO 20022 camt or OFX document"
        )
    if head.startswith(b"01,"):
        return "bai2"
    text = head.decode("latin-1")
    if ":20:" in text[:400] and (
        ":25:" in text or "{2:I94" in text or "{2:O94" in text
    ):
        return "mt940"
    return "csv"


def parse(data, filename="<file>", csv_profile=None, validate=True):
    """The statements of a file (bytes, or its path), detected from its content."""
    if isinstance(data, str):
        with open(data, "rb") as handle:
            head = handle.read(4096)
        if detect(head, filename) == "camt":
            return camt.parse(data, filename, validate=validate)  # streamed from disk
        with open(data, "rb") as handle:
            data = handle.read()
    kind = detect(data, filename)
    if kind == "camt":
        return camt.parse(data, filename, validate=validate)
    if kind == "mt940":
        return mt940.parse(data, filename)
    if kind == "ofx":
        return ofx.parse(data, filename)
    if kind == "bai2":
        return bai2.parse(data, filename)
    if not csv_profile:
        raise StatementError(
            filename,
            "line 1",
            "format",
            "camt, MT940, OFX, BAI2, or a CSV profile on the journal",
        )
    return csvprofile.parse(data, csv_profile, filename)


def check_balances(stmt, filename="<file>"):
    """opening + sum(lines) == closing, to the cent, where the type has balances.

    Reversal and split details follow the sign already on the line; when a
    batched entry was kept whole only its total counts.
    """
    opening, closing = stmt.opening, stmt.closing
    if stmt.kind == "camt.054":
        return
    if stmt.kind in STRICT:
        for name, bal in (("OPBD/:60F:", opening), ("CLBD/:62F:", closing)):
            if bal is None:
                raise StatementError(
                    filename,
                    stmt.location,
                    name,
                    "an opening and a closing booked balance",
                )
    if opening is None or closing is None:
        return
    total = sum(
        (line.amount for line in stmt.lines if line.detail_index == 0 and line.booked),
        Decimal(0),
    )
    if (opening.amount + total).quantize(Decimal("0.01")) != closing.amount.quantize(
        Decimal("0.01")
    ):
        raise StatementError(
            filename,
            stmt.location,
            "balance",
            f"opening {opening.amount} + entries {total} = "
            f"closing {opening.amount + total}",
            str(closing.amount),
        )


def check_account(stmt, account, currency, filename="<file>"):
    """The statement's account and currency are the journal's."""
    if account and stmt.account and not _same_account(stmt.account, account):
        raise StatementError(
            filename,
            stmt.location,
            "account",
            f"the journal's account {account}",
            stmt.account,
        )
    if currency and stmt.currency and stmt.currency != currency:
        raise StatementError(
            filename,
            stmt.location,
            "currency",
            f"the journal's currency {currency}",
            stmt.currency,
        )


def _same_account(found, expected):
    found, expected = normalize_iban(found), normalize_iban(expected)
    if found == expected:
        return True
    # MT940 :25: BLZ/account, BAI2 account numbers: the IBAN ends with the number
    digits = found.lstrip("0")
    return bool(digits) and expected.endswith(digits) and len(digits) >= 6


def assign_ids(stmt, split_batches=True):
    """Give each line its stable import id and keep either the whole batched
    entries or their details.

    The id is account + bank reference where the bank gives one, else a hash of
    the line's content with an occurrence index (the n-th identical line). The
    id does not depend on the statement id or the message type, so a camt.052
    line and the same line in the later camt.053 share it; a split detail's id
    is its entry's id + ``/n``, and ``entry_key`` is the entry's id either way.
    """
    seen = {}
    kept = []
    account = normalize_iban(stmt.account)
    groups = []  # [entry line, details]
    for line in stmt.lines:
        if line.detail_index == 0:
            groups.append((line, []))
        elif groups:
            groups[-1][1].append(line)
    for entry, details in groups:
        if entry.bank_ref and entry.bank_ref not in ("NONREF", "NOTPROVIDED"):
            key = f"{account}|{entry.bank_ref}"
        else:
            content = (
                account,
                entry.date,
                entry.value_date,
                entry.amount,
                entry.entry_ref,
                entry.end_to_end_id,
                entry.payment_ref,
                entry.counterparty_iban,
            )
            digest = hashlib.sha256("|".join(map(str, content)).encode()).hexdigest()[
                :24
            ]
            key = f"{account}|h:{digest}"
        n = seen.get(key, 0)
        seen[key] = n + 1
        entry_key = key if n == 0 else f"{key}#{n}"
        entry.import_id = entry.entry_key = entry_key
        for detail in details:
            detail.entry_key = entry_key
            detail.import_id = f"{entry_key}/{detail.detail_index}"
        # details that do not add up to their entry cannot replace it
        whole = sum((d.amount for d in details), Decimal(0)) == entry.amount
        if details and split_batches and whole:
            kept.extend(details)
        else:
            kept.append(entry)
    stmt.lines = kept
    return stmt
