"""Test apps: one factory with overrides, and the context every test app runs in.

``make_app(**overrides)`` builds an app on SQLite (or a given database URL) and
the session's Redis; ``app_in_use`` pushes its context with the schema created
and Redis empty, and cleans up after. Every app fixture of the suite is built
from these two, so a new setting for tests is added in one place.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.support.databases import truncate_all
from tests.support.live_server import LiveSandbox, reserve_port, serve
from webapp import create_app
from webapp.extensions import db
from webapp.redis_conn import get_redis

MakeApp = Callable[..., Flask]


def app_settings(
    tmp_path: Path, database_url: str, redis_url: str, **overrides: Any
) -> dict[str, Any]:
    """Settings of a test app (``overrides`` win)."""
    cfg: dict[str, Any] = {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "test-secret",
        "PUBLIC_BASE_URL": "http://chatshop.test",
        # Tests change the catalogue and look again at once; the cache has its own tests.
        "CHAT_BROWSE_CACHE_SECONDS": 0,
    }
    cfg.update(overrides)
    return cfg


def sandbox_settings(port: int, **overrides: Any) -> dict[str, Any]:
    """Overrides of an app in sandbox mode served on ``port`` (notifies are not retried)."""
    return {
        "WECHAT_SANDBOX": True,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "SANDBOX_NOTIFY_RETRY_DELAYS": (),
        **overrides,
    }


@contextmanager
def app_in_use(app: Flask, *, truncate: bool = False) -> Iterator[Flask]:
    """``app``'s context pushed, its tables created (or emptied: ``truncate``), Redis empty.

    ``truncate`` is for the session's PostgreSQL database, whose schema exists already.
    """
    with app.app_context():
        if truncate:
            truncate_all()
        else:
            db.create_all()
        get_redis().flushdb()
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()
            get_redis().flushdb()


@contextmanager
def served_app(app: Flask, port: int, *, truncate: bool = False) -> Iterator[str]:
    """``app`` in use (see ``app_in_use``) and served over HTTP on ``port``; yields its URL."""
    with app_in_use(app, truncate=truncate), serve(app, port) as url:
        yield url


@pytest.fixture
def make_app(tmp_path: Path, redis_url: str) -> MakeApp:
    """Factory: ``make_app(database_url=None, **overrides)`` builds an app (SQLite by default)."""

    def build(database_url: str | None = None, **overrides: Any) -> Flask:
        url = database_url or "sqlite:///" + str(tmp_path / "test.sqlite3")
        return create_app(app_settings(tmp_path, url, redis_url, **overrides))

    return build


@pytest.fixture
def app(make_app: MakeApp) -> Iterator[Flask]:
    """An app on a fresh SQLite database and an empty Redis, its context pushed."""
    with app_in_use(make_app()) as application:
        yield application


@pytest.fixture
def pg_app(make_app: MakeApp, postgres_url: str) -> Iterator[Flask]:
    """An app on the session's PostgreSQL database, emptied before the test."""
    with app_in_use(make_app(postgres_url), truncate=True) as application:
        yield application


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
def live_sandbox(make_app: MakeApp) -> Iterator[LiveSandbox]:
    """The app in sandbox mode served on a free port (context pushed, SQLite, empty Redis)."""
    port = reserve_port()
    application = make_app(**sandbox_settings(port))
    with served_app(application, port) as url:
        yield LiveSandbox(application, url)
