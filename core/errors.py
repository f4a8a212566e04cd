"""Domain errors raised by services, and how HTTP renders them."""
from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException


class DomainError(Exception):
    """A refused request: the message is safe to show to the caller."""

    status_code = 400
    error_code = "invalid"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(DomainError):
    """The request itself is wrong (422 like schema errors)."""

    status_code = 422
    error_code = "invalid_input"


class NotFound(DomainError):
    """The thing does not exist, or the caller may not know it exists."""

    status_code = 404
    error_code = "not_found"


class Forbidden(DomainError):
    """The caller is known but may not do this."""

    status_code = 403
    error_code = "forbidden"


class Conflict(DomainError):
    """The thing is not in a state that allows this (e.g. order already paid)."""

    status_code = 409
    error_code = "conflict"


class OutOfStock(Conflict):
    """Not enough stock to reserve."""

    error_code = "out_of_stock"


class PaymentGatewayError(DomainError):
    """WeChat Pay refused or could not be reached."""

    status_code = 502
    error_code = "payment_gateway"


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
