"""The tax engine adapter: what Odoo asks of any tax engine, engine-neutral.

A concrete engine (``avatax.AvaTaxEngine``) builds :class:`Request` objects
and parses answers into :class:`TaxResult`; it never sends anything itself:
the Odoo side sends each request through the endpoint's one HTTP method
(``fi.endpoint._fi_request``). Adding an engine is one subclass of
:class:`TaxEngine` registered in :data:`ENGINES`.
"""

from dataclasses import dataclass, field
from decimal import Decimal

#: outcomes of an engine answer
OK = "ok"
TRANSIENT = "transient"  # retry: timeout, 5xx, 429, circuit open
BUSINESS = "business"  # finance must look: bad request, unknown code
AUTH = "auth"  # credentials refused: fix the endpoint
ALREADY_EXISTS = "already_exists"  # the document code is taken (committed)
LOCKED = "locked"  # already reported on a return: credit-note way only


class EngineError(Exception):
    """A classified engine failure; ``outcome`` is one of the constants above."""

    def __init__(self, outcome, message, code=None, status=None):
        super().__init__(message)
        self.outcome = outcome
        self.code = code
        self.status = status

    @property
    def transient(self):
        return self.outcome == TRANSIENT


@dataclass
class Request:
    method: str
    url: str
    body: bytes | None = None
    headers: dict = field(default_factory=dict)


@dataclass
class Address:
    line1: str = ""
    line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""

    def as_key(self):
        return (self.line1, self.line2, self.city, self.region, self.postal_code)


@dataclass
class DocumentLine:
    number: str
    amount: Decimal  # line total before tax, after discount (invoice currency)
    quantity: Decimal = Decimal(1)
    item_code: str = ""
    tax_code: str = ""
    description: str = ""
    tax_included: bool = False
    discounted: bool = False


@dataclass
class TaxDocument:
    """One invoice or credit note as the engine sees it."""

    code: str
    date: str  # ISO date of the document
    customer_code: str
    currency: str
    lines: list
    ship_from: Address
    ship_to: Address
    is_return: bool = False
    tax_date: str | None = None  # credit note: the original invoice's tax date
    exemption_no: str = ""
    reference_code: str = ""  # credit note: the original invoice number
    description: str = ""
    #: foreign-currency document: the company's (reporting) currency, and how
    #: many units of it one unit of ``currency`` is worth on ``exchange_date``
    company_currency: str = ""
    exchange_rate: Decimal | None = None
    exchange_date: str | None = None

    @property
    def foreign(self):
        return bool(self.company_currency) and self.company_currency != self.currency


@dataclass
class TaxDetail:
    tax_name: str
    tax_type: str
    jurisdiction: str
    rate: Decimal
    tax: Decimal
    taxable: Decimal


@dataclass
class LineResult:
    number: str
    tax: Decimal
    taxable: Decimal
    details: list = field(default_factory=list)


@dataclass
class TaxResult:
    code: str
    status: str
    doc_type: str
    date: str
    total_amount: Decimal
    total_tax: Decimal
    lines: list = field(default_factory=list)
    locked: bool = False
    engine_id: str = ""
    customer_code: str = ""
    currency: str = ""  # the currency the engine's amounts are in

    def check_currency(self, expected):
        """Raise unless the engine answered in ``expected`` (the document's
        currency): amounts in another currency are never booked.

        >>> result = TaxResult("A", "Saved", "SalesInvoice", "", 0, 0, currency="EUR")
        >>> result.check_currency("EUR") is result
        True
        >>> try:
        ...     result.check_currency("USD")
        ... except EngineError as err:
        ...     print(err.outcome, err)
        business the engine answered document A in EUR, not in its currency USD
        """
        if self.currency and expected and self.currency != expected:
            raise EngineError(
                BUSINESS,
                f"the engine answered document {self.code} in {self.currency}, "
                f"not in its currency {expected}",
                code="currency_mismatch",
            )
        return self


class TaxEngine:
    """Base class: request building and answer parsing of one engine."""

    code = None
    name = None
    #: countries whose addresses the engine validates (ISO 3166 alpha-2)
    address_countries = frozenset()

    def ping(self):  # -> Request
        raise NotImplementedError

    def parse_ping(self, status, body):  # -> str (one-line summary)
        raise NotImplementedError

    def calculate(self, document, adjust=False, commit=False):  # -> Request
        raise NotImplementedError

    def commit(self, code, is_return=False):  # -> Request
        raise NotImplementedError

    def void(self, code, is_return=False):  # -> Request
        raise NotImplementedError

    def list_transactions(self, date_from, date_to, skip=0, top=1000):
        raise NotImplementedError

    def resolve_address(self, address):  # -> Request
        raise NotImplementedError

    def parse_transaction(self, status, body):  # -> TaxResult
        raise NotImplementedError

    def parse_list(self, status, body):  # -> (list[TaxResult], has_more)
        raise NotImplementedError

    def parse_address(self, status, body):  # -> (Address, list[str] messages)
        raise NotImplementedError

    def supports_address(self, country_code):
        return (country_code or "").upper() in self.address_countries


def same_document(result, document):
    """True when the engine's ``result`` is the calculation of ``document``:
    the same customer and, when the answer lists its lines, the same line
    numbers (Odoo's line ids: no two invoices share one).

    >>> doc = TaxDocument("INV/1", "2026-03-02", "C1", "USD",
    ...                   [DocumentLine("7", Decimal(1))], Address(), Address())
    >>> answer = TaxResult("INV/1", "Committed", "SalesInvoice", "", 1, 0,
    ...                    lines=[LineResult("7", 0, 1)], customer_code="C1")
    >>> same_document(answer, doc)
    True
    >>> answer.lines = [LineResult("9", 0, 1)]
    >>> same_document(answer, doc)
    False
    """
    if result.customer_code and result.customer_code != document.customer_code:
        return False
    if result.lines:
        return {line.number for line in result.lines} == {
            line.number for line in document.lines
        }
    return True


ENGINES = {}


def register(cls):
    """Class decorator: make an engine available under its ``code``."""
    ENGINES[cls.code] = cls
    return cls


def engine_for(code, **settings):
    try:
        return ENGINES[code](**settings)
    except KeyError:
        raise ValueError(
            f"unknown tax engine {code!r}: known are {sorted(ENGINES)}"
        ) from None
