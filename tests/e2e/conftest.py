"""The shop served over real HTTP in sandbox mode, in plaintext and in safe (AES) mode."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from tests.support.apps import MakeApp, sandbox_settings, served_app
from tests.support.live_server import reserve_port
from tests.support.wechat_messages import AES_KEY


@pytest.fixture(params=["plain", "aes"])
def shop(request: pytest.FixtureRequest, make_app: MakeApp) -> Iterator[Flask]:
    """The demo-like app in sandbox mode, served on a free port (mode in E2E_MODE)."""
    port = reserve_port()
    app = make_app(**sandbox_settings(port, WECHAT_ENCODING_AES_KEY=AES_KEY))
    app.config["E2E_MODE"] = request.param
    with served_app(app, port):
        yield app
