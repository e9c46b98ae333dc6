"""Canonical JSON for the audit chain: core's form, floats refused.

Core's ``canonical_json`` turns anything it cannot encode into a string
(``default=str``) and accepts floats; the chain must refuse what has no single
exact encoding instead, so facts are checked first.

>>> canonical_json({"b": 1, "a": ["x", None, True]})
b'{"a":["x",null,true],"b":1}'
>>> canonical_facts({"amount": 1.5})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: facts.amount: float 1.5 has no exact canonical form; give money as ...
"""

import json


def canonical_json(value):
    """Core's ``lib/hashing.canonical_json`` without its ``default=str``: the
    same bytes for plain JSON values (a test holds the two equal), defined here
    again because the offline verifier must run without Odoo installed."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def check_plain(value, path="facts"):
    """Raise ValueError naming the path of the first value that is not plain
    JSON (str, int, bool, None, list, dict with str keys)."""
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        raise ValueError(
            f"{path}: float {value!r} has no exact canonical form; "
            "give money as a string or in minor units"
        )
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_plain(item, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{path}: key {key!r} is not a string")
            check_plain(item, f"{path}.{key}")
        return
    raise ValueError(
        f"{path}: {type(value).__name__} {value!r} is not a plain JSON value"
    )


def canonical_facts(facts):
    """Canonical JSON text of ``facts`` (a dict), floats and objects refused."""
    facts = facts or {}
    if not isinstance(facts, dict):
        raise ValueError(f"facts: a dict is expected, not {type(facts).__name__}")
    check_plain(facts)
    return canonical_json(facts).decode("utf-8")
