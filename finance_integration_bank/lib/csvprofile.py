"""CSV statements through a saved profile.

A profile is a plain dict (the journal's CSV profile record turns itself into
one)::

    {"delimiter": ";", "encoding": "utf-8", "skip_rows": 1,
     "date_format": "%d.%m.%Y", "decimal": ",", "thousands": ".",
     "columns": {"date": 0, "amount": 3, "payment_ref": 2, "counterparty_name": 1,
                 "counterparty_iban": 4, "bank_ref": 5, "value_date": None,
                 "debit": None, "credit": None, "currency": None},
     "account": "NL91ABNA0417164300", "currency": "EUR",
     "opening_balance": None, "closing_balance": None}

Either ``amount`` (signed) or ``debit``/``credit`` columns. Column values are
indexes (0-based) or header names.
"""

import csv
import io
from datetime import datetime
from decimal import Decimal, InvalidOperation

from .model import (
    Balance,
    Line,
    Statement,
    StatementError,
    normalize_iban,
    normalize_vat,
)

TEXT_COLUMNS = (
    "payment_ref",
    "counterparty_name",
    "counterparty_iban",
    "bank_ref",
    "end_to_end_id",
    "creditor_ref",
    "counterparty_vat",
)


def _decimal(value, profile, filename, where, column):
    text = (value or "").strip().replace("\u00a0", "").replace(" ", "")
    if not text:
        return Decimal(0)
    if profile.get("thousands"):
        text = text.replace(profile["thousands"], "")
    if profile.get("decimal", ".") != ".":
        text = text.replace(profile["decimal"], ".")
    negative = text.startswith("(") and text.endswith(")")
    text = text.strip("()")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise StatementError(
            filename,
            where,
            column,
            f"an amount with decimal mark {profile.get('decimal', '.')!r}",
            value,
        ) from None
    return -amount if negative else amount


def rows(data, profile, filename="<file>", limit=None):
    """(line number, cells) after the skipped header rows, for the preview."""
    try:
        text = data.decode(profile.get("encoding") or "utf-8-sig")
    except (UnicodeDecodeError, LookupError) as err:
        raise StatementError(
            filename, "line 1", "encoding", profile.get("encoding") or "utf-8", str(err)
        ) from None
    reader = csv.reader(
        io.StringIO(text),
        delimiter=profile.get("delimiter") or ",",
        quotechar=profile.get("quotechar") or '"',
    )
    skip = int(profile.get("skip_rows") or 0)
    header = None
    out = []
    for number, cells in enumerate(reader, 1):
        if number <= skip:
            header = cells
            continue
        if not any(c.strip() for c in cells):
            continue
        out.append((number, cells))
        if limit and len(out) >= limit:
            break
    return header, out


def parse(data, profile, filename="<file>"):
    header, body = rows(data, profile, filename)
    cols = dict(profile.get("columns") or {})

    def index(name):
        col = cols.get(name)
        if col is None or col == "":
            return None
        if isinstance(col, int) or str(col).isdigit():
            return int(col)
        if header and col in header:
            return header.index(col)
        raise StatementError(
            filename,
            f"line {profile.get('skip_rows') or 1}",
            name,
            f"a header column {col!r}",
        )

    idx = {
        name: index(name)
        for name in (
            "date",
            "value_date",
            "amount",
            "debit",
            "credit",
            "currency",
            *TEXT_COLUMNS,
        )
    }
    if idx["date"] is None or (
        idx["amount"] is None and idx["debit"] is None and idx["credit"] is None
    ):
        raise StatementError(
            filename,
            "profile",
            "columns",
            "a date column and an amount or debit/credit columns",
        )
    fmt = profile.get("date_format") or "%Y-%m-%d"
    stmt = Statement(
        kind="csv",
        account=normalize_iban(profile.get("account", "")),
        currency=profile.get("currency", ""),
    )
    for number, cells in body:
        where = f"line {number}"

        def cell(name, cells=cells, where=where):
            i = idx[name]
            if i is None:
                return ""
            if i >= len(cells):
                raise StatementError(
                    filename,
                    where,
                    name,
                    f"a value in column {i + 1}",
                    f"{len(cells)} columns",
                )
            return cells[i].strip()

        try:
            when = datetime.strptime(cell("date"), fmt).date()
            vdate = (
                datetime.strptime(cell("value_date"), fmt).date()
                if cell("value_date")
                else None
            )
        except ValueError as err:
            raise StatementError(
                filename, where, "date", f"a date as {fmt}", str(err)
            ) from None
        if idx["amount"] is not None:
            amount = _decimal(cell("amount"), profile, filename, where, "amount")
        else:
            amount = _decimal(cell("credit"), profile, filename, where, "credit") - abs(
                _decimal(cell("debit"), profile, filename, where, "debit")
            )
        line = Line(
            date=when,
            value_date=vdate,
            amount=amount,
            currency=cell("currency") or stmt.currency,
            location=where,
        )
        for name in TEXT_COLUMNS:
            setattr(line, name, cell(name))
        line.counterparty_iban = normalize_iban(line.counterparty_iban)
        line.counterparty_vat = normalize_vat(line.counterparty_vat)
        stmt.lines.append(line)
    if not stmt.lines:
        raise StatementError(filename, "line 1", "rows", "at least one transaction row")
    stmt.date_from = min(line.date for line in stmt.lines)
    stmt.date_to = stmt.date = max(line.date for line in stmt.lines)
    stmt.statement_id = f"csv:{stmt.date_from}:{stmt.date_to}"
    for key, code, when in (
        ("opening_balance", "OPBD", stmt.date_from),
        ("closing_balance", "CLBD", stmt.date_to),
    ):
        if profile.get(key) not in (None, ""):
            stmt.balances.append(
                Balance(code, Decimal(str(profile[key])), stmt.currency, when)
            )
    return [stmt]
