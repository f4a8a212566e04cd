"""What the entry points hand down: the app's settings and the clients built from them.

Views, CLI commands and jobs call these with the running app (``current_app`` when
omitted); everything below them receives the objects as parameters. Each client is
built once per app and kept in ``app.extensions`` (tests may put a fake there).
"""
from __future__ import annotations

import redis
from flask import Flask, current_app

from adapters.wechat.client import ChatShopWeChatClient, kept_client
from adapters.wechat.pay_v2 import PayGateway, kept_gateway
from core.settings import Settings, settings_in
from webapp.redis_conn import get_redis


def _app(app: Flask | None) -> Flask:
    return app or current_app._get_current_object()  # type: ignore[attr-defined]


def app_settings(app: Flask | None = None) -> Settings:
    """The app's settings object (built by the factory from its config)."""
    return settings_in(_app(app).extensions)


def app_redis(app: Flask | None = None) -> redis.Redis:
    """The app's shared fail-fast Redis client."""
    return get_redis(_app(app))


def wechat_client(app: Flask | None = None) -> ChatShopWeChatClient:
    """The app's official-account client (one per app, reused across requests and jobs)."""
    application = _app(app)
    return kept_client(application.extensions, app_settings(application), get_redis(application))


def pay_gateway(app: Flask | None = None) -> PayGateway:
    """The app's WeChat Pay gateway (one per app; tests may put a fake in its place)."""
    application = _app(app)
    return kept_gateway(application.extensions, app_settings(application))
