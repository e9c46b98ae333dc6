"""Plain data returned by every parser: statements, balances and lines.

Amounts are ``Decimal`` with the sign of the booking (credit positive, debit
negative). Parsers never touch Odoo; the models turn this data into records.
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal


class StatementError(ValueError):
    """A refused file: names the file, where (line or XPath), the field and
    what was expected.

    >>> str(StatementError("a.sta", "line 4", ":60F:", "an opening balance"))
    'a.sta, line 4, :60F:: expected an opening balance'
    """

    def __init__(self, file, location, field_name, expected, found=None):
        self.file = file or "<file>"
        self.location = location or ""
        self.field = field_name or ""
        self.expected = expected
        self.found = found
        text = f"{self.file}, {self.location}, {self.field}: expected {expected}"
        if found is not None:
            text += f", found {found!r}"
        super().__init__(text)


@dataclass(slots=True)
class Balance:
    """``code``: OPBD, PRCD, CLBD, CLAV, ITBD, OPAV (ISO codes for every format)."""

    code: str
    amount: Decimal
    currency: str
    date: datetime.date | None = None


@dataclass(slots=True)
class Line:
    date: datetime.date
    amount: Decimal
    currency: str = ""
    value_date: datetime.date | None = None
    bank_ref: str = ""  # AcctSvcrRef, :61: bank reference, FITID
    entry_ref: str = ""  # NtryRef
    end_to_end_id: str = ""
    payment_ref: str = ""  # unstructured remittance / free text
    creditor_ref: str = ""  # structured creditor reference (RF, SCOR)
    counterparty_name: str = ""
    counterparty_iban: str = ""
    counterparty_bic: str = ""
    bank_code: str = ""  # PMNT/RCDT/BOOK, proprietary, MT940 N051, BAI type code
    charges: Decimal = Decimal(0)
    reversal: bool = False
    booked: bool = True
    batch_count: int = 1  # NbOfTxs of a batched entry kept whole
    detail_index: int = 0  # 0: whole entry; n: n-th detail of a split batch
    location: str = ""  # XPath or line number for messages
    import_id: str = ""
    entry_key: str = ""  # import id of the whole entry (same for split details)
    batch: bool = False  # a batched entry whose details follow it
    booking_text: str = ""
    counterparty_account: str = ""  # a non-IBAN account number
    counterparty_vat: str = ""  # tax id of the counterparty (camt TXID, CSV column)


@dataclass(slots=True)
class Statement:
    """One statement, report (camt.052, MT942) or notification (camt.054)."""

    kind: str  # camt.053, camt.052, camt.054, mt940, mt942, ofx, bai2, csv
    version: str = ""
    statement_id: str = ""
    sequence: str = ""  # ElctrncSeqNb, :28C: statement number
    account: str = ""  # IBAN or account number as the file has it
    currency: str = ""
    date: datetime.date | None = None
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    balances: list = field(default_factory=list)
    lines: list = field(default_factory=list)
    location: str = ""
    control_total: Decimal | None = None
    control_count: int | None = None
    info: str = ""

    def balance(self, *codes):
        """The first balance whose code is one of ``codes`` (in that order)."""
        for code in codes:
            for bal in self.balances:
                if bal.code == code:
                    return bal
        return None

    @property
    def opening(self):
        return self.balance("OPBD", "PRCD")

    @property
    def closing(self):
        return self.balance("CLBD")

    @property
    def available(self):
        return self.balance("CLAV", "ITAV")


def normalize_iban(value):
    """IBANs compared without spaces or case.

    >>> normalize_iban(" nl26 vayb 8060 4768 90")
    'NL26VAYB8060476890'
    """
    return "".join((value or "").split()).upper()


def normalize_vat(value):
    """VAT numbers compared without spaces, dots, dashes or case.

    >>> normalize_vat("be 0477.472.701")
    'BE0477472701'
    """
    return "".join(ch for ch in (value or "") if ch.isalnum()).upper()
