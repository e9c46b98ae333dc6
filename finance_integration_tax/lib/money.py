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
from decimal import Decimal, InvalidOperation

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


def within_tolerance(expected, actual, amount, percentage):
    """True when ``actual`` differs from ``expected`` by at most ``amount``
    (invoice currency) or by at most ``percentage`` percent of ``expected``."""
    diff = abs(to_decimal(actual) - to_decimal(expected))
    if diff <= to_decimal(amount):
        return True
    base = abs(to_decimal(expected))
    return bool(base) and diff * 100 <= base * to_decimal(percentage)
