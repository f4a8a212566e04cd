"""WeChat messages and events mapped to the storefront's ``Inbound`` values."""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from adapters.wechat.messages.protocol import Refused
from bots.messages import Inbound, InboundKind

MAX_ID = 64  # openid and the account's original id
MAX_SCENE = 64  # scene_str is 1-64 characters
MAX_MSG_ID_DIGITS = 32
SCENE_PREFIX = "qrscene_"
MEDIA_TYPES = frozenset({"image", "voice", "video", "shortvideo", "file"})
SEP = "\x1f"  # cannot occur in validated ids, so identities never collide


@dataclass(frozen=True)
class ChatMessage:
    """One parsed request: who, to which account, what they did, and its retry identity."""

    openid: str
    account: str  # ToUserName, the account's original id: the sender of our reply
    inbound: Inbound
    identity: str  # equal for WeChat's retries of this request, different otherwise


def _id(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name, "").strip()
    if not value or len(value) > MAX_ID or not value.isprintable():
        raise Refused(400, f"missing or malformed {name}")
    return value


def _digits(value: str, limit: int) -> bool:
    return value.isascii() and value.isdigit() and len(value) <= limit


def _scene(value: str) -> str | None:
    value = value.strip()
    return value if 0 < len(value) <= MAX_SCENE and value.isprintable() else None


def _coordinates(lat: str | None, lng: str | None) -> str:
    """``"lat,lng"`` when both are finite numbers, else empty."""
    try:
        if not all(math.isfinite(float(v or "")) for v in (lat, lng)):
            return ""
    except ValueError:
        return ""
    return f"{(lat or '').strip()},{(lng or '').strip()}"


def _message(msg_type: str, fields: Mapping[str, str]) -> Inbound:
    if msg_type == "text":
        return Inbound(InboundKind.TEXT, fields.get("Content", ""))
    if msg_type in MEDIA_TYPES:
        return Inbound(InboundKind.MEDIA, msg_type)
    if msg_type == "location":
        coords = _coordinates(fields.get("Location_X"), fields.get("Location_Y"))
        return Inbound(InboundKind.LOCATION, coords)
    if msg_type == "link":
        return Inbound(InboundKind.LINK, fields.get("Url", "").strip())
    return Inbound(InboundKind.OTHER, msg_type or "unknown")


def _event(event: str, fields: Mapping[str, str]) -> Inbound:
    key = fields.get("EventKey", "")
    if event == "subscribe":
        scene = _scene(key[len(SCENE_PREFIX):]) if key.startswith(SCENE_PREFIX) else None
        return Inbound(InboundKind.SUBSCRIBE, scene=scene)
    if event == "scan":
        scene = _scene(key)
        # SCAN promises a scene; a scan without a usable one is just noise.
        return Inbound(InboundKind.SCAN, scene=scene) if scene else Inbound(
            InboundKind.OTHER, "event:scan"
        )
    if event == "unsubscribe":
        return Inbound(InboundKind.UNSUBSCRIBE)
    if event == "click":
        return Inbound(InboundKind.CLICK, key.strip())
    if event == "view":
        return Inbound(InboundKind.VIEW, key.strip())
    if event == "location":
        return Inbound(
            InboundKind.LOCATION, _coordinates(fields.get("Latitude"), fields.get("Longitude"))
        )
    # Template and mass-send results, card events...: not a user's request.
    return Inbound(InboundKind.OTHER, f"event:{event or 'unknown'}")


def read_message(fields: Mapping[str, str]) -> ChatMessage:
    """Map a parsed message to a :class:`ChatMessage`; Refused(400) if it cannot be answered.

    Structural fields (sender, account, CreateTime, MsgId) must be valid; unknown
    message or event types become ``OTHER`` so the storefront can offer help.
    Retry identity: messages by MsgId; events by FromUserName + CreateTime, refined
    with Event and EventKey (identical in retries) so that two different events in
    the same second, e.g. subscribe and LOCATION, are not mistaken for one.
    """
    openid = _id(fields, "FromUserName")
    account = _id(fields, "ToUserName")
    create_time = fields.get("CreateTime", "").strip()
    if not _digits(create_time, 12):
        raise Refused(400, "missing or malformed CreateTime")
    msg_type = fields.get("MsgType", "").strip().lower()
    if msg_type == "event":
        event = fields.get("Event", "").strip().lower()
        inbound = _event(event, fields)
        key = fields.get("EventKey", "")
        identity = SEP.join(("event", openid, create_time, event, key))
        return ChatMessage(openid, account, inbound, identity)
    msg_id = fields.get("MsgId", "").strip()
    if msg_id and not _digits(msg_id, MAX_MSG_ID_DIGITS):
        raise Refused(400, "malformed MsgId")
    if msg_id:
        identity = SEP.join(("msg", msg_id))
    else:
        identity = SEP.join(("nomsgid", openid, create_time, msg_type))
    return ChatMessage(openid, account, _message(msg_type, fields), identity)
