"""ChatShop web application: the app factory."""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from core import models  # noqa: F401  (importing the models registers their tables)
from core.settings import SETTINGS_KEY, Settings, build_config
from core.settings_check import UnsafeConfiguration, check_settings, fatal_findings, is_sandbox
from webapp import redis_conn
from webapp.extensions import db, migrate
from webapp.http import errors, register_http
from webapp.sessions import BrowserOnlySessionInterface

log = logging.getLogger(__name__)

MIGRATIONS_DIR = os.path.join(os.path.dirname(__file__), "migrations")


def _instance_path() -> str | None:
    """Instance folder: $CHATSHOP_INSTANCE_PATH, else Flask's default (./instance)."""
    path = os.environ.get("CHATSHOP_INSTANCE_PATH")
    return os.path.abspath(path) if path else None


def _explicitly_testing(config: Mapping[str, Any] | None) -> bool:
    """TESTING=True passed by code in ``config``: the environment alone can never set it."""
    return config is not None and config.get("TESTING") is True


def _refuse_unsafe_settings(settings: Mapping[str, Any]) -> None:
    """Raise UnsafeConfiguration on fatal findings; log the warnings (not in sandbox mode)."""
    if is_sandbox(settings):
        return
    findings = check_settings(settings)
    if fatal_findings(findings):
        # Raised, not logged: gunicorn and the CLI each show the message once.
        raise UnsafeConfiguration(findings)
    for finding in findings:
        log.warning("configuration: %s", finding.line())


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build a ChatShop app; ``config`` overrides settings read from the environment.

    Outside sandbox mode the settings must pass ``core.settings_check``: a missing
    or development secret raises ``UnsafeConfiguration`` naming every one of them
    before anything is opened. Apps built by tests with ``{"TESTING": True}`` in
    ``config`` are exempt.
    """
    instance_path = (config or {}).get("INSTANCE_PATH") or _instance_path()
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    settings = build_config(app.instance_path, config)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if not _explicitly_testing(config):
        _refuse_unsafe_settings(settings)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(settings)
    app.extensions[SETTINGS_KEY] = Settings.from_config(app.config)

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)
    redis_conn.init_app(app)
    errors.init_app(app)
    app.session_interface = BrowserOnlySessionInterface()
    register_http(app)
    return app
