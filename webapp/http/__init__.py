"""HTTP entry points: health, REST API, WeChat callbacks and (in sandbox mode) the sandbox."""
from __future__ import annotations

import functools

from flask import Flask

from webapp.http import h5, health, wechat, wechat_pay
from webapp.http.api import create_api
from webapp.redis_conn import get_redis


def register_http(app: Flask) -> None:
    """Register every blueprint on the app."""
    app.register_blueprint(health.blp)

    create_api(app)

    app.register_blueprint(wechat_pay.blp)
    app.register_blueprint(wechat.blp)

    app.register_blueprint(h5.blp)

    if app.config.get("WECHAT_SANDBOX"):
        from sandbox import register_sandbox  # late: loaded only in sandbox mode

        # The sandbox keeps its state in the app's Redis, reached through the app's client.
        register_sandbox(app, redis_factory=functools.partial(get_redis, app))
