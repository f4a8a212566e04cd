"""Talking to the chat storefront in-process, as the WeChat webhook would."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from bots.messages import Inbound, InboundKind, TextReply
from storefront.storefront import respond
from webapp.extensions import db


def replies_to(openid: str, text: str = "", kind: InboundKind = InboundKind.TEXT,
               scene: str | None = None) -> list[Any]:
    """The storefront's replies to one message or event of ``openid``."""
    replies = respond(db.session, openid, Inbound(kind, text, scene))
    db.session.rollback()  # end the request's read snapshot, as the web request would
    return replies


def as_text(replies: list[Any]) -> str:
    """Replies joined as text (article cards as title, description and picture)."""
    return "\n".join(
        r.text if isinstance(r, TextReply) else f"{r.title}\n{r.description}\n{r.image_url}"
        for r in replies
    )


def say(openid: str, text: str = "", kind: InboundKind = InboundKind.TEXT,
        scene: str | None = None) -> str:
    """One message or event of ``openid``; the replies as text."""
    return as_text(replies_to(openid, text, kind, scene))


def count(model: Any, **where: Any) -> int:
    """Rows of ``model`` matching ``where``, read afresh."""
    value = db.session.scalar(select(func.count()).select_from(model).filter_by(**where))
    db.session.rollback()
    return int(value or 0)


class RecordingEnqueue:
    """Stands in for the queue: remembers what the relay enqueued."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, tuple[Any, ...], str]] = []

    def __call__(self, queue_name: str, func: Any, *args: Any, job_id: str, **options: Any) -> bool:
        self.calls.append((queue_name, func, args, job_id))
        return True
