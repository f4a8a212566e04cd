"""Unit-of-work helper: commit on success, roll back on any error."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeAlias

from sqlalchemy.orm import Session, scoped_session

from core.db import write_intent

# What services take as ``session``: views and jobs pass Flask-SQLAlchemy's
# ``db.session``, a ``scoped_session`` over its own Session subclass (typed ``Any``
# here so core needs no Flask); tests and scripts may pass a plain Session. The
# proxy forwards most of Session (execute, scalars, get, add, flush, commit,
# rollback, connection, ...) but not everything: ``in_transaction()`` for one is
# not proxied, so code needing such a method unwraps the proxy first, as
# ``unit_of_work`` does.
DbSession: TypeAlias = Session | scoped_session[Any]


@contextmanager
def unit_of_work(session: DbSession) -> Iterator[DbSession]:
    """Run a block as one writing transaction on ``session``.

    A read transaction the caller left open is ended first, so that the write
    transaction starts fresh (on SQLite: with BEGIN IMMEDIATE, see ``core.db``).
    Nested use joins the outer unit of work.
    """
    if write_intent.get():
        yield session
        return
    real = session() if isinstance(session, scoped_session) else session
    if real.in_transaction():
        real.commit()
    token = write_intent.set(True)
    try:
        session.connection()  # begin now, while the write intent is set
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        write_intent.reset(token)
