"""ChatShop web application: the app factory."""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from webapp.config import build_config

MIGRATIONS_DIR = os.path.join(os.path.dirname(__file__), "migrations")


def _instance_path() -> str | None:
    """Instance folder: $CHATSHOP_INSTANCE_PATH, else Flask's default (./instance)."""
    path = os.environ.get("CHATSHOP_INSTANCE_PATH")
    return os.path.abspath(path) if path else None


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build a ChatShop app; ``config`` overrides settings read from the environment."""
    instance_path = (config or {}).get("INSTANCE_PATH") or _instance_path()
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(build_config(app.instance_path, config))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)

    from webapp import errors, models, redis_conn  # noqa: F401  (models registers tables)
    from webapp.extensions import db, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)
    redis_conn.init_app(app)
    errors.init_app(app)

    from webapp.sessions import BrowserOnlySessionInterface

    app.session_interface = BrowserOnlySessionInterface()

    from webapp.http import register_http

    register_http(app)
    return app
