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

Between two payouts, Stripe's balance and the clearing accounts differ by
what is not paid out yet, transaction by transaction (``Unsettled``): Odoo
holds a payment or refund at its gross amount while Stripe holds its net (the
difference is its fee, booked when its payout settles); a payout Stripe has
made but Odoo has not settled yet is off Stripe's balance only; a transaction
Odoo books only when its payout settles (an adjustment, a Stripe fee, a
reserve) is in Stripe's balance only.

>>> gap = Unsettled()
>>> gap.add_held({"id": "txn_c", "amount": 1099, "fee": 62, "net": 1037,
...               "currency": "usd", "created": 20})
>>> gap.add_payout({"id": "txn_p", "amount": -500, "net": -500,
...                 "currency": "usd", "created": 30})
>>> gap.add_other({"id": "txn_a", "amount": 200, "net": 200,
...                "currency": "usd", "created": 10})
>>> gap.expected()
{'usd': -362}
>>> gap.parts("usd"), gap.oldest, gap.newest
({'fees': -62, 'payouts': -500, 'other': 200, 'converted': 0}, 10, 30)
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


class Unsettled:
    """What Stripe's balance holds and the clearing accounts do not (yet), per
    currency in minor units, folded from the balance transactions not in a
    payout Odoo settled (streamed: no transaction is kept).

    ``expected()`` is Stripe's balance less the clearing accounts when both
    sides booked everything: a difference beyond it is a real one."""

    #: the parts of the expected difference, in the order finance reads them
    PARTS = ("fees", "payouts", "other", "converted")

    def __init__(self):
        self.amounts = {part: {} for part in self.PARTS}
        self.count = 0
        #: ``created`` of the oldest and newest transaction folded in
        self.oldest = None
        self.newest = None

    def _fold(self, part, code, minor):
        bucket = self.amounts[part]
        bucket[code] = bucket.get(code, 0) + minor

    def _seen(self, txn):
        where = f"balance transaction {txn.get('id')}"
        if not txn.get("currency"):
            raise ValueError(f"{where}: currency is missing")
        created = txn.get("created")
        if isinstance(created, int) and not isinstance(created, bool):
            self.oldest = created if self.oldest is None else min(self.oldest, created)
            self.newest = created if self.newest is None else max(self.newest, created)
        self.count += 1
        return where, txn["currency"].lower()

    def add_held(self, txn, booked=None):
        """A transaction the clearing account holds at its gross ``amount``
        (Stripe: its ``net``), or, with ``booked`` = ``(code, minor)``, at
        that amount in the currency Odoo booked it in (Stripe converted it)."""
        where, code = self._seen(txn)
        net = _minor(txn.get("net"), f"{where}: net")
        if booked:
            self._fold("converted", code, net)
            self._fold("converted", booked[0].lower(), -booked[1])
            return
        amount = _minor(txn.get("amount"), f"{where}: amount")
        self._fold("fees", code, net - amount)

    def add_payout(self, txn):
        """A payout (or its failure) Odoo has not settled: Stripe's only."""
        where, code = self._seen(txn)
        self._fold("payouts", code, _minor(txn.get("net"), f"{where}: net"))

    def add_other(self, txn):
        """A transaction Odoo books only when its payout settles."""
        where, code = self._seen(txn)
        self._fold("other", code, _minor(txn.get("net"), f"{where}: net"))

    def parts(self, code):
        return {part: self.amounts[part].get(code, 0) for part in self.PARTS}

    def expected(self):
        """Per currency (sorted), Stripe's balance less the clearing accounts."""
        codes = sorted({code for bucket in self.amounts.values() for code in bucket})
        return {code: sum(self.parts(code).values()) for code in codes}
