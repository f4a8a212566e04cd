"""Unit-of-work helper: commit on success, roll back on any error."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session


@contextmanager
def unit_of_work(session: Session) -> Iterator[Session]:
    """Run a block as one transaction on ``session``."""
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
