"""Field builders shared by the API schemas: ids, money in fen, bounded numbers and text.

Every limit comes from ``core.bounds``, the one table the services and
the pure rules read too. Text that cannot be stored (NUL, lone surrogates) is
refused for every field at once by the request parser (``webapp.http.api.common``).
"""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from core.bounds import MAX_ID, MAX_PRICE_FEN


def id_field(**kwargs: Any) -> fields.Integer:
    """A database id: a strict positive integer that fits the column."""
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


def query_id_field(**kwargs: Any) -> fields.Integer:
    """A database id in a query string (text there, so not strict)."""
    return fields.Integer(validate=validate.Range(min=1, max=MAX_ID), **kwargs)


def whole_field(low: int, high: int, **kwargs: Any) -> fields.Integer:
    """A strict whole number from ``low`` to ``high`` (never a float, a string or a bool)."""
    return fields.Integer(strict=True, validate=validate.Range(min=low, max=high), **kwargs)


def fen_field(minimum: int = 0, **kwargs: Any) -> fields.Integer:
    """An amount of money in integer fen, never a float."""
    return fields.Integer(
        strict=True, validate=validate.Range(min=minimum, max=MAX_PRICE_FEN), **kwargs
    )


def text_field(minimum: int = 0, maximum: int = 200, **kwargs: Any) -> fields.String:
    """A string of bounded length."""
    return fields.String(validate=validate.Length(min=minimum, max=maximum), **kwargs)


class MessageSchema(Schema):
    """A plain acknowledgement."""

    message = fields.String()
