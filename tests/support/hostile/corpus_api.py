"""Hostile cases for the REST API, generated from its OpenAPI document.

Every operation in ``/api/v1/openapi.json`` gets cases, so a new endpoint is
covered the day it is added: secured operations are tried anonymous and with
bad tokens (and with the wrong role where the document promises a 403); integer
path and query parameters with out-of-range, huge, fractional and non-numeric
values; enum and date parameters with injection strings; and every request
body with broken JSON, wrong shapes, deep nesting, unknown fields and, property
by property (nested ones too), values outside the schema: huge and negative
numbers, floats for integers and money, wrong types, lone surrogates, strings
over the length limit. Body cases are sent by a caller of the right role on
rows that caller owns, so a value the schema lets through reaches the service.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import cache, lru_cache
from typing import Any

from flask import Flask

from tests.support.hostile.support import (
    INJECTIONS,
    LONE_SURROGATE,
    Case,
    Req,
    World,
)

API = "api"
DEEP = 100_000
MIB = 1024 * 1024
METHODS = ("get", "post", "put", "patch", "delete")

# Which seeded caller owns an operation, by path prefix (first match wins).
ROLE_BY_PREFIX = (
    ("/api/v1/operator/", "operator"),
    ("/api/v1/supplier/", "supplier"),
    ("/api/v1/distributor/", "distributor"),
)
# A caller who lacks the role an operation needs (for its documented 403).
WRONG_ROLE = {"operator": "supplier", "supplier": "consumer", "distributor": "other",
              "consumer": "supplier"}
# Path parameters (and id fields of bodies) resolved to rows the caller owns: World.ids keys.
ID_PARAMS = {
    "product_id": "product", "sku_id": "sku", "order_id": "paid_order", "address_id": "address",
    "supplier_id": "other_supplier", "tier_id": "tier", "settlement_id": "refund",
    "withdrawal_id": "refund", "category_id": "category", "upline_id": "distributor",
    "parent_id": "category",
}
USER_PARAM = {"/api/v1/operator/distributors/": "distributor"}
STRING_PARAMS = {"role": "supplier", "action": "freeze"}
BAD_IDS = {
    "negative": "-1", "over-int32": str(2**31), "2**63": str(2**63), "letters": "1.5e3",
    "absent": str(2**31 - 1),
}
BAD_INT_QUERY = {"negative": "-1", "2**63": str(2**63), "10**30": str(10**30), "float": "1.5",
                 "letters": "abc", "sql": INJECTIONS["sql"]}


@lru_cache(maxsize=1)
def reader_app() -> Flask:
    """An app built only to read its routes and OpenAPI document (no database, no Redis)."""
    from webapp import create_app

    return create_app({"TESTING": True, "DATABASE_URL": "sqlite://",
                       "REDIS_URL": "redis://unused",
                       "SECRET_KEY": "openapi-reader-" + "x" * 32})


@lru_cache(maxsize=1)
def openapi() -> dict[str, Any]:
    """The app's OpenAPI document."""
    document = reader_app().test_client().get("/api/v1/openapi.json").get_json()
    assert document and document.get("paths"), "no OpenAPI document"
    return document  # type: ignore[no-any-return]


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, path template, operation) for every operation in the document."""
    for path, item in openapi()["paths"].items():
        for method in METHODS:
            if method in item:
                op = dict(item[method])
                op["parameters"] = list(item.get("parameters", [])) + list(
                    op.get("parameters", []))
                yield method.upper(), path, op


def _schema(ref_or_schema: dict[str, Any]) -> dict[str, Any]:
    ref = ref_or_schema.get("$ref")
    if ref:
        return _schema(openapi()["components"]["schemas"][ref.split("/")[-1]])
    if "allOf" in ref_or_schema and len(ref_or_schema["allOf"]) == 1:
        return _schema(ref_or_schema["allOf"][0])
    return ref_or_schema


def _body_schema(op: dict[str, Any]) -> dict[str, Any] | None:
    content = op.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    return _schema(schema) if schema else None


def role_of(path: str) -> str:
    """The seeded caller an operation belongs to."""
    return next((role for prefix, role in ROLE_BY_PREFIX if path.startswith(prefix)), "consumer")


def _id_for(world: World, path: str, name: str) -> str:
    if name in STRING_PARAMS:
        return STRING_PARAMS[name]
    if name == "user_id":
        key = next((k for p, k in USER_PARAM.items() if path.startswith(p)), "other")
        return str(world.ids[key])
    return str(world.ids.get(ID_PARAMS.get(name, ""), 1))


def _fill(world: World, path: str, override: dict[str, str] | None = None) -> str:
    out = path
    for name in _path_names(path):
        value = (override or {}).get(name) or _id_for(world, path, name)
        out = out.replace("{" + name + "}", value)
    return out


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]


def _auth(world: World, role: str | None) -> dict[str, str]:
    return {} if role is None else {"Authorization": "Bearer " + world.tokens[role]}


def _request(method: str, path: str, role: str | None, *, query: Any = None,
             body: bytes | None = None, headers: dict[str, str] | None = None,
             path_override: dict[str, str] | None = None) -> Callable[[World], Req]:
    def build(world: World) -> Req:
        all_headers = {**_auth(world, role), **(headers or {})}
        return Req(method, _fill(world, path, path_override), query=query, data=body,
                   headers=all_headers,
                   content_type="application/json" if body is not None else None)
    return build


# --- example bodies ------------------------------------------------------------------------


def _example(schema: dict[str, Any], name: str = "") -> Any:
    """A value the schema accepts (ids left as markers resolved per world)."""
    schema = _schema(schema)
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "integer":
        if name in ID_PARAMS:
            return {"$id": ID_PARAMS[name]}
        low = schema.get("minimum", 1)
        return max(low, min(1, schema.get("maximum", 1)))
    if kind == "number":
        return 1
    if kind == "boolean":
        return False
    if kind == "string":
        if schema.get("format") == "date-time":
            return "2024-01-01T00:00:00+00:00"
        return "ok"
    if kind == "array":
        return [_example(schema.get("items", {}), name)]
    if kind == "object" or "properties" in schema:
        required = schema.get("required", [])
        return {key: _example(prop, key) for key, prop in schema.get("properties", {}).items()
                if key in required}
    return "ok"


# Bodies the generic example cannot guess (an order needs items and where to send them).
EXAMPLES: dict[str, dict[str, Any]] = {
    "/api/v1/orders": {"items": [{"sku_id": {"$id": "sku"}, "quantity": 1}],
                       "address_id": {"$id": "address"}},
    "/api/v1/operator/commission-plan/versions": {"rules": {"rates_bp": [1000, 500]}},
}


def _resolve(world: World, value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$id"}:
            return world.ids[value["$id"]]
        return {k: _resolve(world, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(world, v) for v in value]
    return value


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=True).encode()


def _set(body: Any, where: tuple[Any, ...], value: Any) -> Any:
    """A copy of ``body`` with the item at ``where`` (keys and list indexes) set to ``value``."""
    if not where:
        return value
    head, rest = where[0], where[1:]
    if isinstance(head, int):
        items = list(body) if isinstance(body, list) else []
        while len(items) <= head:
            items.append({})
        items[head] = _set(items[head], rest, value)
        return items
    copy = dict(body) if isinstance(body, dict) else {}
    copy[head] = _set(copy.get(head, {}), rest, value)
    return copy


def _bad_values(schema: dict[str, Any]) -> dict[str, Any]:
    """Values the property's schema must refuse, by name."""
    schema = _schema(schema)
    kind = schema.get("type")
    bad: dict[str, Any] = {}
    if not schema.get("nullable"):
        bad["null"] = None
    if kind == "integer" or kind == "number":
        if "maximum" in schema:
            bad["max+1"] = schema["maximum"] + 1
        if "minimum" in schema:
            bad["min-1"] = schema["minimum"] - 1
        bad.update({"2**63": 2**63, "10**30": 10**30})
        if kind == "integer":
            bad["float"] = 1.5
        bad.update({"bool": True, "sql": INJECTIONS["sql"]})
    elif kind == "string":
        bad.update({"lone-surrogate": LONE_SURROGATE, "number": 123})
        if "maxLength" in schema:
            bad["too-long"] = "x" * (schema["maxLength"] + 1)
        if "enum" in schema or schema.get("format"):
            bad.update({"sql": INJECTIONS["sql"], "template": INJECTIONS["template"],
                        "html": INJECTIONS["html"]})
        if schema.get("format") == "date-time":
            bad["bad-date"] = "2024-13-45T99:99:99"
    elif kind == "boolean":
        bad.update({"word": "maybe", "two": 2, "object": {}})
    elif kind == "array":
        bad.update({"string": "notalist", "object": {}})
        if schema.get("minItems", 0) >= 1:
            bad["empty"] = []
        if "maxItems" in schema:
            bad["too-many"] = [_example(schema.get("items", {}))] * (schema["maxItems"] + 1)
    elif kind == "object" or "properties" in schema:
        bad.update({"list": [], "string": "x"})
    elif kind is None:  # an untyped (free-form) value checked by the service: try everything
        bad.update({"2**63": 2**63, "10**30": 10**30, "negative": -1, "float": 1.5,
                    "sql": INJECTIONS["sql"], "lone-surrogate": LONE_SURROGATE,
                    "junk-list": [None, {}, "x"]})
    return bad


def _property_paths(schema: dict[str, Any], prefix: tuple[Any, ...] = (),
                    depth: int = 0) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Every property of a body (nested objects and first array items too), with its schema."""
    schema = _schema(schema)
    for key, prop in schema.get("properties", {}).items():
        prop = _schema(prop)
        if prop.get("description") == "ignored":
            continue  # documented as ignored (e.g. a client's own idea of a price): no refusal due
        where = (*prefix, key)
        yield where, prop
        if depth < 2:
            if prop.get("type") == "array" and "properties" in _schema(prop.get("items", {})):
                yield from _property_paths(prop["items"], (*where, 0), depth + 1)
            elif "properties" in prop:
                yield from _property_paths(prop, where, depth + 1)


def _label(where: tuple[Any, ...]) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in where).replace(".[", "[")


def _body_case(method: str, path: str, role: str, name: str,
               make: Callable[[World, Any], bytes]) -> Case:
    example = EXAMPLES.get(path)

    def build(world: World) -> Req:
        schema = _body_schema(_op(method, path)) or {}
        base = _resolve(world, example if example is not None else _example(schema))
        return _request(method, path, role, body=make(world, base))(world)
    return Case(API, f"{method} {path} body {name}", build)


@cache
def _ops_by_key() -> dict[tuple[str, str], dict[str, Any]]:
    return {(m, p): op for m, p, op in operations()}


def _op(method: str, path: str) -> dict[str, Any]:
    return _ops_by_key()[(method, path)]


def _deep(opening: str, closing: str) -> bytes:
    return (opening * DEEP + closing * DEEP).encode()


WHOLE_BODIES: dict[str, Callable[[World, Any], bytes]] = {
    "not-json": lambda w, b: b'{"a": ',
    "invalid-utf8": lambda w, b: b'{"name": "\xff\xfe"}',
    "array": lambda w, b: b"[]",
    "null": lambda w, b: b"null",
    "string": lambda w, b: b'"body"',
    "number": lambda w, b: b"12",
    "nan": lambda w, b: b'{"x": NaN}',
    "unknown-field": lambda w, b: _dumps({**b, "__proto__": {"admin": True}, "role": "operator"}
                                         if isinstance(b, dict) else b),
    "deep-array": lambda w, b: _deep("[", "]"),
    "deep-object": lambda w, b: _deep('{"a":', "}"),
    "oversized": lambda w, b: b'{"x": "' + b"x" * (MIB + 1) + b'"}',
}


def api_cases() -> list[Case]:
    """Every API case, in document order."""
    cases: list[Case] = []
    for method, path, op in operations():
        secured = bool(op.get("security"))
        role = role_of(path)
        responses = op.get("responses", {})
        body_schema = _body_schema(op)
        key = f"{method} {path}"
        if secured:
            cases += [
                Case(API, f"{key} anonymous", _request(method, path, None)),
                Case(API, f"{key} forged-token", _request(method, path, None, headers={
                    "Authorization": "Bearer cs_" + "A" * 43})),
                Case(API, f"{key} token-sql", _request(method, path, None, headers={
                    "Authorization": "Bearer cs_' OR '1'='1"})),
            ]
            if body_schema is not None:
                cases.append(Case(API, f"{key} anonymous-deep-body", _request(
                    method, path, None, body=_deep("[", "]"))))
            if "403" in responses:
                cases.append(Case(API, f"{key} wrong-role", _request(method, path,
                                                                     WRONG_ROLE[role])))
        caller = role if secured else None
        for param in op["parameters"]:
            name, where = param["name"], param["in"]
            pschema = _schema(param.get("schema", {}))
            if where == "path":
                if pschema.get("type") == "integer":
                    for label, value in BAD_IDS.items():
                        cases.append(Case(API, f"{key} path {name}={label}", _request(
                            method, path, caller, path_override={name: value})))
                else:
                    for label in ("sql", "path", "template"):
                        cases.append(Case(API, f"{key} path {name}={label}", _request(
                            method, path, caller,
                            path_override={name: INJECTIONS[label].replace("/", "%2F")})))
            elif where == "query":
                values: dict[str, str] = {}
                if pschema.get("type") == "integer":
                    values = dict(BAD_INT_QUERY)
                    if "maximum" in pschema:
                        values["max+1"] = str(pschema["maximum"] + 1)
                elif "enum" in pschema or pschema.get("format"):
                    values = {k: INJECTIONS[k] for k in ("sql", "template", "html")}
                    values["lone-surrogate"] = LONE_SURROGATE
                elif "maxLength" in pschema:
                    values = {"too-long": "x" * (pschema["maxLength"] + 1)}
                for label, value in values.items():
                    query = f"{name}=%ED%A0%80" if value == LONE_SURROGATE else {name: value}
                    cases.append(Case(API, f"{key} query {name}={label}", _request(
                        method, path, caller, query=query)))
        if body_schema is None or caller is None:
            continue
        for label, make in WHOLE_BODIES.items():
            cases.append(_body_case(method, path, caller, label, make))
        for where_in_body, prop in _property_paths(body_schema):
            for label, value in _bad_values(prop).items():
                cases.append(_body_case(
                    method, path, caller, f"{_label(where_in_body)}={label}",
                    lambda w, b, at=where_in_body, v=value: _dumps(_set(b, at, v))))
    return cases


def request_schemas() -> list[type[Any]]:
    """The marshmallow schema class of every request body and query string the API loads
    (read from the views' ``@blp.arguments``, so a new endpoint's schemas come with it)."""
    found: dict[str, type[Any]] = {}
    for view in reader_app().view_functions.values():
        view_class = getattr(view, "view_class", None)
        candidates = [view] + [getattr(view_class, m) for m in METHODS
                               if view_class is not None and hasattr(view_class, m)]
        for func in candidates:
            while func is not None:
                doc = getattr(func, "_apidoc", None) or {}
                for param in doc.get("arguments", {}).get("parameters", []):
                    schema = param["schema"]
                    cls = schema if isinstance(schema, type) else type(schema)
                    found[f"{cls.__module__}.{cls.__name__}"] = cls
                func = getattr(func, "__wrapped__", None)
    return [found[key] for key in sorted(found)]


def cases() -> list[Case]:
    """Every REST API case."""
    return api_cases()


__all__ = ["api_cases", "cases", "openapi", "operations", "request_schemas", "role_of"]
