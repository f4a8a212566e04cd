"""The domain limits of every number and text the shop accepts, in one place.

The API schemas, the services and the pure rules all read their limits from
here, so a number too large for a column, a ``timedelta`` or a sane page never
gets past any entry point (API, CLI, chat or a later caller of a service).
Standard library only: the pure rules (``commissions.plans``) import it too.

Why these values (user-visible decisions, also in docs/decisions.md):

- Ids are 32-bit integer columns: 1 .. 2**31 - 1. A larger id cannot exist, so
  asking for it is a 404 (path) or a 422 (body, query), never a database error.
- Amounts typed by people (prices, spend and sales thresholds) are whole fen up
  to 10**9 fen (10 million yuan): above any real figure, and below the 32-bit
  columns they are stored in. Prices stay at 10**8 fen (1 million yuan); an
  order totals at most 10**9 fen.
- Rates are basis points 0 .. 10 000 (100 %); commission levels 1 .. 3.
- The commission return window is 0 .. 365 days; the referral binding expiry
  1 .. 3650 days.
- Lists: page 1 .. 100 000, page size 1 .. 100.
- JSON request bodies nest at most 32 deep (ours need 4).
"""
from __future__ import annotations

from typing import TypeGuard

from core.money import FULL_RATE_BP

MAX_ID = 2**31 - 1

MAX_PRICE_FEN = 100_000_000
MAX_AMOUNT_FEN = 1_000_000_000
MAX_ORDER_TOTAL_FEN = MAX_AMOUNT_FEN  # order and line amounts are 32-bit columns too
MAX_STOCK = 10_000_000
MAX_QUANTITY = 1_000_000
MAX_COUNT = 10_000_000  # counted things used as thresholds (completed orders)

MAX_RATE_BP = FULL_RATE_BP
MAX_LEVELS = 3
MAX_RETURN_WINDOW_DAYS = 365
MAX_BINDING_DAYS = 3650
MAX_TIER_RANK = 1000
MAX_SORT_ORDER = 1_000_000

MAX_PAGE = 100_000
MAX_PAGE_SIZE = 100

MAX_JSON_DEPTH = 32


def is_whole(value: object) -> TypeGuard[int]:
    """True for a genuine integer; ``bool`` is refused although it subclasses ``int``."""
    return isinstance(value, int) and not isinstance(value, bool)


def within(value: object, low: int, high: int) -> TypeGuard[int]:
    """True for a whole number from ``low`` to ``high`` (both included)."""
    return is_whole(value) and low <= value <= high


def is_id(value: object) -> TypeGuard[int]:
    """True for a whole number that can be a row id."""
    return within(value, 1, MAX_ID)


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None when it can.

    A NUL character is refused by PostgreSQL text columns and truncates C
    strings; a lone surrogate (``"\\ud800"``, legal in JSON escapes) cannot be
    encoded as UTF-8 at all. Both are refused wherever text enters.
    """
    if "\x00" in text:
        return "must not contain NUL characters"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (no unpaired surrogate characters)"
    return None
