"""Fixtures: a fake official-account API over real HTTP and an app pointed at it."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from tests.support.live_server import reserve_port, serve
from tests.wechat_client.fake_wechat import FakeWeChat, serve_fake
from tests.workers.conftest import keep_signal_handlers, work_queues  # noqa: F401
from webapp.extensions import db
from webapp.redis_conn import get_redis


@pytest.fixture
def fake() -> Iterator[FakeWeChat]:
    """The fake WeChat API, served on a free port."""
    with serve_fake() as served:
        yield served


@pytest.fixture
def wx_app(make_test_app: Any, fake: FakeWeChat) -> Iterator[Flask]:
    """An app (SQLite, empty Redis) whose official-account client calls the fake."""
    application = make_test_app(WECHAT_API_BASE_URL=fake.api_base_url)
    with application.app_context():
        db.create_all()
        get_redis().flushdb()
        yield application
        db.session.remove()
        db.engine.dispose()
        get_redis().flushdb()


@dataclass
class LiveSandbox:
    """The app in sandbox mode served over HTTP: its official-account API is the sandbox's."""

    app: Flask
    url: str


@pytest.fixture
def live_oa(make_test_app: Any) -> Iterator[LiveSandbox]:
    """A sandbox app served on a free port (context pushed, SQLite, empty Redis)."""
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
