"""The suite's one retry policy: exponential backoff with jitter.

Every retry (inbound processing, outbound sending, polling) asks this module
how long to wait, so that the whole suite backs off the same way.
"""

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

#: never wait longer than this, whatever a server asks for in Retry-After
MAX_DELAY = 24 * 3600


def backoff_delay(attempt, base=10, cap=3600, rand=random.random):
    """Seconds to wait before retry number ``attempt`` (1 for the first retry).

    "Equal jitter": half of the exponential step is fixed, half is random, so
    retries spread out but never collapse to zero.

    >>> backoff_delay(1, base=10, rand=lambda: 0.0)
    5.0
    >>> backoff_delay(3, base=10, rand=lambda: 1.0)
    40.0
    >>> backoff_delay(30, base=10, cap=60, rand=lambda: 1.0)
    60.0
    """
    if attempt < 1:
        raise ValueError("attempt starts at 1")
    step = min(float(cap), float(base) * (2 ** (attempt - 1)))
    return step / 2 + step / 2 * rand()


def parse_retry_after(value, now=None):
    """Seconds asked by a ``Retry-After`` header (delta-seconds or HTTP-date).

    Returns None when the header is absent or unreadable.

    >>> parse_retry_after("120")
    120.0
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT",
    ...                   now=datetime(2015, 10, 21, 7, 27, tzinfo=UTC))
    60.0
    >>> parse_retry_after("soon") is None
    True
    """
    if value is None:
        return None
    value = str(value).strip()
    if value.isdigit():
        return float(min(int(value), MAX_DELAY))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return float(min(max((when - now).total_seconds(), 0.0), MAX_DELAY))


def next_retry_delay(attempt, retry_after=None, base=10, cap=3600, rand=random.random):
    """Delay for retry ``attempt``: backoff, but never sooner than Retry-After.

    >>> next_retry_delay(1, retry_after=300, rand=lambda: 0.0)
    300.0
    """
    delay = backoff_delay(attempt, base=base, cap=cap, rand=rand)
    if retry_after:
        delay = max(delay, min(float(retry_after), MAX_DELAY))
    return delay


#: a conflict with a concurrent transaction (two deliveries binding the same
#: object, a serialization failure) is settled by the other's commit within
#: milliseconds: retried this many times within seconds, spending no attempt
CONFLICT_RETRIES = 8


def conflict_retry_delay(conflict, rand=random.random):
    """Seconds to wait after the ``conflict``-th conflict in a row: short,
    growing, jittered so that the two contenders do not meet again.

    >>> conflict_retry_delay(1, rand=lambda: 0.0)
    0.25
    >>> conflict_retry_delay(3, rand=lambda: 1.0)
    2.0
    >>> conflict_retry_delay(8, rand=lambda: 1.0)
    4.0
    """
    return backoff_delay(conflict, base=0.5, cap=4.0, rand=rand)
