# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Finance KPIs of the bank connector, as the dashboard shows them."""

from decimal import ROUND_HALF_UP, Decimal


def rate_text(part, whole):
    """``part`` of ``whole`` as a percentage with one decimal, rounded half
    up; "n/a" when there is nothing to divide by.

    >>> rate_text(39, 40)
    '97.5 %'
    >>> rate_text(1, 3)
    '33.3 %'
    >>> rate_text(2, 3)
    '66.7 %'
    >>> rate_text(5, 5)
    '100.0 %'
    >>> rate_text(0, 0)
    'n/a'
    """
    if not whole:
        return "n/a"
    value = (Decimal(part) * 100 / Decimal(whole)).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )
    return f"{value} %"
