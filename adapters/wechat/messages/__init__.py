"""The WeChat official-account adapter: signatures, AES envelopes, safe XML, inbound mapping,
reply XML. The only code that touches wechatpy's message API; no Flask, database or Redis."""
from __future__ import annotations

from adapters.wechat.messages.crypto import AesKeys
from adapters.wechat.messages.inbound import ChatMessage, read_message
from adapters.wechat.messages.protocol import Refused, SignedQuery, check_query
from adapters.wechat.messages.replies import SUCCESS, render_reply
from adapters.wechat.messages.signature import sign, signature_matches
from adapters.wechat.messages.wire import parse_fields

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
