"""What a chat user did and what the shop answers, independent of WeChat's wire format.

The WeChat adapter turns each incoming message or event into an ``Inbound``;
the storefront answers with a list of ``Reply`` values. The first reply goes
back as WeChat's passive reply; any further ones are sent afterwards as
customer-service messages (a passive reply carries a single message).
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class InboundKind(StrEnum):
    """Kinds of user input the storefront understands."""

    TEXT = "text"  # typed text: `text` holds it
    CLICK = "click"  # custom-menu CLICK: `text` holds the key
    VIEW = "view"  # custom-menu link opened: `text` holds the URL
    SUBSCRIBE = "subscribe"  # follow; `scene` set when it came through a QR code
    SCAN = "scan"  # an existing follower scanned a QR code: `scene` set
    UNSUBSCRIBE = "unsubscribe"
    LOCATION = "location"  # shared location (message or LOCATION event)
    MEDIA = "media"  # image, voice, video, short video, file: `text` names the kind
    LINK = "link"  # a shared link: `text` holds the URL
    OTHER = "other"  # anything else (template-send results, unknown types)


@dataclass(frozen=True)
class Inbound:
    """One thing a user did in the chat."""

    kind: InboundKind
    text: str = ""
    scene: str | None = None


@dataclass(frozen=True)
class TextReply:
    """A plain text message."""

    text: str


@dataclass(frozen=True)
class ArticleReply:
    """A news (article) card: title, description, picture and the page it opens."""

    title: str
    description: str
    image_url: str
    url: str


Reply = TextReply | ArticleReply
