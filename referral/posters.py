"""Distributor posters: a PNG with the distributor's QR code and invite code, sent in the chat.

``render_poster`` draws one (Pillow only, no database, no network).
``request_poster`` queues the background job (``workers.jobs.send_distributor_poster``)
that runs ``send_poster``: ensure the QR code, fetch its image, render the
poster, keep it as ``<instance>/posters/<user id>.png``, upload it to WeChat as
temporary media and send it to the distributor as a customer-service image.

Choices:

- Fonts. Pillow's built-in font (Aileron, scalable) has Latin glyphs only, so
  without a font file a poster carries ASCII text only: a title the font
  cannot draw (a Chinese nickname...) is replaced by ``DEFAULT_TITLE``. Set
  ``POSTER_FONT_PATH`` to a TrueType/OpenType font with CJK glyphs (e.g.
  Noto Sans CJK) to get Chinese titles and captions. A path that cannot be
  read is logged and the poster falls back to ASCII.
- A poster is regenerated only when the QR ticket changed (or the file is
  gone): the ticket a poster was drawn for is kept in the PNG itself (a text
  chunk), so the check needs no extra column and survives a copied instance folder.
- One poster job per distributor per day (UTC): the job id is
  ``poster-<user id>-<YYYYMMDD>``, enqueued with ``unique=True``; the same id
  keys the customer-service delivery, so a retried job never sends twice.
  Asking again the same day sends nothing new.
- The uploaded media_id is reused for 2.5 days (WeChat keeps temporary media 3
  days) while the poster bytes are unchanged.
"""
from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import os
import uuid
from datetime import UTC, datetime
from typing import Any

import requests
from flask import Flask, current_app
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError
from PIL.PngImagePlugin import PngInfo
from sqlalchemy import update
from wechatpy.exceptions import WeChatClientException

from referral.qrcodes import NotActiveDistributor, QrCode, ensure_qr_code
from webapp.errors import DomainError
from webapp.models import Distributor, User
from webapp.models.base import utcnow
from webapp.redis_conn import get_redis
from webapp.services.uow import DbSession, unit_of_work

log = logging.getLogger(__name__)

POSTER_SIZE = (750, 1334)  # a phone screen's proportions; WeChat shows it full width
HEADER_HEIGHT = 210
QR_SIZE = 540
QR_BOX = ((POSTER_SIZE[0] - QR_SIZE) // 2, 250, QR_SIZE)  # left, top, side of the QR code
MARGIN = 48
GREEN = (7, 193, 96)
INK = (25, 25, 25)
GREY = (120, 120, 120)
WHITE = (255, 255, 255)
DEFAULT_TITLE = "Scan to visit my shop"
MAX_TITLE = 64
MAX_QR_IMAGE_PIXELS = 4000
MAX_QR_IMAGE_BYTES = 2 * 1024 * 1024
TICKET_KEY = "chatshop-qr-ticket"  # PNG text chunk: the ticket the poster was drawn for
POSTER_DIR = "posters"
MEDIA_CACHE_SECONDS = int(2.5 * 24 * 3600)
MEDIA_CACHE_PREFIX = "chatshop:poster:media:"
JOB_RETRY_INTERVALS = [10, 60, 300]
JOB_KEEP_SECONDS = 24 * 3600

_ASCII_TEXT = {
    "caption": "Scan the code in WeChat to follow the shop",
    "label": "INVITE CODE",
    "hint": "or type this code in the chat",
}
_CJK_TEXT = {
    "caption": "长按识别二维码 · 关注小店",
    "label": "邀请码 INVITE CODE",
    "hint": "或在对话中输入邀请码",
}


class PosterError(DomainError):
    """The poster could not be made or sent (the QR image or WeChat failed)."""

    status_code = 502
    error_code = "poster"


# --- drawing -----------------------------------------------------------------------------


FontType = ImageFont.FreeTypeFont | ImageFont.ImageFont


@functools.lru_cache(maxsize=64)
def _truetype(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def _font_loader(font_path: str | None) -> tuple[Any, bool]:
    """A ``size -> font`` function and whether it can draw CJK (only a configured font can)."""
    if font_path:
        try:
            _truetype(font_path, 20)
        except OSError as exc:
            log.warning("POSTER_FONT_PATH %r cannot be loaded (%s): ASCII-only poster",
                        font_path, exc)
        else:
            return (lambda size: _truetype(font_path, size)), True
    return _builtin, False


@functools.lru_cache(maxsize=64)
def _builtin(size: int) -> FontType:
    return ImageFont.load_default(size=size)


def _fit(draw: ImageDraw.ImageDraw, text: str, font_at: Any, width: int, size: int,
         smallest: int) -> tuple[str, FontType]:
    """The largest font (down to ``smallest``) that fits ``text`` in ``width``; else truncate."""
    while size > smallest and draw.textlength(text, font=font_at(size)) > width:
        size -= 2
    font = font_at(size)
    if draw.textlength(text, font=font) <= width:
        return text, font
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "...", font


def _title_lines(draw: ImageDraw.ImageDraw, text: str, font_at: Any,
                 width: int) -> tuple[list[str], FontType]:
    """The title on one line (56 px down to 40), else wrapped on two (44 px down to 28)."""
    for size in range(56, 39, -2):
        if draw.textlength(text, font=font_at(size)) <= width:
            return [text], font_at(size)
    # Break between words when there are spaces, anywhere in CJK text (it has none).
    tokens = text.split(" ")
    joiner = " " if len(tokens) > 1 else ""
    if not joiner:
        tokens = list(text)
    for size in range(44, 27, -2):
        font = font_at(size)
        first: list[str] = []
        while tokens[len(first):] and draw.textlength(
                joiner.join([*first, tokens[len(first)]]), font=font) <= width:
            first.append(tokens[len(first)])
        rest = joiner.join(tokens[len(first):])
        if first and draw.textlength(rest, font=font) <= width:
            return [joiner.join(first), rest], font
    font = font_at(28)
    line, font = _fit(draw, joiner.join(tokens[len(first):]), font_at, width, 28, 28)
    return [joiner.join(first) or line, line if first else ""], font


def _centred(draw: ImageDraw.ImageDraw, y: int, text: str, font: FontType,
             fill: tuple[int, int, int]) -> None:
    # Anchor "mt": middle of the text at x, its top at y, whatever the font's bearings.
    draw.text((POSTER_SIZE[0] // 2, y), text, font=font, fill=fill, anchor="mt")


def _qr_image(qr_png: bytes) -> Image.Image:
    """The QR picture scaled to the poster's box, pure black and white."""
    try:
        source = Image.open(io.BytesIO(qr_png))
        if max(source.size) > MAX_QR_IMAGE_PIXELS:
            raise ValueError("the QR image is implausibly large")
        grey = source.convert("L")
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError("the QR image is not a picture Pillow can read") from exc
    # Nearest neighbour keeps modules square and sharp; the threshold removes the grey
    # fringes of a JPEG (what WeChat serves), so every module is plainly dark or light.
    scaled = grey.resize((QR_SIZE, QR_SIZE), Image.Resampling.NEAREST)
    return scaled.point(lambda value: 0 if value < 128 else 255)


def render_poster(qr_png: bytes, invite_code: str, title: str, *,
                  font_path: str | None = None, ticket: str = "") -> bytes:
    """A poster PNG (``POSTER_SIZE``): the title, the QR code large, the invite code large.

    ``qr_png`` is the QR code's image (PNG, or any format Pillow reads, e.g.
    WeChat's JPEG); it fills the square ``QR_BOX``. Without ``font_path`` only
    ASCII text is drawn (a non-ASCII title becomes ``DEFAULT_TITLE``).
    ``ticket`` is recorded in the PNG (text chunk ``TICKET_KEY``). Raises
    ValueError for an unreadable image or an invite code that is not short ASCII.
    """
    code = (invite_code or "").strip()
    if not code or len(code) > 16 or not (code.isascii() and code.isprintable()):
        raise ValueError("the invite code must be 1 to 16 printable ASCII characters")
    font_at, cjk = _font_loader(font_path)
    heading = " ".join((title or "").split())
    if len(heading) > MAX_TITLE:
        heading = heading[:MAX_TITLE - 3].rstrip() + "..."
    if not heading or not (cjk or (heading.isascii() and heading.isprintable())):
        heading = DEFAULT_TITLE
    words = _CJK_TEXT if cjk else _ASCII_TEXT
    qr = _qr_image(qr_png)

    poster = Image.new("RGB", POSTER_SIZE, WHITE)
    draw = ImageDraw.Draw(poster)
    width = POSTER_SIZE[0] - 2 * MARGIN
    draw.rectangle((0, 0, POSTER_SIZE[0], HEADER_HEIGHT), fill=GREEN)
    lines, font = _title_lines(draw, heading, font_at, width)
    lines = [line for line in lines if line]
    line_height = int(getattr(font, "size", 40) * 1.3)
    y = (HEADER_HEIGHT - line_height * len(lines)) // 2 + 4
    for line in lines:
        _centred(draw, y, line, font, WHITE)
        y += line_height
    left, top, side = QR_BOX
    poster.paste(qr.convert("RGB"), (left, top))
    draw.rectangle((left - 2, top - 2, left + side + 1, top + side + 1), outline=(230, 230, 230),
                   width=2)
    below = top + side
    text, font = _fit(draw, words["caption"], font_at, width, 30, 20)
    _centred(draw, below + 24, text, font, GREY)
    _centred(draw, below + 110, words["label"], font_at(30), GREY)
    text, font = _fit(draw, code, font_at, width, 110, 48)
    _centred(draw, below + 160, text, font, INK)
    text, font = _fit(draw, words["hint"], font_at, width, 30, 20)
    _centred(draw, below + 300, text, font, GREY)
    draw.rectangle((0, POSTER_SIZE[1] - 12, POSTER_SIZE[0], POSTER_SIZE[1]), fill=GREEN)

    info = PngInfo()
    if ticket:
        info.add_text(TICKET_KEY, ticket)
    out = io.BytesIO()
    poster.save(out, format="PNG", optimize=True, pnginfo=info)
    return out.getvalue()


def poster_title(nickname: str, *, cjk: bool) -> str:
    """The poster's title for a distributor: their name when the font can draw it."""
    name = " ".join((nickname or "").split())[:40]
    if not name:
        return "ChatShop 小店" if cjk else DEFAULT_TITLE
    if cjk:
        return f"{name} 的小店"
    if name.isascii() and name.isprintable():
        return f"{name}'s shop"
    return DEFAULT_TITLE


def poster_ticket(png: bytes) -> str | None:
    """The QR ticket a poster was drawn for (from its text chunk), or None."""
    try:
        with Image.open(io.BytesIO(png)) as image:
            value = image.info.get(TICKET_KEY)
    except (UnidentifiedImageError, OSError):
        return None
    return value if isinstance(value, str) else None


# --- the background job ------------------------------------------------------------------


def _app() -> Flask:
    return current_app._get_current_object()  # type: ignore[attr-defined]


def poster_job_id(user_id: int, day: datetime | None = None) -> str:
    """The poster job's id: one per distributor and UTC day."""
    when = day or datetime.now(UTC)
    return f"poster-{int(user_id)}-{when:%Y%m%d}"


def request_poster(user_id: int, openid: str) -> None:
    """Queue the job that sends the distributor their poster in the chat (once a day).

    Returns at once; a second request the same day is not queued again. Whether
    the user may have a poster (an active distributor) is checked by the job.
    """
    from rq import Retry

    from workers.queues import NOTIFICATIONS, enqueue_once

    if isinstance(user_id, bool) or not isinstance(user_id, int) or user_id <= 0:
        raise ValueError("user_id must be a positive integer")
    if not openid or not isinstance(openid, str):
        raise ValueError("openid is required")
    job_id = poster_job_id(user_id)
    queued = enqueue_once(
        NOTIFICATIONS,
        "workers.jobs.send_distributor_poster",
        user_id,
        openid,
        job_id=job_id,
        app=_app(),
        retry=Retry(max=len(JOB_RETRY_INTERVALS), interval=list(JOB_RETRY_INTERVALS)),
        # The job's record must outlive the day for unique=True to mean "once a day".
        result_ttl=JOB_KEEP_SECONDS,
        failure_ttl=JOB_KEEP_SECONDS,
        description=f"distributor poster for user {user_id}",
    )
    if not queued:
        log.info("poster for user %s already requested today (%s)", user_id, job_id)


def poster_file(app: Flask, user_id: int) -> str:
    """Where the distributor's poster is kept: ``<instance>/posters/<user id>.png``."""
    return os.path.join(app.instance_path, POSTER_DIR, f"{int(user_id)}.png")


def fetch_qr_image(url: str, timeout: float) -> bytes:
    """The image of a QR code from WeChat's (or the sandbox's) showqrcode."""
    try:
        with requests.get(url, timeout=timeout, stream=True) as response:
            kind = response.headers.get("Content-Type", "")
            if response.status_code != 200 or not kind.startswith("image/"):
                raise PosterError(f"the QR image answered HTTP {response.status_code} ({kind})")
            body = io.BytesIO()
            for chunk in response.iter_content(64 * 1024):
                body.write(chunk)
                if body.tell() > MAX_QR_IMAGE_BYTES:
                    raise PosterError("the QR image is implausibly large")
    except requests.RequestException as exc:
        raise PosterError(f"the QR image could not be fetched: {type(exc).__name__}") from exc
    return body.getvalue()


def _stored_poster(path: str, ticket: str) -> bytes | None:
    """The kept poster if it was drawn for ``ticket``."""
    try:
        with open(path, "rb") as handle:
            png = handle.read()
    except OSError:
        return None
    return png if poster_ticket(png) == ticket else None


def _write_atomically(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # Write aside, then rename: a reader never sees half a poster.
    temporary = f"{path}.{uuid.uuid4().hex}.tmp"
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def _poster_png(app: Flask, session: DbSession, user: User, record: Distributor,
                qr: QrCode) -> bytes:
    """The poster for the current QR code: the kept one, or a new one (kept and recorded)."""
    path = poster_file(app, user.id)
    kept = _stored_poster(path, qr.ticket)
    if kept is not None and record.poster_path:
        return kept
    timeout = float(app.config.get("WECHAT_HTTP_TIMEOUT_SECONDS") or 5)
    image = fetch_qr_image(qr.image_url, timeout)
    font_path = str(app.config.get("POSTER_FONT_PATH") or "") or None
    title = poster_title(user.nickname, cjk=bool(font_path))
    try:
        png = render_poster(image, record.invite_code, title, font_path=font_path,
                            ticket=qr.ticket)
    except ValueError as exc:
        raise PosterError(f"the poster could not be drawn: {exc}") from exc
    _write_atomically(path, png)
    with unit_of_work(session):
        session.execute(
            update(Distributor).where(Distributor.user_id == user.id)
            .values(poster_path=os.path.join(POSTER_DIR, f"{user.id}.png"),
                    poster_generated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    log.info("poster drawn for distributor %s (ticket %s...)", user.id, qr.ticket[:12])
    return png


def _media_id(app: Flask, client: Any, user_id: int, png: bytes) -> str:
    """A WeChat media_id for the poster: the last upload while it is valid, else a new one."""
    conn = get_redis(app)
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


def send_poster(session: DbSession, user_id: int, openid: str, *,
                delivery_key: str | None = None, client: Any = None) -> int:
    """Make (or reuse) the distributor's poster and send it to ``openid``; 1 if it went out.

    0 when the user is not an active distributor, ``openid`` is not theirs, or the
    user's customer-service quota is used up. The delivery is keyed (``delivery_key``,
    else today's job id): the same key sends at most once. Network failures raise
    (the job retries); ``PosterError`` when the image or WeChat fails for good.
    """
    from webapp.chat.outbound import deliver_now, image_message

    app = _app()
    user = session.get(User, user_id)
    if user is None or user.openid != openid:
        log.warning("poster for user %s refused: openid does not belong to them", user_id)
        return 0
    if client is None:
        from webapp.wechat.client import wechat_client

        client = wechat_client(app)
    try:
        qr = ensure_qr_code(session, user_id, client=client)
    except NotActiveDistributor as exc:
        log.info("no poster for user %s: %s", user_id, exc.message)
        return 0
    record = session.get(Distributor, user_id, populate_existing=True)
    if record is None:
        return 0
    png = _poster_png(app, session, user, record, qr)
    media_id = _media_id(app, client, user_id, png)
    report = deliver_now(openid, [image_message(media_id)], "poster",
                         delivery_id=delivery_key or poster_job_id(user_id), client=client,
                         app=app)
    if report.failed:
        # WeChat refused the message (e.g. the media expired early): upload afresh next time.
        get_redis(app).delete(f"{MEDIA_CACHE_PREFIX}{user_id}")
    return report.sent
