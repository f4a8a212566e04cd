"""The settings object and pay gateway a test hands to the services, as the entry points do.

``settings_of()`` is the app's ``core.settings.Settings`` (built by the factory);
``gateway_of()`` its pay gateway (the real one, or the fake a test installed).
A test that changes ``app.config`` after the app was built calls
``reconfigure(app, **changes)`` so the settings object says the same.
"""
from __future__ import annotations

from typing import Any

from flask import Flask, current_app

from adapters.wechat.pay_v2 import PayGateway
from core.settings import SETTINGS_KEY, Settings, settings_in
from webapp.clients import pay_gateway


def _app(app: Flask | None) -> Flask:
    return app or current_app._get_current_object()  # type: ignore[attr-defined]


def settings_of(app: Flask | None = None) -> Settings:
    """The settings of ``app`` (the current app when omitted)."""
    return settings_in(_app(app).extensions)


def gateway_of(app: Flask | None = None) -> PayGateway:
    """The pay gateway of ``app`` (the current app when omitted)."""
    return pay_gateway(_app(app))


def reconfigure(app: Flask, **changes: Any) -> Settings:
    """Change settings of a built app: its config and its settings object, together."""
    app.config.update(changes)
    settings = Settings.from_config(app.config)
    app.extensions[SETTINGS_KEY] = settings
    return settings
