"""Decimal money helpers and a JSON form that keeps decimals exact.

>>> to_decimal("12.30")
Decimal('12.30')
>>> dumps({"amount": Decimal("10.10"), "n": 1})
b'{"amount":10.10,"n":1}'
>>> loads(b'{"tax": 1.05}')["tax"]
Decimal('1.05')
>>> within_tolerance(Decimal("10.00"), Decimal("10.04"), Decimal("0.05"), Decimal("0"))
True
>>> within_tolerance(Decimal("100"), Decimal("101"), Decimal("0"), Decimal("1"))
True
>>> within_tolerance(Decimal("100"), Decimal("102"), Decimal("0.5"), Decimal("1"))
False
"""

import json
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

_MARK = "\x00dec:"
_MARKED = re.compile(r'"\\u0000dec:(-?[0-9.E+-]+)"')


def to_decimal(value, what="amount"):
    """``value`` as a Decimal; a float goes through its shortest repr."""
    if isinstance(value, Decimal):
        return value
    if value is None or value is False:
        return Decimal(0)
    if isinstance(value, float):
        value = repr(value)
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{what}: {value!r} is not a number") from None


def _mark(value):
    if isinstance(value, Decimal):
        return _MARK + format(value, "f")
    if isinstance(value, dict):
        return {k: _mark(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mark(v) for v in value]
    if isinstance(value, float):
        raise TypeError(f"float {value!r} in a money document: use Decimal")
    return value


def dumps(value):
    """Compact JSON bytes; Decimals are written as exact JSON numbers."""
    text = json.dumps(_mark(value), separators=(",", ":"), ensure_ascii=False)
    return _MARKED.sub(r"\1", text).encode("utf-8")


def loads(data):
    """JSON with every non-integer number parsed as Decimal."""
    if isinstance(data, bytes):
        data = data.decode("utf-8")
    return json.loads(data, parse_float=Decimal)


def line_amount(price_unit, quantity, discount=0, digits=2):
    """Price x quantity less the discount (percent), rounded half-up to the
    currency's ``digits``: in Decimal throughout, so a tax-included price
    reaches the engine to the cent as it was typed.

    >>> line_amount(19.99, 3, 7.5)
    Decimal('55.47')
    >>> line_amount("0.1", 3)
    Decimal('0.30')
    >>> line_amount(50, 1, 100)
    Decimal('0.00')
    >>> line_amount(1000, 1, 0, digits=0)
    Decimal('1000')
    """
    gross = to_decimal(price_unit, "price") * to_decimal(quantity, "quantity")
    net = gross * (100 - to_decimal(discount, "discount")) / 100
    return net.quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP)


def within_tolerance(expected, actual, amount, percentage):
    """True when ``actual`` differs from ``expected`` by at most ``amount``
    (invoice currency) or by at most ``percentage`` percent of ``expected``."""
    diff = abs(to_decimal(actual) - to_decimal(expected))
    if diff <= to_decimal(amount):
        return True
    base = abs(to_decimal(expected))
    return bool(base) and diff * 100 <= base * to_decimal(percentage)
