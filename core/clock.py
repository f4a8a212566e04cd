"""The time: one place that says what "now" is (timezone-aware UTC)."""
from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(UTC)
