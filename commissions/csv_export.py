"""CSV files people open in a spreadsheet: one writer, every cell made safe to open.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
is run as a formula by Excel, WPS and LibreOffice (the OWASP "CSV injection"
rule); the full-width ``＝ ＋ － ＠`` typed with a Chinese input method are
taken the same way by some of them. Nicknames, product titles, supplier names
and reasons are typed by outsiders, so every text cell starting like that gets
a leading apostrophe, which spreadsheets show as plain text. A cell that is a
plain number (``-100``, ``-12.05``) cannot be a formula and stays as it is, so
the amounts we write remain numbers. Standard library only.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def safe_cell(value: object) -> str:
    """``value`` as a CSV cell that no spreadsheet runs as a formula.

    None is an empty cell, whole numbers and plain decimal numbers stay numbers,
    dates are ISO 8601, any other text starting like a formula is prefixed with ``'``.
    """
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A CSV document (CRLF line ends, as RFC 4180 says): the header, then each row,
    every cell passed through :func:`safe_cell`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(name) for name in header])
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()
