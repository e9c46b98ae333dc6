"""When webhook intake can count on a dispatcher job already planned.

Intake stores each message as a row of the outbox (``fi_message`` in state
``new``); dispatcher jobs drain it. A dispatcher sees the messages committed
before it starts, so a message is safe when a pending dispatcher starts after
the message's transaction commits. Dispatchers planned by intake start at fixed
slot boundaries (every ``SLOT_SECONDS``), at least ``MARGIN_SECONDS`` after the
message they were planned for: once a server process knows that the dispatcher
of the current slot is pending, the messages it stores until that slot's start
minus the margin need no query at all. A message whose transaction commits
later than that (a stalled process) is caught by a check after its commit.
"""

import math
from datetime import UTC, datetime

#: dispatchers planned by intake start on these boundaries (seconds); whole
#: seconds, as a job's start time (an Odoo datetime) has no smaller unit
SLOT_SECONDS = 1
#: a message counts on a slot's dispatcher when the slot starts at least this
#: much later than the message is stored (time left to commit)
MARGIN_SECONDS = 0.2


def dispatch_slot(now, slot_seconds=SLOT_SECONDS, margin=MARGIN_SECONDS):
    """``(slot, start)``: the first slot starting ``margin`` seconds or more
    after ``now`` (epoch seconds), and its start.

    >>> dispatch_slot(100.0)
    (101, 101)
    >>> dispatch_slot(100.85)
    (102, 102)
    """
    slot = math.ceil((now + margin) / slot_seconds)
    return slot, slot * slot_seconds


def naive_utc(epoch):
    """A job's start time as Odoo stores datetimes: naive, UTC."""
    return datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None)


class PlannedSlots:
    """Per server process: the latest slot known to hold a pending dispatcher,
    per (database, endpoint). Only ever raised after a commit."""

    def __init__(self):
        self._slots = {}

    def covers(self, key, slot):
        return self._slots.get(key, -1) >= slot

    def mark(self, key, slot):
        if self._slots.get(key, -1) < slot:
            self._slots[key] = slot

    def forget(self, key):
        self._slots.pop(key, None)
