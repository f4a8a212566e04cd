"""Liveness and readiness probes."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import text

from webapp.extensions import db
from webapp.redis_conn import get_redis

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz() -> Response:
    """The process is up."""
    return jsonify(status="ok")


@blp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """The database and Redis answer; 503 naming what is down otherwise."""
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        current_app.logger.warning("readyz: database down: %s", exc)
        checks["database"] = "down"
        db.session.rollback()
    try:
        get_redis().ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        current_app.logger.warning("readyz: redis down: %s", exc)
        checks["redis"] = "down"
    ready = all(v == "ok" for v in checks.values())
    return jsonify(status="ready" if ready else "not_ready", checks=checks), (200 if ready else 503)
