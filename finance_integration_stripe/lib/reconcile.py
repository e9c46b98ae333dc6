"""Daily reconciliation: what Stripe says happened on a day against what Odoo
booked for it, in integer minor units per currency.

Rows are ``(key, currency, amount_minor)``; the key names the Stripe object
(``("payment_intent", "pi_1")``), the same on both sides. Totals are per
currency and kind of object (the key's first part): what was billed, paid and
refunded on each side, never one sum of all three.

>>> r = compare(
...     [(("payment_intent", "pi_1"), "usd", 1000),
...      (("payment_intent", "pi_2"), "usd", 500),
...      (("refund", "re_1"), "usd", -200)],
...     [(("payment_intent", "pi_1"), "usd", 1000),
...      (("refund", "re_1"), "usd", -250),
...      (("payment_intent", "pi_9"), "eur", 700)])
>>> r.missing_in_odoo
[(('payment_intent', 'pi_2'), 'usd', 500)]
>>> r.missing_in_stripe
[(('payment_intent', 'pi_9'), 'eur', 700)]
>>> r.different
[(('refund', 're_1'), 'usd', -200, -250)]
>>> r.totals["usd"]["payment_intent"], r.totals["usd"]["refund"]
({'stripe': 1500, 'odoo': 1000}, {'stripe': -200, 'odoo': -250})
>>> r.totals["eur"]
{'payment_intent': {'stripe': 0, 'odoo': 700}}
>>> bool(r)
True
"""


class Result:
    def __init__(self):
        self.missing_in_odoo = []
        self.missing_in_stripe = []
        self.different = []
        self.totals = {}

    def __bool__(self):
        """True when the two sides differ."""
        return bool(self.missing_in_odoo or self.missing_in_stripe or self.different)

    def _add(self, side, currency, kind, amount):
        kinds = self.totals.setdefault(currency, {})
        kinds.setdefault(kind, {"stripe": 0, "odoo": 0})[side] += amount


def compare(stripe_rows, odoo_rows):
    """Both sides of a day, row by row and in totals per currency and kind
    (a key present twice on one side adds up)."""
    result = Result()
    sides = ({}, {})
    for index, (name, rows) in enumerate(
        (("stripe", stripe_rows), ("odoo", odoo_rows))
    ):
        for key, currency, amount in rows:
            currency = currency.lower()
            known = sides[index].get(key)
            if known and known[0] != currency:
                raise ValueError(f"{key} is in {known[0]} and {currency} on {name}")
            sides[index][key] = (currency, (known[1] if known else 0) + int(amount))
            result._add(name, currency, key[0], int(amount))
    stripe, odoo = sides
    for key in sorted(stripe, key=str):
        currency, amount = stripe[key]
        if key not in odoo:
            result.missing_in_odoo.append((key, currency, amount))
        elif odoo[key] != (currency, amount):
            result.different.append((key, currency, amount, odoo[key][1]))
    for key in sorted(odoo, key=str):
        if key not in stripe:
            result.missing_in_stripe.append((key, *odoo[key]))
    result.totals = {
        currency: dict(sorted(kinds.items()))
        for currency, kinds in sorted(result.totals.items())
    }
    return result
