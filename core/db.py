"""The database base: the declarative ``Base`` every model subclasses, the engine events
that make SQLite behave for concurrent writers, and the write intent set by the unit of work.

Plain SQLAlchemy: the Flask shell wraps ``Base`` in Flask-SQLAlchemy (``webapp.extensions``),
which shares its metadata, so ``db.create_all`` and Alembic see every table.
"""
from __future__ import annotations

import sqlite3
from contextvars import ContextVar

from sqlalchemy import MetaData, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import ConnectionPoolEntry

# Deterministic constraint names so Alembic migrations are the same on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Set by the unit of work: the transaction about to begin will write.
write_intent: ContextVar[bool] = ContextVar("chatshop_write_intent", default=False)


class Base(DeclarativeBase):
    """Declarative base of every ORM model (one metadata, with the naming convention)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


@event.listens_for(Engine, "connect")
def _sqlite_connect(
    dbapi_connection: DBAPIConnection, connection_record: ConnectionPoolEntry
) -> None:
    """Make SQLite behave for concurrent writers: WAL, foreign keys, explicit BEGIN."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Let SQLAlchemy (not pysqlite) decide when transactions begin, so that a
    # writing transaction can start with BEGIN IMMEDIATE below.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn: Connection) -> None:
    """On SQLite, writing transactions take the write lock at BEGIN.

    A deferred transaction that reads and then writes fails at once with
    "database is locked" when another writer got there first (WAL snapshot);
    BEGIN IMMEDIATE makes it wait its turn instead. Read-only transactions stay
    deferred so readers never block writers.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")
