"""Fixtures for the H5 pages: the fake WeChat API for OAuth, apps with and without the sandbox."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask import Flask

from tests.integration.test_payments_support import FakeGateway, install_fake_gateway
from tests.wechat_client.conftest import fake  # noqa: F401  (the fake WeChat API)
from tests.wechat_client.fake_wechat import FakeWeChat
from webapp.extensions import db
from webapp.redis_conn import get_redis


@dataclass
class RealModeApp:
    """An app as in production (no sandbox): OAuth at the fake, WeChat Pay faked in-process."""

    app: Flask
    gateway: FakeGateway
    wechat: FakeWeChat


@pytest.fixture
def real_mode(make_test_app: Any, fake: FakeWeChat) -> Iterator[RealModeApp]:  # noqa: F811
    """The app with WECHAT_SANDBOX off, its context pushed, on SQLite and an empty Redis."""
    application = make_test_app(WECHAT_API_BASE_URL=fake.api_base_url)
    gateway = install_fake_gateway(application)
    with application.app_context():
        db.create_all()
        get_redis().flushdb()
        yield RealModeApp(application, gateway, fake)
        db.session.remove()
        db.engine.dispose()
        get_redis().flushdb()






def oauth_target(location: str) -> tuple[str, dict[str, str]]:
    """The authorize URL's base (no query) and its query parameters."""
    parts = urlsplit(location)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return f"{parts.scheme}://{parts.netloc}{parts.path}", query


def callback_path(location: str, code: str) -> str:
    """The callback URL WeChat would send the browser to after authorising ``location``."""
    _, query = oauth_target(location)
    target = urlsplit(query["redirect_uri"])
    return f"{target.path}?{urlencode({'code': code, 'state': query['state']})}"
