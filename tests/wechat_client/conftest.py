"""Fixtures: a fake official-account API over real HTTP and an app pointed at it."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from tests.support.live_server import LiveSandbox
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





@pytest.fixture
def live_oa(live_sandbox: LiveSandbox) -> LiveSandbox:
    """The shared live sandbox (tests/conftest.py), under the name these tests use."""
    return live_sandbox
