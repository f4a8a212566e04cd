"""The session's PostgreSQL database: a throw-away server, one schema, emptied per test.

If PostgreSQL cannot start, the tests that need it error out: they are never skipped.
"""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from tests.support.postgres import PostgresServer, create_database, start_postgres
from webapp import create_app
from webapp.extensions import db


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer | None]:
    """A temporary PostgreSQL server (None when CHATSHOP_TEST_POSTGRES_URL points at one)."""
    if os.environ.get("CHATSHOP_TEST_POSTGRES_URL"):
        yield None
        return
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer | None) -> str:
    """URL of an empty test database with the schema created once per session."""
    url = os.environ.get("CHATSHOP_TEST_POSTGRES_URL")
    if not url:
        assert postgres_server is not None
        create_database(postgres_server.admin_url, "chatshop_test")
        url = postgres_server.url("chatshop_test")
    schema_app = create_app({"DATABASE_URL": url, "REDIS_URL": "redis://unused", "TESTING": True})
    with schema_app.app_context():
        db.drop_all()
        db.create_all()
        db.engine.dispose()
    return url


def truncate_all() -> None:
    """Empty every table of the current app's database (PostgreSQL)."""
    names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
    db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    db.session.commit()
