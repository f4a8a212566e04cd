"""Amounts as WeChat Pay shows them: whole fen in, yuan with two decimals out."""
from __future__ import annotations


def format_yuan(fen: int) -> str:
    """Whole fen as yuan with exactly two decimals (-1205 -> "-12.05").

    Integer arithmetic only, so no amount is ever rounded; anything but an int
    (a bool, a float, a string) is a TypeError, as it would be a bug upstream.
    """
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"amounts are whole fen, not {fen!r}")
    yuan, cents = divmod(abs(fen), 100)
    sign = "-" if fen < 0 else ""
    return f"{sign}{yuan}.{cents:02d}"
