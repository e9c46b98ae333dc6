"""SWIFT MT940 (statement) and MT942 (interim report), several per file.

Written here rather than taken from the ``mt-940`` package: that package parses
with a chain of regular expressions and per-tag processors and returns floats in
places; on the bench's 100,000-entry file it is several times slower than this
single pass (see ``setup/bench_bank.py`` and the readme for the figures) and it
does not refuse a truncated file (a statement without ``:62F:`` is returned as
is). This parser reads the file line by line, keeps ``Decimal`` amounts, checks
every mandatory tag and reads ``:86:`` in the common dialects: the German
structured form (``?00``, ``?20``-``?29``, ``?30``-``?34``, ``?60``-``?63`` with
the SEPA keys ``EREF+``, ``KREF+``, ``SVWZ+``, ``IBAN+``...) and the Dutch slash form
(``/EREF/.../IBAN/.../NAME/.../REMI/...``); anything else is free text.
"""

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from .model import Balance, Line, Statement, StatementError, normalize_iban

TAG_RE = re.compile(r"^:(\d\d[A-Z]?):")
LINE61_RE = re.compile(
    r"^(?P<vdate>\d{6})(?P<edate>\d{4})?(?P<dc>R?[DC])(?P<fund>[A-Z])?"
    r"(?P<amount>\d[\d,]{0,14})(?P<type>[NFS][A-Z0-9]{3})(?P<ref>[^/\n]{0,16}|NONREF)"
    r"(?://(?P<bankref>[^\n]{0,16}))?(?:\n(?P<supp>.*))?$",
    re.S,
)
BAL_RE = re.compile(
    r"^(?P<dc>[DC])(?P<date>\d{6})(?P<ccy>[A-Z]{3})(?P<amount>\d[\d,]*)$"
)
SEPA_KEYS = (
    "EREF+",
    "KREF+",
    "MREF+",
    "CRED+",
    "DEBT+",
    "SVWZ+",
    "ABWA+",
    "ABWE+",
    "IBAN+",
    "BIC+",
)
SEPA_KEY_RE = re.compile(r"(EREF|KREF|MREF|CRED|DEBT|SVWZ|ABWA|ABWE|IBAN|BIC)\+")
SLASH_RE = re.compile(
    r"/(TRTP|IBAN|BIC|NAME|REMI|EREF|MARF|CSID|ORDP|BENM|ID|PREF|ADDR|RTRN|CDTRREF|CDTRREFTP)/"
)
RF_RE = re.compile(r"\bRF\d{2}[0-9A-Z]{1,21}\b")


def _amount(text, filename, where, tag):
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation:
        raise StatementError(
            filename, where, tag, "an amount like 1234,56", text
        ) from None


def _yymmdd(text, filename, where, tag):
    try:
        year = int(text[:2])
        return date(
            2000 + year if year < 80 else 1900 + year, int(text[2:4]), int(text[4:6])
        )
    except ValueError:
        raise StatementError(filename, where, tag, "a date YYMMDD", text) from None


def _lines(text):
    pos, end = 0, len(text)
    while pos < end:
        stop = text.find("\n", pos)
        if stop < 0:
            stop = end
        yield text[pos:stop].rstrip("\r")
        pos = stop + 1


def _fields(text):
    """(line number, tag, value) of each field; continuation lines joined with \\n."""
    tag = None
    value = []
    start = 0
    # line by line, no list of all lines (nor a StringIO copy) in memory
    for number, line in enumerate(_lines(text), 1):
        match = TAG_RE.match(line)
        if match:
            if tag:
                yield start, tag, "\n".join(value)
            tag, value, start = match.group(1), [line[match.end() :]], number
        elif line.startswith("-") and line.strip() in ("-", "-}"):
            if tag:
                yield start, tag, "\n".join(value)
            tag, value = None, []
            yield number, "-", ""
        elif tag:
            value.append(line)
        elif line.startswith("{") and ":20:" in line:
            # header blocks {1:..}{2:..}{4: with the first tag on the same line
            rest = line[line.index(":20:") :]
            tag, value, start = "20", [rest[4:]], number
    if tag:
        yield start, tag, "\n".join(value)


def parse(data, filename="<file>"):
    """Every statement of an MT940/MT942 file.

    >>> text = (":20:REF\\n:25:NL91ABNA0417164300\\n:28C:1/1\\n:60F:C240101EUR100,00\\n"
    ...         ":61:2401020102C25,50NTRFNONREF//B1\\n:86:Invoice INV/2024/0001\\n"
    ...         ":62F:C240102EUR125,50\\n-")
    >>> [(s.account, s.sequence, s.lines[0].amount) for s in parse(text.encode())]
    [('NL91ABNA0417164300', '1/1', Decimal('25.50'))]
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
    else:
        text = data
    statements = []
    stmt = None
    last_line = None
    kind = "mt940"
    number = 0
    for number, tag, value in _fields(text):
        where = f"line {number}"
        if tag == "20":
            if stmt is not None:
                _close(stmt, filename, where)
                statements.append(stmt)
            stmt = Statement(kind=kind, statement_id=value.strip(), location=where)
            last_line = None
            continue
        if tag == "-":
            if stmt is not None:
                _close(stmt, filename, where)
                statements.append(stmt)
            stmt, last_line = None, None
            continue
        if stmt is None:
            raise StatementError(
                filename, where, f":{tag}:", "a statement starting with :20:"
            )
        if tag == "25":
            account = value.strip()
            stmt.account = normalize_iban(
                account.split("/")[-1] if "/" in account else account
            )
            ccy = re.search(r"([A-Z]{3})$", stmt.account)
            if ccy and not stmt.account[:2].isalpha() and len(stmt.account) > 3:
                stmt.currency = ccy.group(1)
        elif tag in ("28C", "28"):
            stmt.sequence = value.strip()
        elif tag in ("60F", "60M", "62F", "62M", "64", "65"):
            match = BAL_RE.match(value.strip())
            if not match:
                raise StatementError(
                    filename, where, f":{tag}:", "D|C, YYMMDD, currency, amount", value
                )
            amount = _amount(match["amount"], filename, where, f":{tag}:")
            if match["dc"] == "D":
                amount = -amount
            code = {
                "60F": "OPBD",
                "60M": "PRCD",
                "62F": "CLBD",
                "62M": "CLBD",
                "64": "CLAV",
                "65": "FWAV",
            }[tag]
            bal_date = _yymmdd(match["date"], filename, where, f":{tag}:")
            stmt.balances.append(Balance(code, amount, match["ccy"], bal_date))
            stmt.currency = stmt.currency or match["ccy"]
            if code == "CLBD":
                stmt.date = bal_date
        elif tag in ("13", "13D"):
            kind = stmt.kind = "mt942"
            stmt.date = _yymmdd(value.strip()[:6], filename, where, f":{tag}:")
        elif tag in ("34F", "90D", "90C"):
            stmt.kind = kind = "mt942"
        elif tag == "61":
            last_line = _line61(value, filename, where, stmt)
            stmt.lines.append(last_line)
        elif tag == "86":
            if last_line is not None:
                _info86(value, last_line)
                last_line = None
            else:
                stmt.info = value  # statement-level information
    if stmt is not None:
        _close(stmt, filename, f"line {number}")
        statements.append(stmt)
    if not statements:
        raise StatementError(filename, "line 1", ":20:", "at least one MT940 statement")
    return statements


def _line61(value, filename, where, stmt):
    match = LINE61_RE.match(value)
    if not match:
        raise StatementError(
            filename,
            where,
            ":61:",
            "YYMMDD[MMDD](R)D|C amount type reference[//bank ref]",
            value,
        )
    vdate = _yymmdd(match["vdate"], filename, where, ":61:")
    edate = vdate
    if match["edate"]:
        month, day = int(match["edate"][:2]), int(match["edate"][2:])
        year = vdate.year
        if month == 12 and vdate.month == 1:
            year -= 1
        elif month == 1 and vdate.month == 12:
            year += 1
        try:
            edate = date(year, month, day)
        except ValueError:
            raise StatementError(
                filename, where, ":61:", "an entry date MMDD", match["edate"]
            ) from None
    amount = _amount(match["amount"], filename, where, ":61:")
    dc = match["dc"]
    # D debit, C credit, RC reversal of a credit (a debit), RD reversal of a debit
    if dc in ("D", "RC"):
        amount = -amount
    ref = (match["ref"] or "").strip()
    return Line(
        date=edate,
        value_date=vdate,
        amount=amount,
        currency=stmt.currency,
        bank_ref=(match["bankref"] or "").strip(),
        entry_ref="" if ref == "NONREF" else ref,
        bank_code=match["type"],
        reversal=dc.startswith("R"),
        payment_ref=(match["supp"] or "").strip(),
        location=where,
    )


def _info86(value, line):
    text = value.replace("\n", "")
    if "?" in text[:6] and re.match(r"^\d{3}\?", text):
        _german86(text, line)
    elif SLASH_RE.search(text):
        _slash86(text, line)
    else:
        line.payment_ref = " ".join(
            x for x in (line.payment_ref, value.replace("\n", " ").strip()) if x
        )
    if not line.creditor_ref:
        rf = RF_RE.search(line.payment_ref.replace(" ", ""))
        if rf:
            line.creditor_ref = rf.group(0)


def _german86(text, line):
    line.bank_code = f"{line.bank_code}/{text[:3]}"
    parts = {}
    for chunk in text[3:].split("?")[1:]:
        key, val = chunk[:2], chunk[2:]
        parts.setdefault(key, []).append(val)
    purpose = "".join(
        v
        for k in sorted(parts)
        if "20" <= k <= "29" or "60" <= k <= "63"
        for v in parts[k]
    )
    name = "".join(parts.get("32", []) + parts.get("33", []))
    account = "".join(parts.get("31", []))
    line.counterparty_name = name.strip()
    if account[:2].isalpha():
        line.counterparty_iban = normalize_iban(account)
    elif account:
        line.counterparty_account = account.strip()
    if parts.get("30"):
        line.counterparty_bic = parts["30"][0].strip()
    keyed = SEPA_KEY_RE.split(purpose)
    if len(keyed) > 1:
        values = dict(zip(keyed[1::2], (v.strip() for v in keyed[2::2]), strict=False))
        line.end_to_end_id = (
            values.get("EREF", "") if values.get("EREF") != "NOTPROVIDED" else ""
        )
        line.payment_ref = values.get("SVWZ", "") or keyed[0].strip()
        if values.get("IBAN"):
            line.counterparty_iban = normalize_iban(values["IBAN"])
        if values.get("BIC"):
            line.counterparty_bic = values["BIC"]
    else:
        line.payment_ref = purpose.strip()
    line.booking_text = "".join(parts.get("00", []))


def _slash86(text, line):
    pieces = SLASH_RE.split(text)
    values = {}
    for key, val in zip(pieces[1::2], pieces[2::2], strict=False):
        values[key] = val.strip().strip("/")
    line.end_to_end_id = (
        values.get("EREF", "") if values.get("EREF") != "NOTPROVIDED" else ""
    )
    line.counterparty_iban = normalize_iban(values.get("IBAN", ""))
    line.counterparty_bic = values.get("BIC", "")
    line.counterparty_name = values.get("NAME", "")
    remi = values.get("REMI", "")
    if remi.startswith("STRD/CUR/") or "CDTRREF" in values:
        line.creditor_ref = values.get("CDTRREF") or remi.rsplit("/", 1)[-1]
    line.payment_ref = remi.replace("USTD//", "").strip()


def _close(stmt, filename, where):
    """Mandatory tags of a complete statement: a truncated file is refused here."""
    if not stmt.account:
        raise StatementError(filename, where, ":25:", "the account identification")
    if stmt.kind == "mt940":
        if not stmt.opening:
            raise StatementError(filename, where, ":60F:", "an opening balance")
        if not stmt.closing:
            raise StatementError(
                filename, where, ":62F:", "a closing balance (file truncated?)"
            )
    for line in stmt.lines:
        line.currency = line.currency or stmt.currency
