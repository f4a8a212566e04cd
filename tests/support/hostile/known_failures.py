"""The one list of corpus cases that fail today, each with the reason.

Every entry is a case-id pattern (``fnmatch``: ``*`` matches anything) and why it
fails. Matching cases are marked ``xfail(strict=True)``: the day a fix lands, the
case passes, the strict mark turns that into a failure, and the entry must be
removed here. Empty since issue 9 landed: every case passes. A new entry names
the issue or the finding that explains it.
"""
from __future__ import annotations

import fnmatch
from typing import Any

import pytest

# pattern -> reason (see the module docstring)
KNOWN_FAILURES: dict[str, str] = {}


def reason_for(case_id: str) -> str | None:
    """Why ``case_id`` is expected to fail today, or None."""
    for pattern, reason in KNOWN_FAILURES.items():
        if fnmatch.fnmatchcase(case_id, pattern):
            return reason
    return None


def marks_for(case_id: str) -> list[Any]:
    """The strict xfail mark for a known failure (none for every other case)."""
    reason = reason_for(case_id)
    return [] if reason is None else [pytest.mark.xfail(strict=True, reason=reason)]
