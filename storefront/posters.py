"""Sending a distributor their poster in the chat, as a customer-service image.

``referral.posters`` makes the poster (and keeps it); this module uploads it to
WeChat as temporary media and sends it through ``storefront.outbound``. The
uploaded media_id is reused for 2.5 days (WeChat keeps temporary media 3 days)
while the poster bytes are unchanged.
"""
from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import redis
from flask import Flask, current_app
from wechatpy.exceptions import WeChatClientException

from adapters.wechat.client import kept_client
from core.settings import settings_in
from core.uow import DbSession
from referral import posters
from referral.posters import PosterError, poster_job_id
from storefront.outbound import deliver_now, image_message

log = logging.getLogger(__name__)

MEDIA_CACHE_SECONDS = int(2.5 * 24 * 3600)
MEDIA_CACHE_PREFIX = "chatshop:poster:media:"


def _app() -> Flask:
    return current_app._get_current_object()  # type: ignore[attr-defined]


def _media_id(conn: redis.Redis, client: Any, user_id: int, png: bytes) -> str:
    """A WeChat media_id for the poster: the last upload while it is valid, else a new one."""
    key = f"{MEDIA_CACHE_PREFIX}{user_id}"
    digest = hashlib.sha256(png).hexdigest()
    raw = conn.get(key)
    if raw is not None:
        cached = json.loads(raw)
        if cached.get("digest") == digest and cached.get("media_id"):
            return str(cached["media_id"])
    try:
        # A (name, bytes, type) tuple rather than a file: the client may send the
        # request twice (stale token), and a file would be empty the second time.
        answer = client.media.upload("image", (f"poster-{user_id}.png", png, "image/png"))
    except WeChatClientException as exc:
        raise PosterError(f"WeChat refused the poster upload (errcode {exc.errcode})") from exc
    media_id = str(answer["media_id"])
    conn.set(key, json.dumps({"digest": digest, "media_id": media_id}), ex=MEDIA_CACHE_SECONDS)
    return media_id


def send_poster(session: DbSession, user_id: int, openid: str, *, conn: redis.Redis,
                delivery_key: str | None = None, client: Any = None) -> int:
    """Make (or reuse) the distributor's poster and send it to ``openid``; 1 if it went out.

    ``conn`` is the app's Redis (the media_id cache). 0 when the user is not an
    active distributor, ``openid`` is not theirs, or the user's customer-service
    quota is used up. The delivery is keyed (``delivery_key``, else today's job
    id): the same key sends at most once. Network failures raise (the job
    retries); ``PosterError`` when the image or WeChat fails for good.
    """
    app = _app()
    if client is None:
        client = kept_client(app.extensions, settings_in(app.extensions), conn)
    png = posters.make_poster(session, user_id, openid, client=client, app=app)
    if png is None:
        return 0
    media_id = _media_id(conn, client, user_id, png)
    report = deliver_now(openid, [image_message(media_id)], "poster",
                         delivery_id=delivery_key or poster_job_id(user_id), client=client,
                         app=app)
    if report.failed:
        # WeChat refused the message (e.g. the media expired early): upload afresh next time.
        conn.delete(f"{MEDIA_CACHE_PREFIX}{user_id}")
    return report.sent
