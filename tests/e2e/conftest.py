"""The shop served over real HTTP in sandbox mode, in plaintext and in safe (AES) mode."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from tests.support.live_server import reserve_port, serve
from webapp.extensions import db
from webapp.redis_conn import get_redis

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@pytest.fixture(params=["plain", "aes"])
def shop(request: pytest.FixtureRequest, make_test_app: Any) -> Iterator[Flask]:
    """The demo-like app in sandbox mode, served on a free port (mode in E2E_MODE)."""
    port = reserve_port()
    app = make_test_app(
        WECHAT_SANDBOX=True,
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        WECHAT_ENCODING_AES_KEY=AES_KEY,
        SANDBOX_NOTIFY_RETRY_DELAYS=(),
    )
    app.config["E2E_MODE"] = request.param
    with app.app_context():
        db.create_all()
        get_redis().flushdb()
        with serve(app, port):
            yield app
        db.session.remove()
        get_redis().flushdb()
        db.engine.dispose()
