"""Fixtures: the fake official-account API over real HTTP and an app pointed at it."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from tests.support.apps import MakeApp, app_in_use
from tests.support.fake_wechat import FakeWeChat
from tests.support.live_server import LiveSandbox


@pytest.fixture
def fake(fake_wechat: FakeWeChat) -> FakeWeChat:
    """The fake WeChat API (tests/support/fake_wechat.py), under the name these tests use."""
    return fake_wechat


@pytest.fixture
def wx_app(make_app: MakeApp, fake_wechat: FakeWeChat) -> Iterator[Flask]:
    """An app (SQLite, empty Redis) whose official-account client calls the fake."""
    with app_in_use(make_app(WECHAT_API_BASE_URL=fake_wechat.api_base_url)) as application:
        yield application


@pytest.fixture
def live_oa(live_sandbox: LiveSandbox) -> LiveSandbox:
    """The shared live sandbox (tests/support/apps.py), under the name these tests use."""
    return live_sandbox
