"""Avalara AvaTax REST v2 (shapes of ``shared/data/avatax/openapi.yaml``).

>>> e = AvaTaxEngine(account_id="1100", license_key="lk", company_code="ACME")
>>> e.commit("INV/2026/00001").url
'https://sandbox-rest.avatax.com/api/v2/companies/ACME/transactions/INV_-ava2f-_2026_-ava2f-_00001/commit?documentType=SalesInvoice&%24include=Lines'
>>> url_code("A+B/C?D#E%F G")
'A_-ava2b-_B_-ava2f-_C_-ava3f-_D_-ava23-_E_-ava25-_F%20G'
>>> e.ping().headers["Authorization"]
'Basic MTEwMDpsaw=='
>>> try:
...     e.classify(400, '{"error": {"code": "TransactionAlreadyExists"}}')
... except EngineError as err:
...     print(err.outcome, err)
already_exists TransactionAlreadyExists: {"error": {"code": "TransactionAlreadyExists"}}
>>> try:
...     e.classify(503, "")
... except EngineError as err:
...     print(err.outcome)
transient
"""

import base64
from datetime import date
from urllib.parse import quote, urlencode

from .engine import (
    ALREADY_EXISTS,
    AUTH,
    BUSINESS,
    LOCKED,
    TRANSIENT,
    Address,
    EngineError,
    LineResult,
    Request,
    TaxDetail,
    TaxEngine,
    TaxResult,
    register,
)
from .money import dumps, loads, to_decimal

SANDBOX_URL = "https://sandbox-rest.avatax.com"
PRODUCTION_URL = "https://rest.avatax.com"

TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: AvaTax error codes with their own outcome
CODE_OUTCOMES = {
    "TransactionAlreadyExists": ALREADY_EXISTS,
    "CannotModifyLockedTransaction": LOCKED,
    "AuthenticationException": AUTH,
    "AuthorizationException": AUTH,
}

CLIENT = "odoo-finance-integration; 18.0; Odoo; 1.0"

#: AvaTax's own escapes of company and transaction codes in URL paths (the
#: spec's note on every ``{transactionCode}`` path: a percent-encoded slash
#: does not reach it); ``%`` first, since the space becomes ``%20``
PATH_ESCAPES = (
    ("%", "_-ava25-_"),
    ("/", "_-ava2f-_"),
    ("+", "_-ava2b-_"),
    ("?", "_-ava3f-_"),
    ("#", "_-ava23-_"),
)


def url_code(code):
    """A company or transaction code as AvaTax wants it in a URL path."""
    for char, escape in PATH_ESCAPES:
        code = code.replace(char, escape)
    return quote(code, safe="")


@register
class AvaTaxEngine(TaxEngine):
    code = "avatax"
    name = "Avalara AvaTax"
    address_countries = frozenset({"US", "CA"})

    def __init__(
        self, account_id, license_key, company_code, environment="sandbox", url=None
    ):
        if not account_id or not license_key:
            raise ValueError("AvaTax needs an account id and a license key")
        if not company_code:
            raise ValueError("AvaTax needs a company code")
        self.company_code = company_code
        base = url or (PRODUCTION_URL if environment == "production" else SANDBOX_URL)
        self.base_url = base.rstrip("/")
        token = base64.b64encode(f"{account_id}:{license_key}".encode()).decode()
        self._headers = {
            "Authorization": f"Basic {token}",
            "Accept": "application/json",
            "X-Avalara-Client": CLIENT,
        }

    # -- requests -------------------------------------------------------
    def _request(self, method, path, body=None, query=None):
        url = self.base_url + path
        if query:
            url += "?" + urlencode(query)
        headers = dict(self._headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
            body = dumps(body)
        return Request(method, url, body, headers)

    def _company_path(self, code):
        return (
            f"/api/v2/companies/{url_code(self.company_code)}"
            f"/transactions/{url_code(code)}"
        )

    @staticmethod
    def _doc_type(is_return):
        return "ReturnInvoice" if is_return else "SalesInvoice"

    def ping(self):
        return self._request("GET", "/api/v2/utilities/ping")

    def transaction_model(self, document, commit=False):
        """The CreateTransactionModel of ``document`` (uncommitted unless
        ``commit``)."""
        model = {
            "type": self._doc_type(document.is_return),
            "code": document.code,
            "companyCode": self.company_code,
            "date": document.date,
            "customerCode": document.customer_code,
            "currencyCode": document.currency,
            "commit": commit,
            "addresses": {
                "shipFrom": address_info(document.ship_from),
                "shipTo": address_info(document.ship_to),
            },
            "lines": [
                {
                    "number": line.number,
                    "quantity": line.quantity,
                    "amount": line.amount,
                    "taxCode": line.tax_code or None,
                    "itemCode": line.item_code or None,
                    "description": (line.description or "")[:2048] or None,
                    "taxIncluded": line.tax_included,
                    "discounted": line.discounted,
                }
                for line in document.lines
            ],
        }
        if document.foreign:
            # CreateTransactionModel: the rate from the transaction currency
            # to the company's base currency, its date, and that currency
            if document.exchange_rate is None:
                raise ValueError(
                    f"document {document.code} in {document.currency}: no exchange "
                    f"rate to {document.company_currency}"
                )
            model["exchangeRate"] = document.exchange_rate
            model["exchangeRateEffectiveDate"] = document.exchange_date or document.date
            model["exchangeRateCurrencyCode"] = document.company_currency
        if document.exemption_no:
            model["exemptionNo"] = document.exemption_no
        if document.reference_code:
            model["referenceCode"] = document.reference_code
        if document.description:
            model["description"] = document.description[:2048]
        if document.is_return and document.tax_date:
            model["taxOverride"] = {
                "type": "TaxDate",
                "taxDate": document.tax_date,
                "reason": f"Return of {document.reference_code or 'invoice'}",
            }
        for line in model["lines"]:
            for key in [k for k, v in line.items() if v is None]:
                del line[key]
        return model

    def calculate(self, document, adjust=False, commit=False):
        model = self.transaction_model(document, commit=commit)
        if adjust:
            return self._request(
                "POST",
                "/api/v2/transactions/createoradjust",
                {
                    "adjustmentReason": "Other",
                    "adjustmentDescription": "Invoice edited and posted again",
                    "createTransactionModel": model,
                },
                {"$include": "Lines,Details"},
            )
        return self._request(
            "POST", "/api/v2/transactions/create", model, {"$include": "Lines,Details"}
        )

    def commit(self, code, is_return=False):
        # with its lines: the answer must prove it is this invoice's document
        return self._request(
            "POST",
            self._company_path(code) + "/commit",
            {"commit": True},
            {"documentType": self._doc_type(is_return), "$include": "Lines"},
        )

    def void(self, code, is_return=False):
        return self._request(
            "POST",
            self._company_path(code) + "/void",
            {"code": "DocVoided"},
            {"documentType": self._doc_type(is_return)},
        )

    def list_transactions(self, date_from, date_to, skip=0, top=1000):
        if isinstance(date_from, date):
            date_from, date_to = date_from.isoformat(), date_to.isoformat()
        return self._request(
            "GET",
            f"/api/v2/companies/{url_code(self.company_code)}/transactions",
            query={
                "$filter": f"date between '{date_from}' and '{date_to}'",
                "$top": str(top),
                "$skip": str(skip),
                "$include": "SummaryOnly",
            },
        )

    def resolve_address(self, address):
        return self._request(
            "POST", "/api/v2/addresses/resolve", address_info(address, True)
        )

    # -- answers --------------------------------------------------------
    def classify(self, status, body):
        """Raise :class:`EngineError` unless ``status`` is 2xx; return the
        parsed JSON document otherwise."""
        document = None
        try:
            document = loads(body) if body else {}
        except ValueError:
            if 200 <= status < 300:
                raise EngineError(
                    BUSINESS, f"AvaTax answered {status} with a non-JSON body"
                ) from None
        if 200 <= status < 300:
            return document
        error = (document or {}).get("error") if isinstance(document, dict) else None
        error = error if isinstance(error, dict) else {}
        code = error.get("code") or f"http_{status}"
        message = error.get("message") or (body or "")[:300]
        details = error.get("details") or []
        if details and isinstance(details[0], dict) and details[0].get("description"):
            message = f"{message} ({details[0]['description']})"
        if code in CODE_OUTCOMES:
            outcome = CODE_OUTCOMES[code]
        elif status in TRANSIENT_STATUSES:
            outcome = TRANSIENT
        elif status in (401, 403):
            outcome = AUTH
        else:
            outcome = BUSINESS
        raise EngineError(outcome, f"{code}: {message}", code=code, status=status)

    def parse_ping(self, status, body):
        document = self.classify(status, body)
        if not document.get("authenticated"):
            raise EngineError(
                AUTH, "AvaTax ping: the account id and license key were not accepted"
            )
        return (
            f"AvaTax {document.get('version', '?')}: authenticated as account "
            f"{document.get('authenticatedAccountId')} "
            f"({document.get('authenticationType')})"
        )

    def parse_transaction(self, status, body):
        return transaction_result(self.classify(status, body))

    def parse_list(self, status, body):
        document = self.classify(status, body)
        values = [transaction_result(item) for item in document.get("value") or []]
        return values, bool(document.get("@nextLink"))

    def parse_address(self, status, body):
        document = self.classify(status, body)
        validated = document.get("validatedAddresses") or []
        messages = [
            m.get("summary") or m.get("details") or ""
            for m in document.get("messages") or []
            if (m.get("severity") or "").lower() in ("error", "exception")
        ]
        if not validated or messages:
            return None, messages or ["the address could not be resolved"]
        best = validated[0]
        return (
            Address(
                line1=best.get("line1") or "",
                line2=best.get("line2") or "",
                city=best.get("city") or "",
                region=best.get("region") or "",
                postal_code=best.get("postalCode") or "",
                country=best.get("country") or "",
            ),
            [],
        )


def address_info(address, for_resolve=False):
    info = {
        "line1": address.line1 or "",
        "line2": address.line2 or "",
        "city": address.city or "",
        "region": address.region or "",
        "postalCode": address.postal_code or "",
        "country": address.country or "",
    }
    if for_resolve:
        info["textCase"] = "Mixed"
    return {k: v for k, v in info.items() if v}


def transaction_result(document):
    lines = []
    for line in document.get("lines") or []:
        lines.append(
            LineResult(
                number=str(line.get("lineNumber") or ""),
                tax=to_decimal(line.get("tax")),
                taxable=to_decimal(line.get("taxableAmount")),
                details=[
                    TaxDetail(
                        tax_name=d.get("taxName") or "",
                        tax_type=d.get("taxType") or "",
                        jurisdiction=d.get("jurisCode") or d.get("jurisName") or "",
                        rate=to_decimal(d.get("rate")),
                        tax=to_decimal(d.get("tax")),
                        taxable=to_decimal(d.get("taxableAmount")),
                    )
                    for d in line.get("details") or []
                ],
            )
        )
    return TaxResult(
        code=document.get("code") or "",
        status=document.get("status") or "",
        doc_type=document.get("type") or "",
        date=(document.get("date") or "")[:10],
        total_amount=to_decimal(document.get("totalAmount")),
        total_tax=to_decimal(document.get("totalTax")),
        lines=lines,
        locked=bool(document.get("locked")),
        engine_id=str(document.get("id") or ""),
        customer_code=document.get("customerCode") or "",
        currency=document.get("currencyCode") or "",
    )
