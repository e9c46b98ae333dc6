"""Stripe amounts (integers in the currency's minor unit) <-> ``Decimal``.

Stripe sends every amount as an integer count of the currency's smallest
unit: cents for EUR, yen for JPY (zero-decimal), fils for KWD (three
decimals). Reading 1000 JPY as 10.00 is the classic 100x error: every amount
crosses this module.

>>> minor_to_decimal(1099, "usd")
Decimal('10.99')
>>> minor_to_decimal(1099, "JPY")
Decimal('1099')
>>> minor_to_decimal(12340, "kwd")
Decimal('12.340')
>>> decimal_to_minor(Decimal("12.345"), "bhd")
12345
>>> decimal_to_minor(Decimal("500"), "jpy")
500
"""

from decimal import Decimal

from .const import THREE_DECIMAL, ZERO_DECIMAL


def exponent(currency):
    """Number of decimals Stripe uses for ``currency`` (ISO code, any case).

    >>> exponent("EUR"), exponent("jpy"), exponent("tnd")
    (2, 0, 3)
    """
    if not currency:
        raise ValueError("a Stripe amount needs a currency")
    code = currency.lower()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def minor_to_decimal(amount, currency):
    """``Decimal`` value of Stripe's integer ``amount`` in ``currency``."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValueError(f"Stripe amount {amount!r} is not an integer")
    return Decimal(amount).scaleb(-exponent(currency))


def quantity_and_unit(amount, quantity):
    """``(quantity, unit price)`` of a Stripe line of ``amount`` (a
    ``Decimal``) for ``quantity`` units: the unit price when it divides
    exactly at the amount's precision, else one unit of the whole amount (a
    line always totals what Stripe says).

    >>> quantity_and_unit(Decimal("30.00"), 3)
    (3, Decimal('10.00'))
    >>> quantity_and_unit(Decimal("10.00"), 3)
    (1, Decimal('10.00'))
    >>> quantity_and_unit(Decimal("5.00"), None)
    (1, Decimal('5.00'))
    """
    quantity = int(quantity or 0)
    if quantity <= 0:
        return 1, amount
    unit = amount / quantity
    if unit != unit.quantize(amount):
        return 1, amount
    return quantity, unit.quantize(amount)


def decimal_to_minor(value, currency):
    """Stripe's integer amount for ``value``; refuses a value that has more
    decimals than the currency (never rounds money silently).

    >>> decimal_to_minor(Decimal("10.999"), "eur")
    Traceback (most recent call last):
    ...
    ValueError: 10.999 EUR has more than 2 decimals
    """
    if isinstance(value, float):
        raise ValueError("money is never a float")
    value = Decimal(value)
    digits = exponent(currency)
    scaled = value.scaleb(digits)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} {currency.upper()} has more than {digits} decimals")
    return int(scaled)


def odoo_amounts_to_minor(amounts, currency, places=None):
    """Stripe's integer amount for the sum of amounts as Odoo stores them
    (floats rounded to the currency): each read through its shortest repr,
    summed as ``Decimal``, rounded to ``places`` decimals (default: the
    currency's at Stripe).

    >>> odoo_amounts_to_minor([0.1, 0.2], "eur")
    30
    >>> odoo_amounts_to_minor([1500.0], "jpy")
    1500
    """
    total = sum((Decimal(str(amount)) for amount in amounts), Decimal(0))
    if places is None:
        places = exponent(currency)
    return decimal_to_minor(total.quantize(Decimal(1).scaleb(-places)), currency)


def format_totals(totals, empty="EUR"):
    """Per-currency minor-unit totals as one short text, currencies sorted;
    no total at all shows zero in ``empty``.

    >>> format_totals({"usd": -710, "jpy": 5})
    '5 JPY, -7.10 USD'
    >>> format_totals({})
    '0.00 EUR'
    """
    if not totals:
        totals = {empty: 0}
    return ", ".join(
        f"{minor_to_decimal(int(minor), code)} {code.upper()}"
        for code, minor in sorted(totals.items(), key=lambda item: item[0].upper())
    )
