"""The WeChat official-account adapter: signatures, AES envelopes, safe XML, inbound mapping,
reply XML. The only code that touches wechatpy's message API; no Flask, database or Redis."""
from __future__ import annotations

from bots.wechat.crypto import AesKeys
from bots.wechat.inbound import ChatMessage, read_message
from bots.wechat.protocol import Refused, SignedQuery, check_query
from bots.wechat.replies import SUCCESS, render_reply
from bots.wechat.signature import sign, signature_matches
from bots.wechat.wire import parse_fields

__all__ = [
    "SUCCESS",
    "AesKeys",
    "ChatMessage",
    "Refused",
    "SignedQuery",
    "check_query",
    "parse_fields",
    "read_message",
    "render_reply",
    "sign",
    "signature_matches",
]
