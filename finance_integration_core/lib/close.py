"""Close readiness: how blockers read in a message (no ORM).

>>> print(format_blockers([
...     {"name": "Open exceptions", "count": 3},
...     {"name": "Dead letters", "count": 1, "endpoint": "Stripe EU"},
... ]))
- Open exceptions: 3
- Dead letters: 1 (Stripe EU)
>>> is_ready([{"count": 2, "blocking": False}])
True
>>> is_ready([{"count": 2, "blocking": False}, {"count": 1}])
False
"""


def format_blockers(blockers):
    """One line per blocker: ``- name: count`` (with its endpoint)."""
    lines = []
    for blocker in blockers:
        line = f"- {blocker['name']}: {blocker['count']}"
        if blocker.get("endpoint"):
            line += f" ({blocker['endpoint']})"
        lines.append(line)
    return "\n".join(lines)


def is_ready(blockers):
    """Whether nothing blocking is left (warnings do not block)."""
    return not any(b["count"] for b in blockers if b.get("blocking", True))
