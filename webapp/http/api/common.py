"""Pieces every API resource shares: id path converter, pagination of queries, logging."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Flask, current_app, request
from flask_smorest import Api
from flask_smorest.pagination import PaginationParameters
from sqlalchemy import Select, func, select
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, Map

from webapp.extensions import db

# Ids are 32-bit integer columns: a larger number in a URL is a 404, not a database error.
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """Path converter ``<id:name>``: a positive database id that fits the column."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        super().__init__(map, min=1, max=MAX_ID)


def _id_param_schema(converter: IdConverter) -> dict[str, Any]:
    return {"type": "integer", "minimum": 1, "maximum": MAX_ID}


class ChatShopApi(Api):
    """flask-smorest's Api, also logging every refused request."""

    def handle_http_exception(self, error: HTTPException) -> Any:
        """Log client errors (the refusal is part of the audit trail of an API), then render."""
        code = error.code or 500
        if 400 <= code < 500:
            data = getattr(error, "data", None) or {}
            current_app.logger.info(
                "refused: %s %s %s -> %s %s",
                request.method, request.path, error.name, code,
                data.get("messages") or data.get("message") or "",
            )
        return super().handle_http_exception(error)


def register_id_converter(app: Flask, api: Api) -> None:
    """Make ``<id:...>`` usable in routes and documented as a bounded integer."""
    app.url_map.converters["id"] = IdConverter
    api.register_converter(IdConverter, _id_param_schema)


def paginate(stmt: Select[Any], params: PaginationParameters) -> Sequence[Any]:
    """One page of ``stmt``'s rows; sets the item count flask-smorest puts in X-Pagination."""
    params.item_count = db.session.scalar(
        select(func.count()).select_from(stmt.order_by(None).subquery())
    )
    return db.session.scalars(stmt.limit(params.page_size).offset(params.first_item)).all()
