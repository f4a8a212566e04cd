"""What WeChat POSTs to an official account's server, and how it reads the answer (no Flask).

Messages are built as WeChat sends them: numbers bare, text in CDATA, the query
signed with sha1(sorted token, timestamp, nonce) plus ``openid``. In compatible
and safe mode the XML is encrypted with wechatpy's WeChatCrypto (the app's
EncodingAESKey), ``encrypt_type=aes`` and ``msg_signature`` are added, and the
reply must be encrypted (safe) or may be either (compatible).
"""
from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from xml.parsers.expat import ExpatError

import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException

from sandbox.oa_api import media_url

PLAIN = "plain"
COMPAT = "compat"
AES = "aes"
MODES = (PLAIN, COMPAT, AES)

# Characters XML 1.0 cannot carry at all; WeChat never sends them.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ReplyError(ValueError):
    """The server's answer is not something WeChat would show."""


@dataclass(frozen=True)
class Keys:
    """What WeChat and the account's server share."""

    app_id: str
    token: str
    encoding_aes_key: str
    original_id: str


@dataclass(frozen=True)
class SignedPush:
    """One HTTP request as WeChat sends it to the account's server."""

    openid: str
    mode: str
    query: dict[str, str]
    body: bytes
    plain_xml: str
    timestamp: str
    nonce: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (kept so the chat page can resend it, as WeChat retries)."""
        return {
            "openid": self.openid, "mode": self.mode, "query": self.query,
            "body": self.body.decode("utf-8"), "plain_xml": self.plain_xml,
            "timestamp": self.timestamp, "nonce": self.nonce,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SignedPush:
        """Inverse of to_dict."""
        return cls(**{**data, "body": str(data["body"]).encode("utf-8")})


@dataclass(frozen=True)
class PassiveReply:
    """What the server answered, decrypted and read."""

    message: dict[str, Any] | None  # None for "success" / empty: nothing to show
    fields: dict[str, Any] = field(default_factory=dict)
    encrypted: bool = False
    xml: str = ""


def xml_safe(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot carry."""
    return _XML_ILLEGAL.sub("", text)


def _cdata(value: str) -> str:
    # "]]>" cannot appear inside one CDATA section, so split it across two.
    return "<![CDATA[" + xml_safe(value).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def to_xml(fields: Iterable[tuple[str, str | int | float]]) -> str:
    """Fields as WeChat writes them: numbers bare, strings in CDATA, in the given order."""
    parts = []
    for name, value in fields:
        if not _FIELD_NAME.match(name):
            raise ValueError(f"bad field name {name!r}")
        text = str(value) if isinstance(value, int | float) else _cdata(value)
        parts.append(f"<{name}>{text}</{name}>")
    return "<xml>" + "".join(parts) + "</xml>"


def inbound_xml(
    keys: Keys,
    openid: str,
    create_time: int,
    msg_type: str,
    extra: Iterable[tuple[str, str | int | float]] = (),
) -> str:
    """A message or event from ``openid`` to the account."""
    head: list[tuple[str, str | int | float]] = [
        ("ToUserName", keys.original_id),
        ("FromUserName", openid),
        ("CreateTime", create_time),
        ("MsgType", msg_type),
    ]
    return to_xml([*head, *extra])


def server_signature(token: str, timestamp: str, nonce: str, *extra: str) -> str:
    """sha1 of the sorted, concatenated values (plus Encrypt for msg_signature), hex."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, *extra])).encode()).hexdigest()


def _crypto(keys: Keys) -> WeChatCrypto:
    if not keys.encoding_aes_key:
        raise ValueError("safe mode needs WECHAT_ENCODING_AES_KEY")
    return WeChatCrypto(keys.token, keys.encoding_aes_key, keys.app_id)


def _parse(text: str) -> dict[str, Any]:
    if "<!DOCTYPE" in text.upper():
        raise ReplyError("reply carries a DTD")
    try:
        doc = xmltodict.parse(text, disable_entities=True)
    except (ExpatError, ValueError) as exc:
        raise ReplyError(f"reply is not XML: {exc}") from exc
    if not isinstance(doc, dict) or set(doc) != {"xml"} or not isinstance(doc["xml"], dict):
        raise ReplyError("reply root must be <xml> with fields")
    return dict(doc["xml"])


def sign_push(
    keys: Keys, openid: str, plain_xml: str, mode: str, *, timestamp: str, nonce: str
) -> SignedPush:
    """The request WeChat sends for ``plain_xml`` in ``mode`` (plain, compat or aes)."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    query = {
        "signature": server_signature(keys.token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "openid": openid,
    }
    body = plain_xml
    if mode != PLAIN:
        envelope = _parse(_crypto(keys).encrypt_message(plain_xml, nonce, timestamp))
        encrypt = str(envelope["Encrypt"])
        query["encrypt_type"] = "aes"
        query["msg_signature"] = str(envelope["MsgSignature"])
        encrypted = f"<Encrypt>{_cdata(encrypt)}</Encrypt>"
        if mode == AES:
            body = f"<xml><ToUserName>{_cdata(keys.original_id)}</ToUserName>{encrypted}</xml>"
        else:
            body = plain_xml[: -len("</xml>")] + encrypted + "</xml>"
    return SignedPush(
        openid=openid, mode=mode, query=query, body=body.encode("utf-8"),
        plain_xml=plain_xml, timestamp=timestamp, nonce=nonce,
    )


def _items(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        inner = value.get("item", value)
        value = inner
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    return []


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def display_reply(fields: dict[str, Any]) -> dict[str, Any]:
    """A passive reply's fields as the chat page shows them."""
    msg_type = _str(fields.get("MsgType"))
    if msg_type == "text":
        return {"type": "text", "content": _str(fields.get("Content"))}
    if msg_type == "news":
        articles = [
            {
                "title": _str(a.get("Title")),
                "description": _str(a.get("Description")),
                "picurl": _str(a.get("PicUrl")),
                "url": _str(a.get("Url")),
            }
            for a in _items(fields.get("Articles"))
        ]
        if not articles:
            raise ReplyError("news reply without articles")
        # Since October 2018 WeChat shows only the first article of a passive news reply.
        return {"type": "news", "articles": articles[:1], "total": len(articles)}
    if msg_type == "transfer_customer_service":
        return {"type": "notice", "text": "转接客服 (transfer_customer_service)"}
    image = fields.get("Image")
    if msg_type == "image" and isinstance(image, dict) and _str(image.get("MediaId")):
        # Shown like a customer-service image: the upload the media_id names (a broken
        # picture if the app never uploaded it, which is what the user would notice).
        media_id = _str(image.get("MediaId"))
        return {"type": "image", "media_id": media_id, "url": media_url(media_id)}
    labels = {"image": "[图片]", "voice": "[语音]", "video": "[视频]", "music": "[音乐]"}
    if msg_type in labels:
        return {"type": "media", "label": labels[msg_type]}
    raise ReplyError(f"unknown reply MsgType {msg_type!r}")


def read_reply(keys: Keys, push: SignedPush, status: int, body: bytes) -> PassiveReply:
    """Check and decode the server's answer to ``push`` the way WeChat would."""
    if status != 200:
        raise ReplyError(f"HTTP {status}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReplyError("reply is not UTF-8") from exc
    if text.strip() in ("", "success"):
        return PassiveReply(message=None)
    outer = _parse(text)
    encrypted = "Encrypt" in outer
    if encrypted:
        if push.mode == PLAIN:
            raise ReplyError("encrypted reply to a plaintext message")
        try:
            plain = _crypto(keys).decrypt_message(
                {"Encrypt": _str(outer.get("Encrypt"))},
                _str(outer.get("MsgSignature")),
                _str(outer.get("TimeStamp")),
                _str(outer.get("Nonce")),
            )
        except (InvalidSignatureException, InvalidAppIdException) as exc:
            raise ReplyError(f"encrypted reply fails its check: {type(exc).__name__}") from exc
        except Exception as exc:  # noqa: BLE001 - bad base64/padding: the reply is unusable
            raise ReplyError(f"encrypted reply cannot be decrypted: {exc}") from exc
        fields = _parse(plain)
        xml = plain
    else:
        if push.mode == AES:
            raise ReplyError("plaintext reply in safe mode (it must be encrypted)")
        fields, xml = outer, text
    if fields.get("ToUserName") != push.openid:
        raise ReplyError("reply ToUserName is not the user's openid")
    if fields.get("FromUserName") != keys.original_id:
        raise ReplyError("reply FromUserName is not the account")
    return PassiveReply(
        message=display_reply(fields), fields=fields, encrypted=encrypted, xml=xml
    )


def verify_query(token: str, query: dict[str, str]) -> bool:
    """True when the query's ``signature`` matches (for tests and fake receivers)."""
    expected = server_signature(token, query.get("timestamp", ""), query.get("nonce", ""))
    return hmac.compare_digest(expected, query.get("signature", ""))
