"""The one list of corpus cases that fail today, each with the reason.

Every entry is a case-id pattern (``fnmatch``: ``*`` matches anything) and why it
fails. Matching cases are marked ``xfail(strict=True)``: the day a fix lands, the
case passes, the strict mark turns that into a failure, and the entry must be
removed here. Issue 9 §2 names most of them; anything else is a finding of the
corpus itself and says so.
"""
from __future__ import annotations

import fnmatch
from typing import Any

import pytest

KNOWN_FAILURES: dict[str, str] = {
    # --- found by this corpus (not in issue 9's list) ---
    "pay-notify:transaction-reused-on-other-order": (
        "new finding: a correctly signed pay notify whose transaction_id already paid another "
        "order answers 500 (IntegrityError on payments.transaction_id, twice: _apply_paid "
        "retries once and lets the second IntegrityError escape) instead of a FAIL ack; "
        "WeChat would retry it forever"),
}


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
