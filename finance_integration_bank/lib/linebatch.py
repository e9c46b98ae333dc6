"""The arithmetic of batched statement-line creation (no ``import odoo``).

Odoo books a statement line in the journal's own (company) currency as a move
with two journal items: the liquidity item (``balance = amount``) and the
suspense item (``balance = -amount``); the moves of one sequence period are
numbered in ``(date, ref, id)`` order. The model side
(``models/account_bank_statement_line_batch.py``) lets Odoo create one line
per period and copies its rows for the others with the values below.
"""

from decimal import Decimal

#: ``account.bank.statement.line.internal_index`` reverses the sequence from
#: PostgreSQL's int4 maximum (as Odoo's ``_compute_internal_index``)
MAXINT = 2147483647


def internal_index(day, sequence, line_id):
    """Odoo's ``internal_index`` of a statement line.

    >>> import datetime
    >>> internal_index(datetime.date(2026, 1, 5), 1, 42)
    '2026010521474836460000000042'
    """
    return f"{day:%Y%m%d}{MAXINT - sequence:0>10}{line_id:0>10}"


def item_amounts(balance, residual_factor):
    """The amount columns of a journal item of ``balance`` (company currency =
    transaction currency) on an account whose residual is the balance
    (``residual_factor`` 1: liquidity or reconcilable account) or zero (0).

    >>> item_amounts(Decimal("-12.50"), 0)["credit"]
    Decimal('12.50')
    >>> sorted(item_amounts(Decimal("3.00"), 1).items())[:3]
    [('amount_currency', Decimal('3.00')), ('amount_residual', Decimal('3.00')), \
('amount_residual_currency', Decimal('3.00'))]
    """
    residual = balance * residual_factor
    return {
        "balance": balance,
        "amount_currency": balance,
        "debit": balance if balance > 0 else Decimal(0),
        "credit": -balance if balance < 0 else Decimal(0),
        "amount_residual": residual,
        "amount_residual_currency": residual,
        "price_subtotal": balance,
        "price_total": balance,
    }


def numbering(rows):
    """Positions of ``rows`` ([(date, position)]) in the order Odoo names a
    batch of moves: by date, then creation order.

    >>> numbering([("2026-01-07", 0), ("2026-01-05", 1), ("2026-01-07", 2)])
    [1, 0, 2]
    """
    return [position for _day, position in sorted(rows)]
