"""Customer-service messages: replies sent to a user after the webhook has answered.

WeChat lets an account message a user only inside windows opened by the user,
and only so many times (see WECHAT-VECTORS.md):

- 5 messages within 48 h after the user's last message;
- 3 messages within 1 minute after a menu click, a follow or a QR-code scan;
- any number within 48 h after a payment.

Going past that earns errcode 45015 / 45047. The bookkeeping below mirrors
those rules per openid in Redis (one hash, updated atomically by Lua), so a
message that WeChat would refuse is not sent at all: it is logged and recorded
as dropped. A 45015 / 45047 from WeChat all the same closes the user's windows
in our books, so later messages are dropped here instead of hammering WeChat.

Messages are text, news (one article) or image (a temporary media_id from
``media/upload``, see ``image_message``).

``send_customer_service`` enqueues an RQ job on the notifications queue; the
job (``workers.messaging``) calls ``deliver_now``. Each delivery remembers in
Redis how far it got, so a job retried after a network error neither resends
what already went out nor claims quota twice.
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
import requests
from flask import Flask, current_app
from rq import Retry
from wechatpy.exceptions import WeChatClientException

from adapters.wechat.client import kept_client
from bots.messages import ArticleReply, Reply, TextReply
from core.queues import NOTIFICATIONS, enqueue_once
from core.redis import shared_client
from core.settings import settings_in
from storefront.lua import Lua

log = logging.getLogger(__name__)


MESSAGE_WINDOW_SECONDS = 48 * 3600
MESSAGE_LIMIT = 5
EVENT_WINDOW_SECONDS = 60
EVENT_LIMIT = 3
PAYMENT_WINDOW_SECONDS = 48 * 3600

# Inbound kinds (bots.messages.InboundKind values) that open each window. A VIEW
# menu click, an unsubscribe and the rest open none.
MESSAGE_KINDS = frozenset({"text", "message", "media", "location", "link"})
EVENT_KINDS = frozenset({"click", "subscribe", "scan"})

# Errcodes meaning "outside the window / over the quota": drop, never retry.
QUOTA_ERRCODES = frozenset({45015, 45047})
# Errcodes worth retrying (system busy); every other refusal is final.
TRANSIENT_ERRCODES = frozenset({-1})

RETRY_INTERVALS = [5, 30, 120]
KEY_PREFIX = "chatshop:cs"
LOG_KEY = KEY_PREFIX + ":log"
LOG_LENGTH = 1000
PROGRESS_TTL_SECONDS = PAYMENT_WINDOW_SECONDS

# Records one interaction in the quota hash ``key``. Shared by _NOTE and by the
# webhook's turn claim (storefront.dedupe.begin), which notes the user's message in
# the same round trip as it claims the turn and passes redis.pcall as ``call``: a
# bookkeeping error must not abort the claim half way (Redis does not roll scripts back).
NOTE_LUA = """
local function note_interaction(call, key, kind, now, msg_used, evt_used, ttl)
  if kind == 'unsubscribe' then
    call('DEL', key)
    return
  elseif kind == 'message' then
    call('HSET', key, 'msg_at', now, 'msg_used', 0)
  elseif kind == 'event' then
    call('HSET', key, 'evt_at', now, 'evt_used', 0)
  elseif kind == 'payment' then
    call('HSET', key, 'pay_at', now)
  elseif kind == 'exhausted' then
    call('HDEL', key, 'pay_at')
    call('HSET', key, 'msg_used', msg_used, 'evt_used', evt_used)
  else
    return
  end
  call('EXPIRE', key, ttl)
end
"""

_NOTE = Lua(NOTE_LUA + """
note_interaction(redis.call, KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
return 1
""")

# Returns the window a message may use ('payment', 'event', 'message') after
# counting it, or why it may not ('over_quota', 'no_window'). The short event
# window is spent first: it closes within a minute anyway.
_CLAIM = Lua("""
local key = KEYS[1]
local now = tonumber(ARGV[1])
local h = redis.call('HMGET', key, 'pay_at', 'evt_at', 'evt_used', 'msg_at', 'msg_used')
local pay_at, evt_at, evt_used = tonumber(h[1]), tonumber(h[2]), tonumber(h[3]) or 0
local msg_at, msg_used = tonumber(h[4]), tonumber(h[5]) or 0
if pay_at and now - pay_at < tonumber(ARGV[6]) then
  return 'payment'
end
local exhausted = false
if evt_at and now - evt_at < tonumber(ARGV[4]) then
  if evt_used < tonumber(ARGV[5]) then
    redis.call('HINCRBY', key, 'evt_used', 1)
    return 'event'
  end
  exhausted = true
end
if msg_at and now - msg_at < tonumber(ARGV[2]) then
  if msg_used < tonumber(ARGV[3]) then
    redis.call('HINCRBY', key, 'msg_used', 1)
    return 'message'
  end
  exhausted = true
end
if exhausted then
  return 'over_quota'
end
return 'no_window'
""")


class TransientSendError(Exception):
    """WeChat could not be reached (or was busy): the rest of the delivery should be retried."""


@dataclass
class DeliveryReport:
    """What one delivery did, message by message."""

    delivery_id: str
    sent: int = 0
    dropped: int = 0
    failed: int = 0
    outcomes: list[str] = field(default_factory=list)


def _app(app: Flask | None) -> Flask:
    return app or current_app._get_current_object()  # type: ignore[attr-defined]


def _quota_key(openid: str) -> str:
    return f"{KEY_PREFIX}:quota:{openid}"


def _progress_key(delivery_id: str) -> str:
    return f"{KEY_PREFIX}:delivery:{delivery_id}"


def _state_ttl() -> int:
    return max(MESSAGE_WINDOW_SECONDS, PAYMENT_WINDOW_SECONDS) + 3600


@dataclass(frozen=True)
class InteractionNote:
    """What to record for one user interaction: ``NOTE_LUA``'s arguments after the key."""

    key: str
    args: tuple[str | int, ...]


def interaction_note(openid: str, kind: str, now: float | None = None) -> InteractionNote | None:
    """The quota bookkeeping an interaction of ``kind`` (an InboundKind value) calls for.

    None when it changes nothing (a VIEW click, a system event...).
    """
    kind = str(kind)
    if kind == "unsubscribe":
        window = "unsubscribe"
    elif kind in MESSAGE_KINDS:
        window = "message"
    elif kind in EVENT_KINDS:
        window = "event"
    else:
        return None
    return _note_args(openid, window, now)


def _note_args(openid: str, window: str, now: float | None) -> InteractionNote:
    moment = time.time() if now is None else now
    return InteractionNote(
        _quota_key(openid),
        (window, repr(float(moment)), MESSAGE_LIMIT, EVENT_LIMIT, _state_ttl()),
    )


def _note(conn: redis.Redis, openid: str, kind: str, now: float | None) -> None:
    note = _note_args(openid, kind, now)
    _NOTE(conn, [note.key], note.args)


def note_user_interaction(
    openid: str, kind: str, *, now: float | None = None, app: Flask | None = None
) -> bool:
    """Record that the user did ``kind`` (an InboundKind value); True if it opened a window.

    A message (text, media, location, link) opens the 48 h window for 5
    messages; a menu click, follow or scan the 1 minute window for 3. An
    unsubscribe closes every window. The webhook does the same bookkeeping
    inside its turn claim (``interaction_note``); this is for everyone else.
    """
    note = interaction_note(openid, kind, now)
    if note is None:
        return False
    conn = shared_client(_app(app).extensions)
    _NOTE(conn, [note.key], note.args)
    return note.args[0] != "unsubscribe"


def note_payment(openid: str, *, now: float | None = None, app: Flask | None = None) -> None:
    """Record that the user paid: any number of messages for the next 48 h."""
    _note(shared_client(_app(app).extensions), openid, "payment", now)


def claim_quota(
    openid: str, *, now: float | None = None, app: Flask | None = None
) -> str:
    """Count one message against the user's windows: the window used, or why none may be."""
    conn = shared_client(_app(app).extensions)
    moment = time.time() if now is None else now
    answer = _CLAIM(
        conn,
        [_quota_key(openid)],
        [repr(float(moment)), MESSAGE_WINDOW_SECONDS, MESSAGE_LIMIT, EVENT_WINDOW_SECONDS,
              EVENT_LIMIT, PAYMENT_WINDOW_SECONDS],
    )
    return answer.decode() if isinstance(answer, bytes) else str(answer)


def close_windows(openid: str, *, app: Flask | None = None) -> None:
    """Mark the user's windows used up (WeChat said so) until they interact again."""
    _note(shared_client(_app(app).extensions), openid, "exhausted", None)


def image_message(media_id: str) -> dict[str, str]:
    """An image message for ``send_customer_service`` / ``deliver_now``.

    ``media_id`` is a temporary media upload (``client.media.upload("image", ...)``);
    WeChat forgets it after 3 days, so queue the message soon after uploading.
    """
    if not media_id:
        raise ValueError("an image message needs a media_id")
    return {"type": "image", "media_id": media_id}


def reply_to_message(reply: Reply | Mapping[str, Any]) -> dict[str, str]:
    """A reply as the plain dict a job carries: {"type": "text"|"news"|"image", ...}."""
    if isinstance(reply, TextReply):
        return {"type": "text", "text": reply.text}
    if isinstance(reply, ArticleReply):
        return {"type": "news", "title": reply.title, "description": reply.description,
                "image_url": reply.image_url, "url": reply.url}
    if isinstance(reply, Mapping) and reply.get("type") in ("text", "news"):
        return {str(k): str(v) for k, v in reply.items()}
    if isinstance(reply, Mapping) and reply.get("type") == "image" and reply.get("media_id"):
        return image_message(str(reply["media_id"]))
    raise TypeError(f"cannot send {type(reply).__name__} as a customer-service message")


def send_customer_service(
    openid: str,
    replies: Sequence[Reply | Mapping[str, Any]],
    reason: str = "reply",
    *,
    key: str | None = None,
    app: Flask | None = None,
) -> str | None:
    """Queue ``replies`` for ``openid`` on the notifications queue; the job id, or None.

    ``reason`` says why ("reply", "payment", "shipped"...) for the logs. ``key``
    makes the delivery idempotent: the same key is delivered at most once
    (within 48 h), whoever calls. None is returned when there is nothing to
    send or a delivery with that key was already queued.
    """
    messages = [reply_to_message(r) for r in replies]
    if not messages:
        return None
    delivery_id = key or uuid.uuid4().hex
    job_id = "cs-" + delivery_id
    queued = enqueue_once(
        shared_client(_app(app).extensions),
        NOTIFICATIONS,
        "workers.messaging.deliver_customer_service",
        openid,
        messages,
        reason,
        delivery_id,
        job_id=job_id,
        retry=Retry(max=len(RETRY_INTERVALS), interval=list(RETRY_INTERVALS)),
        description=f"customer-service {reason} x{len(messages)}",
    )
    return job_id if queued else None


def _record(conn: redis.Redis, entry: dict[str, Any]) -> None:
    """Append to the capped delivery log (newest first)."""
    pipe = conn.pipeline()
    pipe.lpush(LOG_KEY, json.dumps(entry, ensure_ascii=False))
    pipe.ltrim(LOG_KEY, 0, LOG_LENGTH - 1)
    pipe.execute()


def delivery_log(
    limit: int = 100, *, openid: str | None = None, app: Flask | None = None
) -> list[dict[str, Any]]:
    """Recent delivery outcomes, newest first: sent, dropped, failed or retry."""
    raw = shared_client(_app(app).extensions).lrange(LOG_KEY, 0, LOG_LENGTH - 1)
    entries = [json.loads(item) for item in raw]
    if openid is not None:
        entries = [e for e in entries if e.get("openid") == openid]
    return entries[:limit]


def _send_one(client: Any, openid: str, message: Mapping[str, str]) -> None:
    if message["type"] == "text":
        client.message.send_text(openid, message["text"])
        return
    if message["type"] == "image":
        client.message.send_image(openid, message["media_id"])
        return
    article = {
        "title": message.get("title", ""),
        "description": message.get("description", ""),
        "url": message.get("url", ""),
        "image": message.get("image_url", ""),
    }
    # One article per message: WeChat shows only one since October 2018.
    client.message.send_articles(openid, [article])


def _preview(message: Mapping[str, str]) -> str:
    if message["type"] == "image":
        return "[image] " + message.get("media_id", "")[:24]
    text = message.get("text") if message["type"] == "text" else message.get("title")
    return (text or "")[:40]


def deliver_now(
    openid: str,
    replies: Sequence[Reply | Mapping[str, Any]],
    reason: str = "reply",
    *,
    delivery_id: str | None = None,
    client: Any = None,
    now: float | None = None,
    app: Flask | None = None,
) -> DeliveryReport:
    """Send the replies now, within the user's quota; raises TransientSendError to be retried.

    Messages the quota does not allow are dropped (recorded, not sent); a
    final refusal from WeChat is recorded as failed. On a network error or a
    busy WeChat the messages sent so far stay sent and TransientSendError is
    raised: calling again with the same ``delivery_id`` goes on from there.
    """
    application = _app(app)
    conn = shared_client(application.extensions)
    if client is None:
        client = kept_client(application.extensions, settings_in(application.extensions), conn)
    messages = [reply_to_message(r) for r in replies]
    report = DeliveryReport(delivery_id=delivery_id or uuid.uuid4().hex)
    progress = _progress_key(report.delivery_id)
    state = conn.hgetall(progress)
    start = int(state.get(b"next", 0))
    claimed = int(state.get(b"claimed", -1))
    for index in range(start, len(messages)):
        message = messages[index]
        entry = {"at": time.time(), "openid": openid, "reason": reason, "type": message["type"],
                 "preview": _preview(message), "delivery": report.delivery_id}
        window = "claimed earlier"
        if claimed != index:
            window = claim_quota(openid, now=now, app=application)
            if window in ("over_quota", "no_window"):
                outcome = "dropped"
                log.info("customer-service %s to %s dropped: %s", reason, openid, window)
                _finish(conn, progress, index, report, outcome, {**entry, "why": window})
                continue
            conn.hset(progress, "claimed", index)
            conn.expire(progress, PROGRESS_TTL_SECONDS)
        try:
            _send_one(client, openid, message)
        except WeChatClientException as exc:
            if exc.errcode in QUOTA_ERRCODES:
                close_windows(openid, app=application)
                log.info("customer-service %s to %s refused by WeChat (%s): dropped",
                         reason, openid, exc.errcode)
                _finish(conn, progress, index, report, "dropped",
                        {**entry, "why": f"errcode {exc.errcode}"})
                continue
            if exc.errcode is None or exc.errcode in TRANSIENT_ERRCODES:
                _record(conn, {**entry, "status": "retry", "why": f"errcode {exc.errcode}"})
                raise TransientSendError(f"WeChat busy or unreachable: {exc}") from exc
            log.warning("customer-service %s to %s refused: %s", reason, openid, exc)
            _finish(conn, progress, index, report, "failed",
                    {**entry, "why": f"errcode {exc.errcode}"})
            continue
        except requests.RequestException as exc:
            _record(conn, {**entry, "status": "retry", "why": type(exc).__name__})
            raise TransientSendError(f"WeChat unreachable: {type(exc).__name__}") from exc
        _finish(conn, progress, index, report, "sent", {**entry, "window": window})
    return report


def _finish(
    conn: redis.Redis,
    progress: str,
    index: int,
    report: DeliveryReport,
    outcome: str,
    entry: dict[str, Any],
) -> None:
    """Move the delivery past message ``index`` and record how it ended."""
    pipe = conn.pipeline()
    pipe.hset(progress, "next", index + 1)
    pipe.expire(progress, PROGRESS_TTL_SECONDS)
    pipe.execute()
    setattr(report, outcome, getattr(report, outcome) + 1)
    report.outcomes.append(outcome)
    _record(conn, {**entry, "status": outcome})
