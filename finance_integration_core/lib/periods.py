"""Accounting periods: where a date falls against lock dates.

>>> from datetime import date
>>> latest_lock([(date(2026, 3, 31), "fiscalyear_lock_date"),
...              (date(2026, 6, 30), "tax_lock_date")])
datetime.date(2026, 6, 30)
>>> latest_lock([]) is None
True
>>> first_open_date(date(2026, 5, 12), date(2026, 6, 30))
datetime.date(2026, 7, 1)
>>> first_open_date(date(2026, 7, 2), date(2026, 6, 30))
datetime.date(2026, 7, 2)
>>> first_open_date(date(2026, 7, 2), None)
datetime.date(2026, 7, 2)
"""

from datetime import timedelta


def latest_lock(violations):
    """The latest lock date of ``[(lock_date, field_name), ...]``, or None."""
    return max((lock for lock, _name in violations), default=None)


def first_open_date(accounting_date, lock_date):
    """``accounting_date`` when it is after ``lock_date``, else the day after
    the lock date (the first date a posting is allowed on)."""
    if lock_date is None or accounting_date > lock_date:
        return accounting_date
    return lock_date + timedelta(days=1)
