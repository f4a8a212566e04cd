"""Domain errors raised by services: each names its HTTP status and code for the entry points
that render it (``webapp.http.errors``), but carries no HTTP type."""
from __future__ import annotations

from typing import Any


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
