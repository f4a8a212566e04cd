"""Reading the database as it is, past the session's identity map."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from webapp.extensions import db


def db_snapshot() -> dict[str, list[str]]:
    """Every row of every table, read from the database (ends the read transaction)."""
    db.session.expire_all()
    rows = {
        table.name: sorted(repr(tuple(row)) for row in db.session.execute(select(table)))
        for table in db.metadata.sorted_tables
    }
    db.session.commit()
    return rows


def fresh(model: Any, ident: int) -> Any:
    """A row re-read from the database."""
    db.session.expire_all()
    return db.session.get(model, ident)
