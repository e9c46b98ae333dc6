"""A payout's balance transactions folded into one settlement entry.

The transactions stream in (pages of 100); the settlement keeps one running
total per account and fee kind, never the transactions themselves, so its
memory does not grow with the payout. Amounts stay integers in the payout
currency's minor unit until the entry is built.

>>> s = Settlement("po_1", "eur")
>>> s.add({"id": "txn_1", "type": "charge", "reporting_category": "charge",
...        "amount": 1000, "fee": 59, "net": 941, "currency": "eur",
...        "fee_details": [{"amount": 59, "type": "stripe_fee"}]}, "clearing")
>>> s.add({"id": "txn_2", "type": "refund", "reporting_category": "refund",
...        "amount": -300, "fee": 0, "net": -300, "currency": "eur",
...        "fee_details": []}, "clearing")
>>> sorted(s.totals.items()), s.net_total, s.variance(641)
([(('account', 'clearing'), -700), (('fee', 'stripe_fee'), 59)], 641, 0)
"""

from decimal import ROUND_HALF_UP, Decimal

from .money import decimal_to_minor, exponent, minor_to_decimal

#: balance-transaction types that are the payout itself, not its content
PAYOUT_TYPES = frozenset({"payout", "payout_cancel", "payout_failure"})


class SettlementError(ValueError):
    """A balance transaction that cannot be settled as it is."""


def category_of(txn):
    """The value-map code of a balance transaction: reporting category first.

    >>> category_of({"type": "stripe_fee", "reporting_category": "fee"})
    'fee'
    >>> category_of({"type": "adjustment"})
    'adjustment'
    """
    return txn.get("reporting_category") or txn.get("type")


class Settlement:
    """Running totals of one payout: ``totals[(kind, key)]`` in minor units,
    positive = debit, negative = credit."""

    def __init__(self, payout_id, currency):
        self.payout_id = payout_id
        self.currency = currency.lower()
        self.totals = {}
        self.net_total = 0
        self.count = 0
        self.fx_count = 0
        #: ``(account_key, currency) -> [amount_minor, company_minor]``: what a
        #: foreign-currency transaction takes off ``account_key``, in the
        #: currency and at the company amount Odoo booked it
        self.foreign = {}
        #: payout-currency gross of those transactions, what Stripe settled
        self.fx_settled = 0
        #: company-currency amount Odoo booked for them
        self.fx_booked = 0

    def _book(self, kind, key, amount):
        if amount:
            self.totals[(kind, key)] = self.totals.get((kind, key), 0) + amount

    def is_payout_itself(self, txn):
        return txn.get("type") in PAYOUT_TYPES and txn.get("source") == self.payout_id

    def add(self, txn, account_key, prebooked=False, booked=None):
        """Fold one balance transaction in: its gross ``amount`` credited to
        ``account_key`` (the account its category maps to), each fee of
        ``fee_details`` debited to its kind, its ``net`` to the payout.

        ``prebooked``: the transaction's amount and fees were already booked
        against ``account_key`` (a dispute entry): only its net moves from
        there to the payout.

        >>> s = Settlement("po_1", "usd")
        >>> s.add({"id": "t", "amount": -1000, "fee": 1500, "net": -2500,
        ...        "currency": "usd", "fee_details": [{"amount": 1500}]},
        ...       "clearing", prebooked=True)
        >>> s.totals, s.net_total
        ({('account', 'clearing'): 2500}, -2500)

        ``booked``: ``(currency, amount_minor, company_minor)``, how Odoo booked
        the source of a transaction Stripe converted (``exchange_rate``) on
        ``account_key`` (a EUR payment on the clearing account, debit
        positive). It comes off that account as booked; the difference with
        what Stripe settled is the FX difference (``fx_difference``).

        >>> s = Settlement("po_2", "usd")
        >>> s.add({"id": "t", "amount": 12000, "fee": 378, "net": 11622,
        ...        "currency": "usd", "exchange_rate": 1.2,
        ...        "fee_details": [{"amount": 378, "type": "stripe_fee"}]},
        ...       "clearing", booked=("eur", 10000, 12500))
        >>> s.totals, s.foreign
        ({('fee', 'stripe_fee'): 378}, {('clearing', 'eur'): [-10000, -12500]})
        >>> s.fx_settled, s.fx_booked
        (12000, 12500)
        """
        tid = txn.get("id", "?")
        if (txn.get("currency") or "").lower() != self.currency:
            raise SettlementError(
                f"balance transaction {tid} is in {txn.get('currency')}, the "
                f"payout {self.payout_id} in {self.currency}"
            )
        try:
            amount, fee, net = int(txn["amount"]), int(txn["fee"]), int(txn["net"])
        except (KeyError, TypeError, ValueError):
            raise SettlementError(
                f"balance transaction {tid} lacks an integer amount, fee or net"
            ) from None
        if amount - fee != net:
            raise SettlementError(
                f"balance transaction {tid}: amount {amount} - fee {fee} != net {net}"
            )
        details = txn.get("fee_details") or []
        if sum(int(d.get("amount") or 0) for d in details) != fee:
            raise SettlementError(
                f"balance transaction {tid}: fee_details do not add up to fee {fee}"
            )
        if prebooked:
            self._book("account", account_key, -net)
        elif booked:
            currency, booked_minor, company_minor = booked
            row = self.foreign.setdefault((account_key, currency.lower()), [0, 0])
            row[0] -= int(booked_minor)
            row[1] -= int(company_minor)
            self.fx_settled += amount
            self.fx_booked += int(company_minor)
            for detail in details:
                kind = detail.get("type") or "stripe_fee"
                self._book("fee", kind, int(detail["amount"]))
        else:
            self._book("account", account_key, -amount)
            for detail in details:
                kind = detail.get("type") or "stripe_fee"
                self._book("fee", kind, int(detail["amount"]))
        self.net_total += net
        self.count += 1
        if txn.get("exchange_rate"):
            self.fx_count += 1

    def variance(self, payout_amount):
        """Payout amount minus the sum of the nets (0 when it settles)."""
        return int(payout_amount) - self.net_total


def convert_minor(amount, from_code, to_code, rate):
    """``amount`` (minor units of ``from_code``) in minor units of ``to_code``
    at ``rate`` (``to`` units per ``from`` unit, a ``Decimal``), rounded half
    up to the target currency's unit.

    >>> convert_minor(10000, "jpy", "usd", Decimal("0.0066"))
    6600
    >>> convert_minor(1099, "usd", "kwd", Decimal("0.30712"))
    3375
    >>> convert_minor(5, "usd", "usd", Decimal("1"))
    5
    """
    if isinstance(rate, float):
        raise ValueError("an exchange rate is a Decimal here, never a float")
    value = minor_to_decimal(int(amount), from_code) * Decimal(rate)
    step = Decimal(1).scaleb(-exponent(to_code))
    return decimal_to_minor(value.quantize(step, rounding=ROUND_HALF_UP), to_code)


def fx_difference(settlement, company_code, rate=None):
    """Company-currency minor units of the FX difference of a settlement
    (positive = debit, a loss): what Odoo booked for its converted
    transactions minus what Stripe settled for them, the settled amount
    converted to the company currency at ``rate`` (company units per payout
    unit) unless the payout is in the company currency.

    A EUR 100.00 charge booked at the invoice rate as USD 125.00, settled by
    Stripe at ``exchange_rate`` 1.2 as USD 120.00: a loss of USD 5.00.

    >>> s = Settlement("po_3", "usd")
    >>> s.add({"id": "t", "amount": 12000, "fee": 0, "net": 12000,
    ...        "currency": "usd", "exchange_rate": 1.2, "fee_details": []},
    ...       "clearing", booked=("eur", 10000, 12500))
    >>> fx_difference(s, "usd")
    500
    >>> fx_difference(s, "eur", Decimal("0.8"))  # a USD payout, EUR company
    2900
    """
    settled = settlement.fx_settled
    if company_code.lower() != settlement.currency:
        if rate is None:
            raise ValueError(
                f"payout {settlement.payout_id} is in {settlement.currency}, the "
                f"company in {company_code}: a rate is needed"
            )
        settled = convert_minor(settled, settlement.currency, company_code, rate)
    return settlement.fx_booked - settled
