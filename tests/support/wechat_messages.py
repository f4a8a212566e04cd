"""A stand-in for WeChat's servers in tests: signs, encrypts and posts like WeChat does.

Encryption is implemented here from the protocol description (AES-256-CBC, IV =
first 16 key bytes, PKCS#7 to 32-byte blocks, random(16) + length(4, big endian)
+ XML + app id), independently of wechatpy, so the tests check the app against
the protocol rather than against the library it uses.
"""
from __future__ import annotations

import base64
import hashlib
import itertools
import os
import struct
import time
from typing import Any
from xml.etree import ElementTree

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bots.messages import Inbound, InboundKind

TOKEN = "test-token"
APP_ID = "wxtestapp000001"
ACCOUNT = "gh_testaccount"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
OLD_AES_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"

_msg_ids = itertools.count(int(time.time()) * 1000)


def next_msg_id() -> int:
    """A fresh MsgId."""
    return next(_msg_ids)


def wx_sign(*parts: str) -> str:
    """sha1 of the sorted, joined parts."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def _key(aes_key: str) -> bytes:
    return base64.b64decode(aes_key + "=")


def aes_encrypt(xml: str, aes_key: str = AES_KEY, app_id: str = APP_ID) -> str:
    """WeChat's Encrypt value for ``xml``."""
    key = _key(aes_key)
    raw = xml.encode()
    plain = os.urandom(16) + struct.pack(">I", len(raw)) + raw + app_id.encode()
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode()


def aes_decrypt(encrypt: str, aes_key: str = AES_KEY) -> tuple[str, str]:
    """(xml, app id) sealed in an Encrypt value."""
    key = _key(aes_key)
    dec = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = dec.update(base64.b64decode(encrypt)) + dec.finalize()
    plain = plain[: -plain[-1]]
    (length,) = struct.unpack(">I", plain[16:20])
    return plain[20 : 20 + length].decode(), plain[20 + length :].decode()


def cdata(value: Any) -> str:
    """A CDATA section, with ``]]>`` split as WeChat does."""
    return "<![CDATA[" + str(value).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def message_xml(msg_type: str, *, openid: str = "o-user-1", msg_id: int | None = None,
                create_time: int | None = None, **fields: Any) -> str:
    """A WeChat message (``msg_type`` != event) or event XML."""
    parts = [
        f"<ToUserName>{cdata(ACCOUNT)}</ToUserName>",
        f"<FromUserName>{cdata(openid)}</FromUserName>",
        f"<CreateTime>{create_time or int(time.time())}</CreateTime>",
        f"<MsgType>{cdata(msg_type)}</MsgType>",
    ]
    parts += [f"<{k}>{cdata(v)}</{k}>" for k, v in fields.items()]
    if msg_type != "event":
        parts.append(f"<MsgId>{msg_id if msg_id is not None else next_msg_id()}</MsgId>")
    return "<xml>" + "".join(parts) + "</xml>"


def text_xml(content: str, **kw: Any) -> str:
    """A text message."""
    return message_xml("text", Content=content, **kw)


def event_xml(event: str, **kw: Any) -> str:
    """An event."""
    return message_xml("event", Event=event, **kw)


def signed_query(*, token: str = TOKEN, timestamp: int | None = None, nonce: str | None = None,
                 encrypt: str | None = None) -> dict[str, str]:
    """The query string WeChat adds to a POST (with msg_signature when ``encrypt`` is set)."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    nonce = nonce or str(next_msg_id())
    query = {"signature": wx_sign(token, ts, nonce), "timestamp": ts, "nonce": nonce,
             "openid": "o-user-1"}
    if encrypt is not None:
        query.update(encrypt_type="aes", msg_signature=wx_sign(token, ts, nonce, encrypt))
    return query


def post(client: Any, xml: str | bytes, *, mode: str = "plain", aes_key: str = AES_KEY,
         app_id: str = APP_ID, **query_kw: Any) -> Any:
    """POST like WeChat: mode "plain", "safe" (Encrypt only) or "compat" (both)."""
    if mode == "plain":
        body = xml if isinstance(xml, bytes) else xml.encode()
        return client.post("/wechat", query_string=signed_query(**query_kw), data=body,
                           content_type="text/xml")
    text = xml.decode() if isinstance(xml, bytes) else xml
    encrypt = aes_encrypt(text, aes_key, app_id)
    envelope = f"<xml><ToUserName>{cdata(ACCOUNT)}</ToUserName><Encrypt>{cdata(encrypt)}</Encrypt>"
    if mode == "compat":
        envelope += text.removeprefix("<xml>").removesuffix("</xml>")
    envelope += "</xml>"
    return client.post("/wechat", query_string=signed_query(encrypt=encrypt, **query_kw),
                       data=envelope.encode(), content_type="text/xml")


def fields(xml: str) -> dict[str, Any]:
    """A reply's fields (news articles flattened into ``Articles``)."""
    root = ElementTree.fromstring(xml)
    out: dict[str, Any] = {c.tag: c.text for c in root if len(c) == 0}
    items = root.find("Articles")
    if items is not None:
        out["Articles"] = [{c.tag: c.text for c in item} for item in items]
    return out


def open_reply(response: Any, aes_key: str = AES_KEY, token: str = TOKEN) -> str:
    """Verify and decrypt an encrypted reply envelope; return the inner XML."""
    env = fields(response.get_data(as_text=True))
    assert env["MsgSignature"] == wx_sign(token, env["TimeStamp"], env["Nonce"], env["Encrypt"])
    xml, app_id = aes_decrypt(env["Encrypt"], aes_key)
    assert app_id == APP_ID
    return xml


# Hostile XML: entity expansion (billion laughs) and external entities (XXE).
BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
              for i in range(1, 10))
    + ']><xml><Content>&lol9;</Content></xml>'
)
XXE = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
       '<xml><Content>&xxe;</Content></xml>')

# Every message type and event WeChat sends, with the Inbound it must become.
K = InboundKind
CASES = [
    (text_xml("菜单"), Inbound(K.TEXT, "菜单")),
    (message_xml("image", PicUrl="http://p", MediaId="m"), Inbound(K.MEDIA, "image")),
    (message_xml("voice", MediaId="m", Format="amr"), Inbound(K.MEDIA, "voice")),
    (message_xml("video", MediaId="m", ThumbMediaId="t"), Inbound(K.MEDIA, "video")),
    (message_xml("shortvideo", MediaId="m"), Inbound(K.MEDIA, "shortvideo")),
    (message_xml("file", Title="a.pdf"), Inbound(K.MEDIA, "file")),
    (message_xml("location", Location_X="23.134521", Location_Y="113.358803", Scale="20",
                 Label="x"), Inbound(K.LOCATION, "23.134521,113.358803")),
    (message_xml("location", Location_X="nan", Location_Y="1"), Inbound(K.LOCATION, "")),
    (message_xml("location"), Inbound(K.LOCATION, "")),
    (message_xml("link", Title="t", Url="http://example.com/a"),
     Inbound(K.LINK, "http://example.com/a")),
    (message_xml("miniprogrampage"), Inbound(K.OTHER, "miniprogrampage")),
    (message_xml(""), Inbound(K.OTHER, "unknown")),
    (message_xml("TEXT", Content="caps"), Inbound(K.TEXT, "caps")),
    (event_xml("subscribe"), Inbound(K.SUBSCRIBE)),
    (event_xml("subscribe", EventKey=""), Inbound(K.SUBSCRIBE)),
    (event_xml("subscribe", EventKey="qrscene_dist-42", Ticket="T"),
     Inbound(K.SUBSCRIBE, scene="dist-42")),
    (event_xml("subscribe", EventKey="qrscene_"), Inbound(K.SUBSCRIBE)),
    (event_xml("subscribe", EventKey="qrscene_" + "s" * 65), Inbound(K.SUBSCRIBE)),
    (event_xml("subscribe", EventKey="scanbarcode|x"), Inbound(K.SUBSCRIBE)),
    (event_xml("SCAN", EventKey="dist-42", Ticket="T"), Inbound(K.SCAN, scene="dist-42")),
    (event_xml("SCAN", EventKey=""), Inbound(K.OTHER, "event:scan")),
    (event_xml("CLICK", EventKey="MENU_CART"), Inbound(K.CLICK, "MENU_CART")),
    (event_xml("VIEW", EventKey="http://shop/h5"), Inbound(K.VIEW, "http://shop/h5")),
    (event_xml("LOCATION", Latitude="23.1", Longitude="113.3", Precision="119.3"),
     Inbound(K.LOCATION, "23.1,113.3")),
    (event_xml("unsubscribe"), Inbound(K.UNSUBSCRIBE)),
    (event_xml("TEMPLATESENDJOBFINISH", Status="success"),
     Inbound(K.OTHER, "event:templatesendjobfinish")),
    (event_xml("scancode_push", EventKey="k"), Inbound(K.OTHER, "event:scancode_push")),
    (event_xml(""), Inbound(K.OTHER, "event:unknown")),
]
