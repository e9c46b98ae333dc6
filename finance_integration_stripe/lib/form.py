"""Stripe's form encoding (``application/x-www-form-urlencoded``) with nested keys.

Stripe reads hashes as ``key[sub]=v``, arrays of scalars as ``key[]=v`` and
arrays of hashes as ``key[0][sub]=v``. ``None`` leaves a parameter out; an
empty string is sent (Stripe unsets the field).

>>> encode({"amount": 500, "metadata": {"invoice": "INV/1"}, "expand": ["charge"]})
'amount=500&metadata%5Binvoice%5D=INV%2F1&expand%5B%5D=charge'
>>> encode({"items": [{"price": "p_1", "qty": 2}], "live": True})
'items%5B0%5D%5Bprice%5D=p_1&items%5B0%5D%5Bqty%5D=2&live=true'
"""

from decimal import Decimal
from urllib.parse import urlencode


def _scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        raise ValueError("floats are not sent to Stripe: use integer minor units")
    if isinstance(value, int | str | Decimal):
        return str(value)
    raise ValueError(f"cannot form-encode a {type(value).__name__}")


def flatten(params, prefix=None):
    """``[(key, value)]`` pairs of a nested parameter dict, in order.

    >>> flatten({"a": {"b": [1, 2]}})
    [('a[b][]', '1'), ('a[b][]', '2')]
    """
    pairs = []
    items = params.items() if isinstance(params, dict) else params
    for key, value in items:
        name = f"{prefix}[{key}]" if prefix else str(key)
        if value is None:
            continue
        if isinstance(value, dict):
            pairs.extend(flatten(value, name))
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    pairs.extend(flatten(item, f"{name}[{index}]"))
                else:
                    pairs.append((f"{name}[]", _scalar(item)))
        else:
            pairs.append((name, _scalar(value)))
    return pairs


def encode(params):
    """The form-encoded string of ``params`` (empty string for none)."""
    return urlencode(flatten(params or {}))
