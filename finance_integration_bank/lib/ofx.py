"""OFX 1.x (SGML) and 2.x (XML) bank statements, read with ``ofxparse``.

``ofxparse`` is already an Odoo dependency and keeps amounts as ``Decimal``; this
module only maps its result and reads the balances for what they mean:
``LEDGERBAL`` is the *closing* booked balance at ``DTASOF`` (the opening
balance is derived: closing - sum of the lines), ``AVAILBAL`` the available one.
"""

import io
import warnings
from decimal import Decimal

from .model import Balance, Line, Statement, StatementError, normalize_iban


def parse(data, filename="<file>"):
    import ofxparse  # imported here: the parsers of the other formats do not need it

    if b"<!ENTITY" in data[:65536].upper():
        raise StatementError(
            filename, "line 1", "ENTITY", "no entity declaration (refused)"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # bs4 warns that OFX 2 is XML read as HTML
            ofx = ofxparse.OfxParser.parse(io.BytesIO(data))
    except Exception as err:  # ofxparse raises bare exceptions of several kinds
        raise StatementError(
            filename, "OFX", "STMTRS", "a readable OFX statement", str(err)
        ) from None
    accounts = getattr(ofx, "accounts", None) or []
    statements = []
    for index, account in enumerate(accounts, 1):
        st = account.statement
        if st is None:
            raise StatementError(
                filename, f"STMTRS[{index}]", "BANKTRANLIST", "a statement"
            )
        currency = (getattr(st, "currency", "") or "").upper()
        number = normalize_iban(
            getattr(account, "account_id", "") or getattr(account, "number", "")
        )
        stmt = Statement(
            kind="ofx",
            version=getattr(ofx, "header", {}).get("VERSION", "")
            if isinstance(getattr(ofx, "header", None), dict)
            else "",
            account=number,
            currency=currency,
            location=f"STMTRS[{index}]",
        )
        stmt.date_from = (
            st.start_date.date() if getattr(st, "start_date", None) else None
        )
        stmt.date_to = st.end_date.date() if getattr(st, "end_date", None) else None
        total = Decimal(0)
        for n, tx in enumerate(st.transactions, 1):
            amount = Decimal(tx.amount)
            total += amount
            stmt.lines.append(
                Line(
                    date=tx.date.date(),
                    amount=amount,
                    currency=currency,
                    bank_ref=(tx.id or "").strip(),
                    entry_ref=(getattr(tx, "checknum", "") or "").strip(),
                    payment_ref=" ".join(
                        x
                        for x in ((tx.payee or "").strip(), (tx.memo or "").strip())
                        if x
                    ),
                    counterparty_name=(tx.payee or "").strip(),
                    bank_code=(tx.type or "").upper(),
                    location=f"STMTRS[{index}]/BANKTRANLIST/STMTTRN[{n}]",
                )
            )
        if getattr(st, "balance", None) is not None:
            when = (
                st.balance_date.date()
                if getattr(st, "balance_date", None)
                else stmt.date_to
            )
            closing = Decimal(st.balance)
            stmt.balances.append(Balance("CLBD", closing, currency, when))
            stmt.balances.append(
                Balance("OPBD", closing - total, currency, stmt.date_from)
            )
            stmt.date = when
        if getattr(st, "available_balance", None) is not None:
            when = (
                st.available_balance_date.date()
                if getattr(st, "available_balance_date", None)
                else stmt.date
            )
            stmt.balances.append(
                Balance("CLAV", Decimal(st.available_balance), currency, when)
            )
        stmt.statement_id = f"{number}:{stmt.date_from}:{stmt.date_to}"
        statements.append(stmt)
    if not statements:
        raise StatementError(filename, "OFX", "STMTRS", "at least one bank statement")
    return statements
