"""When commission and supply cost of a completed order may settle: the return window.

Pure arithmetic over the plan's return window (standard library and
``core.bounds`` only), used by commission settlement and supplier settlement.
It lives here rather than with the order lifecycle rules in ``shop.domain``
because commissions sits below the shop: settling money needs only these dates,
not the order state machine.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from core.bounds import MAX_RETURN_WINDOW_DAYS


def effective_return_window(return_window_days: int) -> int:
    """The return window in force: a stored value outside 0 .. 365 days counts as 365.

    Plans are validated to that range (``core.bounds``); a value outside it
    can only be old or corrupt data. Reading it as the longest window allowed keeps
    the date arithmetic in range and holds the commission longest, yet never for
    good: money is never frozen by a bad number.
    """
    if 0 <= return_window_days <= MAX_RETURN_WINDOW_DAYS:
        return return_window_days
    return MAX_RETURN_WINDOW_DAYS


def matures_at(completed_at: datetime, return_window_days: int) -> datetime:
    """When commission of an order completed at ``completed_at`` may settle."""
    return completed_at + timedelta(days=effective_return_window(return_window_days))


def window_start(now: datetime, return_window_days: int) -> datetime:
    """The latest completion time whose return window has passed at ``now``."""
    return now - timedelta(days=effective_return_window(return_window_days))
