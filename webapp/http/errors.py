"""How HTTP renders domain errors (and a too-large body) as JSON."""
from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from core.errors import DomainError


def error_body(status: int, message: str, code: str, **details: Any) -> dict[str, Any]:
    """The JSON shape of every API error (matches flask-smorest's)."""
    body: dict[str, Any] = {"code": status, "status": code, "message": message}
    if details:
        body["errors"] = details
    return body


def init_app(app: Flask) -> None:
    """Render domain errors as JSON with their status code."""

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError) -> tuple[Response, int]:
        app.logger.info("refused: %s %s", exc.error_code, exc.message)
        return jsonify(error_body(exc.status_code, exc.message, exc.error_code, **exc.details)), (
            exc.status_code
        )

    @app.errorhandler(413)
    def _too_large(exc: HTTPException) -> tuple[Response, int]:
        return jsonify(error_body(413, "request body too large", "too_large")), 413
