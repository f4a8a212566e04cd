"""H5 tests: the app as in production (fixture ``real_mode``) and OAuth redirects read."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from flask import Flask

from tests.support.apps import MakeApp, app_in_use
from tests.support.fake_wechat import FakeWeChat
from tests.support.live_server import LiveSandbox
from tests.support.payments import FakeGateway, install_fake_gateway


@dataclass
class RealModeApp:
    """An app as in production (no sandbox): OAuth at the fake, WeChat Pay faked in-process."""

    app: Flask
    gateway: FakeGateway
    wechat: FakeWeChat


@pytest.fixture
def real_mode(make_app: MakeApp, fake_wechat: FakeWeChat) -> Iterator[RealModeApp]:
    """The app with WECHAT_SANDBOX off, its context pushed, on SQLite and an empty Redis."""
    application = make_app(WECHAT_API_BASE_URL=fake_wechat.api_base_url)
    gateway = install_fake_gateway(application)
    with app_in_use(application):
        yield RealModeApp(application, gateway, fake_wechat)


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


def signed_in_browser(live: LiveSandbox, path: str, openid: str) -> requests.Response:
    """Open ``path`` in a fresh browser, pick ``openid`` on the sandbox authorize page."""
    browser = requests.Session()
    first = browser.get(live.url + path, allow_redirects=False, timeout=10)
    assert first.status_code == 302
    base, query = oauth_target(first.headers["Location"])
    assert base == live.url + "/sandbox/wechat/connect/oauth2/authorize"
    assert query["scope"] == "snsapi_base"
    authorize = first.headers["Location"].split("#", 1)[0]
    page = browser.post(authorize, data={"openid": openid}, timeout=10)
    page.browser = browser  # type: ignore[attr-defined]
    return page
