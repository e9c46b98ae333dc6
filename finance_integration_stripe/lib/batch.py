"""Batched posting of PaymentIntents: cutting a batch into rounds.

A batch posts its payments with one create and reconciles them with one
reconciliation plan, whose pairs are computed before any is reconciled: two
payments of the same invoice in one plan would both see its full residual.
Rounds keep the order of the items and never hold one key twice; the second
payment of an invoice is reconciled in the next round, after the first, as
one-by-one processing would.
"""


def rounds(items, key):
    """``items`` cut into rounds in which no ``key`` repeats, each item in the
    first round that does not hold its key yet.

    >>> rounds([1, 2, 1, 3, 1], key=lambda n: n)
    [[1, 2, 3], [1], [1]]
    >>> rounds([], key=str)
    []
    """
    result, keys = [], []
    for item in items:
        value = key(item)
        for batch, seen in zip(result, keys, strict=True):
            if value not in seen:
                batch.append(item)
                seen.add(value)
                break
        else:
            result.append([item])
            keys.append({value})
    return result
