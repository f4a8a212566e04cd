"""Integer money helpers for the commission rules: amounts are whole fen, rates whole basis points.

Standard library only; no float ever touches an amount.
"""
from __future__ import annotations

from typing import TypeGuard

# 10 000 basis points = 100 %.
FULL_RATE_BP = 10_000


def is_int(value: object) -> TypeGuard[int]:
    """True for a genuine integer; ``bool`` is refused although it subclasses ``int``."""
    return isinstance(value, int) and not isinstance(value, bool)


def apply_rate(amount_fen: int, rate_bp: int) -> int:
    """``amount × rate``, rounded down to the fen (floor; both operands are ≥ 0)."""
    return amount_fen * rate_bp // FULL_RATE_BP


def format_yuan(fen: int) -> str:
    """Integer fen as yuan with two decimals (-1205 -> "-12.05"), by integer division only.

    Anything but a whole number of fen (a float, a bool, a string) is a TypeError.
    """
    if not is_int(fen):
        raise TypeError(f"amounts are whole fen, not {fen!r}")
    whole, cents = divmod(abs(fen), 100)
    return f"{'-' if fen < 0 else ''}{whole}.{cents:02d}"
