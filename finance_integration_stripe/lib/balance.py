"""Stripe's balance per currency, now and as it was at a cut-over date.

``/v1/balance`` gives what Stripe holds now: ``available`` and ``pending``
lists of ``{amount, currency}`` in the currency's minor unit. What it held at
a cut-over is that, less the net of every balance transaction created since
(charges add their net, refunds, disputes and payouts take theirs off):
the opening balance a first run books, while the objects since the cut-over
are fed as events.

>>> now = balance_totals({"object": "balance",
...     "available": [{"amount": 1000, "currency": "usd"}],
...     "pending": [{"amount": 250, "currency": "USD"},
...                 {"amount": 700, "currency": "jpy"}]})
>>> now
{'usd': 1250, 'jpy': 700}
>>> opening = Opening(now)
>>> for txn in ({"id": "txn_1", "net": 300, "currency": "usd"},
...             {"id": "txn_2", "net": -50, "currency": "usd"},
...             {"id": "txn_3", "net": 700, "currency": "jpy"},
...             {"id": "txn_4", "net": -9000, "currency": "eur"}):
...     opening.add(txn)
>>> opening.totals()
{'eur': 9000, 'jpy': 0, 'usd': 1000}
>>> opening.moved
{'usd': 250, 'jpy': 700, 'eur': -9000}
"""

#: the parts of ``/v1/balance`` that are the account's money (``available``:
#: can be paid out; ``pending``: not yet available)
BALANCE_PARTS = ("available", "pending")


def _minor(value, where):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where} is {value!r}: an integer amount is expected")
    return value


def balance_totals(balance):
    """Available + pending per currency (lower-case code -> minor units).

    >>> balance_totals({"available": [{"amount": 1.5, "currency": "usd"}]})
    Traceback (most recent call last):
    ...
    ValueError: balance.available[0].amount is 1.5: an integer amount is expected
    >>> balance_totals({"available": [{"amount": 5}]})
    Traceback (most recent call last):
    ...
    ValueError: balance.available[0].currency is missing
    """
    totals = {}
    for part in BALANCE_PARTS:
        for index, row in enumerate(balance.get(part) or []):
            where = f"balance.{part}[{index}]"
            if not row.get("currency"):
                raise ValueError(f"{where}.currency is missing")
            code = row["currency"].lower()
            amount = _minor(row.get("amount"), f"{where}.amount")
            totals[code] = totals.get(code, 0) + amount
    return totals


class Opening:
    """The balance at a cut-over: ``now`` (``balance_totals``) less the nets
    of the balance transactions created since, added one by one (streamed:
    no transaction is kept)."""

    def __init__(self, now):
        self.now = dict(now)
        #: per currency, the net of the transactions since the cut-over
        self.moved = {}
        self.count = 0

    def add(self, txn):
        where = f"balance transaction {txn.get('id')}"
        if not txn.get("currency"):
            raise ValueError(f"{where}: currency is missing")
        code = txn["currency"].lower()
        net = _minor(txn.get("net"), f"{where}: net")
        self.moved[code] = self.moved.get(code, 0) + net
        self.count += 1

    def totals(self):
        """Per currency (sorted), the balance at the cut-over in minor units."""
        codes = sorted(set(self.now) | set(self.moved))
        return {code: self.now.get(code, 0) - self.moved.get(code, 0) for code in codes}
