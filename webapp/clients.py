"""What the entry points hand down: the app's settings and the pay gateway.

Views and CLI commands call these with the running app (``current_app`` when
omitted) and pass the results to the services, which never look them up.
"""
from __future__ import annotations

from flask import Flask, current_app

from adapters.wechat import pay_v2
from adapters.wechat.pay_v2 import PayGateway
from core.settings import Settings

SETTINGS_KEY = "chatshop.settings"


def _app(app: Flask | None) -> Flask:
    return app or current_app._get_current_object()  # type: ignore[attr-defined]


def app_settings(app: Flask | None = None) -> Settings:
    """The app's settings object (built by the factory from its config)."""
    settings: Settings = _app(app).extensions[SETTINGS_KEY]
    return settings


def pay_gateway(app: Flask | None = None) -> PayGateway:
    """The app's WeChat Pay gateway (one per app; tests may put a fake in its place)."""
    return pay_v2.pay_gateway(_app(app))
