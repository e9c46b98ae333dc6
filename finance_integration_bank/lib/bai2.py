"""BAI2 (Cash Management Balance Reporting) with its control totals.

Records 01 file header, 02 group, 03 account (balances as type codes: 010
opening ledger, 015 closing ledger, 045 closing available, 040 opening
available), 16 transaction detail, 88 continuation, 49 account trailer (control
total and record count), 98 group trailer, 99 file trailer. Amounts are in
minor units without a decimal point; a ``/`` ends a record. No library: none on
PyPI is kept up to date for BAI2 with trailer checks.
"""

from datetime import date
from decimal import Decimal

from .model import Balance, Line, Statement, StatementError

BALANCE_CODES = {"010": "OPBD", "015": "CLBD", "040": "OPAV", "045": "CLAV"}


def _records(text):
    """(line number, fields) of each logical record, 88 continuations joined."""
    current = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        line = line[:-1] if line.endswith("/") else line
        fields = line.split(",")
        if fields[0] == "88" and current is not None:
            current[1].extend(fields[1:])
            continue
        if current is not None:
            yield current
        current = (number, fields)
    if current is not None:
        yield current


def _minor(value, filename, where, field_name):
    value = value.strip()
    if not value:
        return 0
    if not value.lstrip("+-").isdigit():
        raise StatementError(
            filename, where, field_name, "an amount in minor units", value
        )
    return int(value)


def _date(value, filename, where):
    try:
        return date(2000 + int(value[:2]), int(value[2:4]), int(value[4:6]))
    except (ValueError, IndexError):
        raise StatementError(filename, where, "date", "YYMMDD", value) from None


def parse(data, filename="<file>"):
    text = data.decode("latin-1") if isinstance(data, bytes) else data
    statements = []
    stmt = None
    file_total = group_total = 0
    group_date = None
    currency = ""
    records = 0
    account_records = 0
    seen_trailer = False
    for number, fields in _records(text):
        where = f"line {number}"
        code = fields[0]
        records += 1
        account_records += 1
        if code == "01":
            records = 1
        elif code == "02":
            group_total = 0
            group_date = _date(fields[4] if len(fields) > 4 else "", filename, where)
            currency = fields[6].strip() if len(fields) > 6 else ""
        elif code == "03":
            account_records = 1
            stmt = Statement(
                kind="bai2",
                account=fields[1].strip(),
                currency=(fields[2].strip() or currency),
                date=group_date,
                location=where,
            )
            stmt.statement_id = f"{stmt.account}:{group_date}"
            rest = fields[3:]
            for i in range(0, len(rest) - 1, 4):
                type_code = rest[i].strip()
                if type_code in BALANCE_CODES and rest[i + 1].strip():
                    amount = (
                        Decimal(_minor(rest[i + 1], filename, where, type_code)) / 100
                    )
                    stmt.balances.append(
                        Balance(
                            BALANCE_CODES[type_code], amount, stmt.currency, group_date
                        )
                    )
        elif code == "16":
            if stmt is None:
                raise StatementError(
                    filename, where, "16", "an account record 03 before details"
                )
            type_code = fields[1].strip()
            minor = _minor(fields[2], filename, where, "amount")
            amount = Decimal(minor) / 100
            if type_code and "400" <= type_code <= "699":
                amount = -amount
            # funds type 0/Z/V/S/D decide how many fields follow before the refs
            funds = fields[3].strip() if len(fields) > 3 else ""
            idx = 4 + {
                "S": 3,
                "V": 2,
                "D": 1 + 2 * int(fields[4] or 0)
                if funds == "D" and len(fields) > 4
                else 0,
            }.get(funds, 0)
            bank_ref = fields[idx].strip() if len(fields) > idx else ""
            cust_ref = fields[idx + 1].strip() if len(fields) > idx + 1 else ""
            text_ = ",".join(fields[idx + 2 :]).strip() if len(fields) > idx + 2 else ""
            stmt.lines.append(
                Line(
                    date=group_date,
                    amount=amount,
                    currency=stmt.currency,
                    bank_ref=bank_ref,
                    entry_ref=cust_ref,
                    bank_code=type_code,
                    payment_ref=text_,
                    location=where,
                )
            )
        elif code == "49":
            if stmt is None:
                raise StatementError(filename, where, "49", "an account record 03")
            control = _minor(fields[1], filename, where, "account control total")
            count = _minor(fields[2], filename, where, "number of records")
            bal_total = sum(int(b.amount * 100) for b in stmt.balances)
            computed = bal_total + sum(
                int(abs(line.amount) * 100) for line in stmt.lines
            )
            if control != computed:
                raise StatementError(
                    filename,
                    where,
                    "49 account control total",
                    f"{computed} (sum of 03 and 16 amounts)",
                    control,
                )
            if count != account_records:
                raise StatementError(
                    filename, where, "49 number of records", str(account_records), count
                )
            stmt.control_total = Decimal(control) / 100
            stmt.control_count = count
            group_total += control
            statements.append(stmt)
            stmt = None
        elif code == "98":
            control = _minor(fields[1], filename, where, "group control total")
            if control != group_total:
                raise StatementError(
                    filename, where, "98 group control total", str(group_total), control
                )
            file_total += group_total
        elif code == "99":
            control = _minor(fields[1], filename, where, "file control total")
            if control != file_total:
                raise StatementError(
                    filename, where, "99 file control total", str(file_total), control
                )
            seen_trailer = True
    if stmt is not None or not seen_trailer:
        raise StatementError(
            filename, "end of file", "99", "a file trailer record (file truncated?)"
        )
    if not statements:
        raise StatementError(filename, "line 1", "03", "at least one account")
    return statements
