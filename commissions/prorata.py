"""Pro-rata allocation to the fen that never runs backwards: the arithmetic behind refunds.

A paid line is a whole made of shares (supplier, each commission, platform), in
fen. When ``taken`` fen of the whole go back, :func:`allocate` says how many fen
each share has given back *in total*. Picture every fen of every share falling
due at the refunded fraction where the share's pro-rata claim reaches it: fen
``k`` of a share of ``s`` fen is due at ``k / s``. Taking ``taken`` fen takes the
``taken`` earliest-due fen (ties: the share listed first goes first).

Because the answer for ``taken + 1`` is the answer for ``taken`` plus one fen,
the allocation is monotone, so successive partial refunds computed as
"cumulative target minus what was already reversed" are never negative, never
drift, and end exactly at the shares once everything is taken. Each share gets
at least ``floor(share × taken / whole)``; the few fen floors leave over (fewer
than the number of shares) go to the shares whose next fen is due soonest.
(This is the Jefferson / D'Hondt method, which unlike largest-remainder
rounding cannot take back a fen it gave for a smaller amount.)
"""
from __future__ import annotations

from collections.abc import Sequence


def allocate(shares: Sequence[int], taken: int) -> tuple[int, ...]:
    """How much of each share is covered once ``taken`` fen of their sum are taken.

    ``shares`` are non-negative integers; ``0 ≤ taken ≤ sum(shares)``. The result
    has one entry per share, sums to ``taken``, never exceeds a share, and each
    entry is non-decreasing in ``taken``.
    """
    whole = sum(shares)
    if any(share < 0 for share in shares) or not 0 <= taken <= whole:
        raise ValueError(f"cannot take {taken} fen out of shares {list(shares)}")
    if whole == 0:
        return tuple(0 for _ in shares)
    # Every fen due at or before taken/whole is certainly among the first `taken`.
    got = [share * taken // whole for share in shares]
    # Fewer than len(shares) fen are left; hand them out one at a time, soonest due first.
    for _ in range(taken - sum(got)):
        best = -1
        for index, share in enumerate(shares):
            if got[index] >= share:
                continue
            # (got[index] + 1) / share < (got[best] + 1) / shares[best], without division.
            if best < 0 or (got[index] + 1) * shares[best] < (got[best] + 1) * share:
                best = index
        got[best] += 1
    return tuple(got)
