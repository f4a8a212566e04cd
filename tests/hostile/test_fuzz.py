"""Property-based fuzzing of the wire parsers and of every API request schema.

The webhook's XML parser (``adapters.wechat.messages.wire.parse_fields``) and message mapper
(``read_message``), and WeChat Pay's flat-XML parser, either return plain values
or refuse with their own exception, whatever bytes arrive. Every marshmallow
schema of the REST API either loads arbitrary JSON or raises ``ValidationError``.
"""
from __future__ import annotations

import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError

from adapters.wechat.messages import ChatMessage, Refused, parse_fields, read_message
from adapters.wechat.pay_notify import NotifyRejected, parse_flat_xml
from tests.support.hostile.corpus_api import request_schemas

FUZZ = settings(max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])
# Over forty schemas: fewer examples each keeps the folder well under two minutes.
FUZZ_SCHEMA = settings(FUZZ, max_examples=60)
WECHAT_FIELDS = ["ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId",
                 "Event", "EventKey", "Location_X", "Location_Y", "Latitude", "Longitude", "Url",
                 "Encrypt"]
HOSTILE_TEXT = st.sampled_from([
    "\ud800", "]]>", "<![CDATA[", "<!DOCTYPE x>", "&lol;", "\x00", "\x1f", "qrscene_",
    "9" * 40, "-1", "1e9", "NaN", "inf", "' OR 1=1 --", "{{7*7}}", "<script>",
])
TEXT = st.one_of(st.text(), HOSTILE_TEXT, st.text(alphabet=string.digits, max_size=40))


def _xml_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;")


@st.composite
def xml_documents(draw: st.DrawFn) -> bytes:
    """Documents shaped like WeChat's: a root of leaf (sometimes nested) elements, some broken."""
    root = draw(st.sampled_from(["xml", "xml", "root", "XML"]))
    children = []
    for name in draw(st.lists(st.sampled_from(WECHAT_FIELDS) | st.from_regex(
            r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True), max_size=8)):
        value = draw(TEXT)
        style = draw(st.sampled_from(["text", "cdata", "nested", "raw"]))
        if style == "cdata":
            body = "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"
        elif style == "nested":
            body = f"<Inner>{_xml_text(value)}</Inner>"
        elif style == "raw":
            body = value  # may break the document on purpose
        else:
            body = _xml_text(value)
        children.append(f"<{name}>{body}</{name}>")
    prolog = draw(st.sampled_from(["", '<?xml version="1.0"?>', "<!-- c -->",
                                   "<!DOCTYPE xml>", '<?xml version="1.0" encoding="GBK"?>']))
    text = f"{prolog}<{root}>{''.join(children)}</{root}>"
    encoded = text.encode("utf-8", "surrogatepass")
    cut = draw(st.integers(0, len(encoded)))
    return encoded if draw(st.booleans()) else encoded[:cut]


@FUZZ
@given(st.one_of(st.binary(max_size=2000), xml_documents()))
def test_webhook_parser_returns_fields_or_refuses(raw: bytes) -> None:
    try:
        fields = parse_fields(raw)
    except Refused as exc:
        assert exc.status == 400
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())
    try:
        message = read_message(fields)
    except Refused as exc:
        assert exc.status == 400
        return
    assert isinstance(message, ChatMessage) and message.openid and message.identity


@FUZZ
@given(st.dictionaries(st.sampled_from(WECHAT_FIELDS) | st.text(max_size=8), TEXT, max_size=10))
def test_message_mapper_maps_or_refuses(fields: dict[str, str]) -> None:
    try:
        message = read_message(fields)
    except Refused as exc:
        assert exc.status == 400
        return
    assert 0 < len(message.openid) <= 64 and message.openid.isprintable()


@FUZZ
@given(st.one_of(st.binary(max_size=2000), xml_documents()))
def test_pay_notify_parser_returns_fields_or_refuses(raw: bytes) -> None:
    try:
        fields = parse_flat_xml(raw)
    except NotifyRejected:
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT
    | st.sampled_from([2**63, -(2**63) - 1, 10**30, 1.5, -1, 0]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


def _shaped(schema: Schema) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts using the schema's own field names (so validation goes past the unknown-field
    check), nested one level for nested schemas, with arbitrary JSON values."""
    names = [f.data_key or n for n, f in schema.fields.items()] or ["x"]
    return st.dictionaries(st.sampled_from(names) | TEXT, JSON, max_size=len(names) + 1)


@pytest.mark.parametrize("schema_class", request_schemas(), ids=lambda c: c.__name__)
def test_every_api_schema_loads_or_raises_validation_error(
    world: Any, schema_class: type[Schema]
) -> None:
    schema = schema_class()

    @FUZZ_SCHEMA
    @given(st.one_of(JSON, _shaped(schema)))
    def load(data: Any) -> None:
        try:
            schema.load(data)
        except ValidationError:
            pass

    load()


def test_the_request_schemas_were_found() -> None:
    names = {cls.__name__ for cls in request_schemas()}
    assert len(names) >= 30 and {"CheckoutSchema", "PlanVersionCreateSchema"} <= names
