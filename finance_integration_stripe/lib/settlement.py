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

    def _book(self, kind, key, amount):
        if amount:
            self.totals[(kind, key)] = self.totals.get((kind, key), 0) + amount

    def is_payout_itself(self, txn):
        return txn.get("type") in PAYOUT_TYPES and txn.get("source") == self.payout_id

    def add(self, txn, account_key, prebooked=False):
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
