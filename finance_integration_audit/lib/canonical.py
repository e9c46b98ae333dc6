"""Canonical JSON for the audit chain: core's form, floats refused.

Core's ``lib/hashing.canonical_json`` (the suite's one canonical form) turns
anything it cannot encode into a string (``default=str``) and accepts floats;
the chain must refuse what has no single exact encoding instead, so facts are
checked first.

>>> canonical_json({"b": 1, "a": ["x", None, True]})
b'{"a":["x",null,true],"b":1}'
>>> sha256_hex(b"")[:16]
'e3b0c44298fc1c14'
>>> canonical_facts({"amount": 1.5})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: facts.amount: float 1.5 has no exact canonical form; give money as ...
"""

import importlib

# Core's lib/hashing.py, imported under the package this addon was imported
# under: odoo.addons.* in Odoo, the plain package for the offline verifier
# (run from the folder holding both addons; core's lib imports no Odoo).
_hashing = importlib.import_module(
    __name__.partition("finance_integration_audit.")[0]
    + "finance_integration_core.lib.hashing"
)
canonical_json = _hashing.canonical_json
sha256_hex = _hashing.sha256_hex


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
