"""Change control helpers: version numbers and readable diffs (no ORM).

>>> next_version([1, 3, 2])
4
>>> next_version([])
1
>>> diff_values({"a": 1, "b": "x"}, {"a": 1, "b": "y", "c": None})
[('b', 'x', 'y')]
>>> format_diff([("base_url", "https://a", "https://b")])
'base_url: https://a -> https://b'
"""

#: states of a governed version, in the order a change goes through them
CHANGE_STATES = [
    ("draft", "Draft"),
    ("submitted", "Submitted"),
    ("approved", "Approved"),
    ("active", "Active"),
    ("superseded", "Superseded"),
    ("rejected", "Rejected"),
]

#: which transitions the change-control state machine allows
TRANSITIONS = {
    "submit": ({"draft"}, "submitted"),
    "approve": ({"submitted"}, "approved"),
    "reject": ({"submitted", "approved"}, "rejected"),
    "activate": ({"approved"}, "active"),
    "rollback": ({"superseded"}, "active"),
}


def next_version(numbers):
    """The number following the highest of ``numbers`` (1 for the first)."""
    return max((n for n in numbers if n), default=0) + 1


def _blank(value):
    return value in (None, False, "")


def diff_values(current, proposed):
    """``[(field, current, proposed)]`` for every field whose value changes.

    ``None``, ``False`` and ``""`` are the same "empty" value, so that an
    unset Char proposed as empty is no change.
    """
    changes = []
    for name in sorted(proposed):
        old, new = current.get(name), proposed[name]
        if _blank(old) and _blank(new):
            continue
        if old != new:
            changes.append((name, old, new))
    return changes


def format_diff(changes, labels=None):
    """One line per change: ``label: old -> new`` (empty values shown as -)."""
    labels = labels or {}

    def show(value):
        return "-" if _blank(value) else str(value)

    return "\n".join(
        f"{labels.get(name, name)}: {show(old)} -> {show(new)}"
        for name, old, new in changes
    )
