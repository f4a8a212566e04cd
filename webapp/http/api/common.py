"""Pieces every API resource shares: id path converter, request parsing, pagination, logging.

Every resource module builds its blueprint with :class:`ChatShopBlueprint`, so
every request body and query string goes through :class:`ChatShopParser`:
JSON nested too deeply (or unreadable) is a 400 before any schema sees it,
text that cannot be stored (NUL, lone surrogates) anywhere in a body or a
query string is a 422, and page numbers are bounded.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import marshmallow as ma
from flask import Flask, current_app, request
from flask_smorest import Api, Blueprint
from flask_smorest.pagination import PaginationParameters
from sqlalchemy import Select, func, select
from webargs import core
from webargs.flaskparser import FlaskParser, abort
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, Map

from core.bounds import MAX_ID, MAX_JSON_DEPTH, MAX_PAGE, MAX_PAGE_SIZE, text_problem
from webapp.extensions import db

__all__ = ["MAX_ID", "ChatShopApi", "ChatShopBlueprint", "ChatShopParser", "paginate",
           "register_id_converter"]

# What an error body says when the code raising it gave no message of its own.
_DEFAULT_MESSAGES = {
    400: "the request could not be read",
    401: "authentication required",
    403: "not allowed",
    404: "not found",
    405: "method not allowed",
    413: "request body too large",
    415: "unsupported content type",
    422: "the request is invalid; see errors",
}
# At most this many unstorable texts are listed in one answer.
_MAX_TEXT_ERRORS = 20


class IdConverter(IntegerConverter):
    """Path converter ``<id:name>``: a positive database id that fits the column."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        super().__init__(map, min=1, max=MAX_ID)


def _id_param_schema(converter: IdConverter) -> dict[str, Any]:
    return {"type": "integer", "minimum": 1, "maximum": MAX_ID}


class ChatShopApi(Api):
    """flask-smorest's Api, also logging every refused request."""

    def handle_http_exception(self, error: HTTPException) -> Any:
        """Log client errors (the refusal is part of the audit trail of an API), then render.

        Every error body has a ``message``, like the domain errors' bodies.
        """
        code = error.code or 500
        if 400 <= code < 500:
            data = getattr(error, "data", None) or {}
            current_app.logger.info(
                "refused: %s %s %s -> %s %s",
                request.method, request.path, error.name, code,
                ascii(data.get("messages") or data.get("message") or "")[:500],
            )
        payload, status, headers = super().handle_http_exception(error)
        if not payload.get("message"):
            payload["message"] = _DEFAULT_MESSAGES.get(code, error.name)
        return payload, status, headers


def _nested_error(path: Sequence[str | int], message: str) -> dict[str | int, Any]:
    """``{"a": {0: {"b": [message]}}}`` for the path a, 0, b (marshmallow's error shape)."""
    error: Any = [message]
    for step in reversed(path):
        error = {step: error}
    return error


def _merge(into: dict[Any, Any], error: Mapping[Any, Any]) -> None:
    for key, value in error.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into.setdefault(key, value)


def _shown_key(key: str) -> str:
    # A key that is itself unstorable is named escaped, so the answer stays valid text.
    return key if text_problem(key) is None else ascii(key)


def _walk(data: Any) -> Iterator[tuple[int, tuple[str | int, ...], Any]]:
    """Every value of a parsed JSON document with its depth and path, without recursion."""
    stack: list[tuple[int, tuple[str | int, ...], Any]] = [(1, (), data)]
    while stack:
        depth, path, value = stack.pop()
        yield depth, path, value
        if isinstance(value, dict):
            for key, item in value.items():
                yield depth, (*path, _shown_key(key)), key
                stack.append((depth + 1, (*path, _shown_key(key)), item))
        elif isinstance(value, list):
            stack.extend((depth + 1, (*path, index), item) for index, item in enumerate(value))


def json_problems(data: Any) -> tuple[bool, dict[Any, Any]]:
    """Whether ``data`` nests deeper than allowed, and where it holds unstorable text."""
    errors: dict[Any, Any] = {}
    found = 0
    for depth, path, value in _walk(data):
        if depth > MAX_JSON_DEPTH:
            return True, {}
        if isinstance(value, str) and found < _MAX_TEXT_ERRORS:
            problem = text_problem(value)
            if problem is not None:
                found += 1
                _merge(errors, _nested_error(path or ("_schema",), problem))
    return False, errors


class ChatShopParser(FlaskParser):
    """webargs' Flask parser, refusing what no schema should have to see.

    JSON that is nested deeper than ``MAX_JSON_DEPTH`` (or so deep the decoder
    gives up, or otherwise undecodable, like an integer of 5 000 digits) is a
    400; a NUL or a lone surrogate in any string or key of the body, or in any
    query value, is a 422 naming where it is.
    """

    def load_json(self, req: Any, schema: ma.Schema) -> Any:
        """The request's JSON body, refused early when it is too deep or holds bad text."""
        try:
            data = super().load_json(req, schema)
        except RecursionError:
            abort(400, messages={"json": [f"JSON nested deeper than {MAX_JSON_DEPTH} levels"]},
                  message="JSON nested too deeply")
        except ValueError:  # not a JSONDecodeError (webargs handles those), e.g. a huge number
            abort(400, messages={"json": ["Invalid JSON body."]},
                  message="the request could not be read")
        if data is core.missing:
            return data
        too_deep, errors = json_problems(data)
        if too_deep:
            abort(400, messages={"json": [f"JSON nested deeper than {MAX_JSON_DEPTH} levels"]},
                  message="JSON nested too deeply")
        if errors:
            abort(422, messages={"json": errors}, message="the request holds text that cannot "
                                                          "be stored")
        return data

    def load_querystring(self, req: Any, schema: ma.Schema) -> Any:
        """The query values, refused when any holds text that cannot be stored."""
        errors: dict[str, list[str]] = {}
        for name, values in req.args.lists():
            problems = [p for p in map(text_problem, (name, *values)) if p is not None]
            if problems:
                errors[_shown_key(name)] = problems[:1]
        if errors:
            abort(422, messages={"query": errors},
                  message="the request holds text that cannot be stored")
        return super().load_querystring(req, schema)


_BOUNDED_PAGES: dict[type[ma.Schema], type[ma.Schema]] = {}


def bounded_pagination_schema(schema: type[ma.Schema]) -> type[ma.Schema]:
    """flask-smorest's pagination schema with an upper bound on ``page`` as well.

    Without one, ``page=2**63`` makes an offset no database accepts (a 500).
    """
    bounded = _BOUNDED_PAGES.get(schema)
    if bounded is None:
        default = schema._declared_fields["page"].load_default
        page = ma.fields.Integer(load_default=default, validate=ma.validate.Range(1, MAX_PAGE))
        bounded = type(schema.__name__, (schema,), {"page": page})
        _BOUNDED_PAGES[schema] = bounded
    return bounded


class _PaginationParser(ChatShopParser):
    """Parses pagination arguments with the page number bounded."""

    def parse(self, argmap: Any, req: Any = None, **kwargs: Any) -> Any:
        """Parse ``argmap`` (the pagination schema), bounded."""
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            argmap = bounded_pagination_schema(argmap)
        return super().parse(argmap, req, **kwargs)


class ChatShopBlueprint(Blueprint):
    """flask-smorest's Blueprint with ChatShop's parser and bounded pagination."""

    ARGUMENTS_PARSER = ChatShopParser()
    PAGINATION_ARGUMENTS_PARSER = _PaginationParser()
    DEFAULT_PAGINATION_PARAMETERS = {"page": 1, "page_size": 10, "max_page_size": MAX_PAGE_SIZE}

    def paginate(self, pager: Any = None, **kwargs: Any) -> Any:
        """flask-smorest's ``paginate``, documenting the page's upper bound too."""
        decorate = super().paginate(pager, **kwargs)

        def decorator(func: Any) -> Any:
            wrapper = decorate(func)
            parameters = wrapper._apidoc["pagination"]["parameters"]
            parameters["schema"] = bounded_pagination_schema(parameters["schema"])
            return wrapper

        return decorator


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
