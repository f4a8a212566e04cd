"""Distributor posters: a PNG with the distributor's shop name, QR code and invite code.

``render_poster`` draws one (Pillow only, no database, no network).
``request_poster`` queues the background job (``workers.jobs.send_distributor_poster``)
that runs ``storefront.posters.send_poster``: ``make_poster`` here ensures the
QR code, fetches its image, renders the poster and keeps it as
``<instance>/posters/<user id>.png``; the storefront uploads it to WeChat as
temporary media and sends it to the distributor as a customer-service image.

Choices:

- Fonts. ``POSTER_FONT_PATH`` names a TrueType/OpenType font with CJK glyphs.
  When it is unset (or cannot be read), a CJK font installed on the machine is
  used: the usual paths of Debian's ``fonts-noto-cjk`` first
  (``CJK_FONT_CANDIDATES``), then fontconfig's ``fc-list :lang=zh`` when that
  program exists. Of a font collection (``.ttc``) the Simplified Chinese face
  is taken, and a ``-Bold`` sibling file, when there is one, draws the shop name.
  With no CJK font at all, Pillow's built-in font (Latin glyphs only) draws an
  English poster: a shop name it cannot draw (a Chinese nickname...) becomes
  ``DEFAULT_TITLE``.
- The poster says whose shop it is (``poster_title``: the nickname, as
  "<name>的小店" unless it already names a shop) and what to do
  ("长按识别二维码，进店逛逛": long-press is how WeChat users open a code in a picture).
- A poster is redrawn when the QR ticket changed, when what it shows changed
  (the shop name, the font, the layout) or when the file is gone: the ticket and
  a fingerprint of the rest are kept in the PNG itself (text chunks), so the
  check needs no extra column and survives a copied instance folder.
- One poster job per distributor per day (UTC): the job id is
  ``poster-<user id>-<YYYYMMDD>``, enqueued with ``unique=True``; the same id
  keys the customer-service delivery, so a retried job never sends twice.
  Asking again the same day sends nothing new.
- The uploaded media_id is reused for 2.5 days (WeChat keeps temporary media 3
  days) while the poster bytes are unchanged.
"""
from __future__ import annotations

import functools
import glob
import hashlib
import io
import logging
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import requests
from flask import Flask, current_app
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError
from PIL.PngImagePlugin import PngInfo
from rq import Retry
from sqlalchemy import update

from core.clock import utcnow
from core.errors import DomainError
from core.models import Distributor, User
from core.queues import NOTIFICATIONS, enqueue_once
from core.redis import shared_client
from core.uow import DbSession, unit_of_work
from referral import qrcodes
from referral.qrcodes import NotActiveDistributor, QrCode

log = logging.getLogger(__name__)

POSTER_SIZE = (750, 1334)  # a phone screen's proportions; WeChat shows it full width
HEADER_HEIGHT = 330
CARD_BOX = (40, 236, POSTER_SIZE[0] - 40, 1236)  # the white card: left, top, right, bottom
QR_SIZE = 480
QR_BOX = ((POSTER_SIZE[0] - QR_SIZE) // 2, 290, QR_SIZE)  # left, top, side of the QR code
MARGIN = 64
GREEN = (7, 193, 96)
DEEP_GREEN = (6, 150, 76)
PALE_GREEN = (214, 245, 226)
PAPER = (243, 245, 247)
INK = (25, 25, 25)
GREY = (128, 128, 128)
LINE = (229, 229, 229)
WHITE = (255, 255, 255)
DEFAULT_TITLE = "Scan to visit my shop"
MAX_TITLE = 64
MAX_QR_IMAGE_PIXELS = 4000
MAX_QR_IMAGE_BYTES = 2 * 1024 * 1024
TICKET_KEY = "chatshop-qr-ticket"  # PNG text chunk: the ticket the poster was drawn for
LOOK_KEY = "chatshop-poster-look"  # PNG text chunk: layout, font and title it was drawn with
FONT_KEY = "chatshop-poster-font"  # PNG text chunk: the font file used ("" = built-in)
LAYOUT_VERSION = "2"  # bump when the drawing changes, so kept posters are redrawn
POSTER_DIR = "posters"
JOB_RETRY_INTERVALS = [10, 60, 300]
JOB_KEEP_SECONDS = 24 * 3600

# Where CJK fonts usually are, best first: Debian/Ubuntu's fonts-noto-cjk (a .ttc
# collection; older releases shipped one .otf per region), fonts-noto-cjk-extra,
# WenQuanYi, then macOS's own Chinese fonts for a demo on a Mac.
CJK_FONT_CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK*-Regular.*",
    "/usr/share/fonts/truetype/noto/NotoSansCJK*-Regular.*",
    "/usr/share/fonts/opentype/noto/NotoSans*CJK*.*",
    "/usr/share/fonts/opentype/noto/NotoSerif*CJK*.*",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
)
FONT_FILE_SUFFIXES = (".ttc", ".ttf", ".otf", ".otc")

_ASCII_TEXT = {
    "tagline": "Hand-picked goods, ordered right in WeChat",
    "action": "Scan the QR code to visit the shop",
    "action_hint": "in WeChat: long-press the code, or scan it",
    "label": "INVITE CODE",
    "hint": "or send this code in the official account's chat",
}
_CJK_TEXT = {
    "tagline": "精选好物 · 微信里直接下单",
    "action": "长按识别二维码，进店逛逛",
    "action_hint": "或用微信“扫一扫”扫描上方二维码",
    "label": "邀请码",
    "hint": "也可以在公众号对话框里发送邀请码",
}


class PosterError(DomainError):
    """The poster could not be made or sent (the QR image or WeChat failed)."""

    status_code = 502
    error_code = "poster"


# --- fonts -------------------------------------------------------------------------------


def _is_font_file(path: str) -> bool:
    return path.lower().endswith(FONT_FILE_SUFFIXES) and os.path.isfile(path)


def _fontconfig_cjk_fonts(timeout: float = 3.0) -> list[str]:
    """Font files fontconfig says cover Chinese (sans first); empty without ``fc-list``."""
    program = shutil.which("fc-list")
    if program is None:
        return []
    try:
        listed = subprocess.run([program, ":lang=zh", "file"], capture_output=True, text=True,
                                timeout=timeout, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    files = sorted({line.split(":")[0].strip() for line in listed.splitlines() if line.strip()})
    # Sans before serif: it reads better small and on a phone.
    return sorted(files, key=lambda path: ("serif" in os.path.basename(path).lower(), path))


def find_cjk_font(candidates: Sequence[str] = CJK_FONT_CANDIDATES, *,
                  fontconfig: Callable[[], list[str]] | None = _fontconfig_cjk_fonts
                  ) -> str | None:
    """The first font file with CJK glyphs found on this machine, or None.

    ``candidates`` are paths or glob patterns, tried in order (a pattern's
    matches in name order); then, if ``fontconfig`` is given, the files it
    returns (by default ``fc-list :lang=zh``, skipped when fontconfig is not
    installed). Only existing font files (.ttc, .ttf, .otf, .otc) count.
    """
    for pattern in candidates:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        for path in matches:
            if _is_font_file(path):
                return path
    if fontconfig is not None:
        for path in fontconfig():
            if _is_font_file(path):
                return path
    return None


@functools.lru_cache(maxsize=1)
def installed_cjk_font() -> str | None:
    """``find_cjk_font()`` once per process: fonts are not installed under a running worker."""
    return find_cjk_font()


def poster_font_path(configured: str | None) -> str | None:
    """The poster's font: ``POSTER_FONT_PATH`` if readable, else an installed CJK font.

    None means no CJK font: the poster is drawn in English with Pillow's built-in font.
    """
    if configured:
        if os.path.isfile(configured) and os.access(configured, os.R_OK):
            return configured
        log.warning("POSTER_FONT_PATH %r is not a readable file: looking for an installed "
                    "CJK font instead", configured)
    return installed_cjk_font()


FontType = ImageFont.FreeTypeFont | ImageFont.ImageFont
FontAt = Callable[[int], FontType]


@functools.lru_cache(maxsize=16)
def _face_index(path: str) -> int:
    """Which face of a collection to use: the Simplified Chinese one if named so, else 0."""
    if not path.lower().endswith((".ttc", ".otc")):
        return 0
    # Noto Sans CJK's collection holds JP, KR, SC, TC, HK faces (and Mono ones): the
    # glyph set is the same, the shapes follow each region's norms; the shop is in China.
    for index in range(32):
        try:
            family, _style = ImageFont.truetype(path, 12, index=index).getname()
        except OSError:
            break
        if family and family.endswith(" SC") and "Mono" not in family:
            return index
    return 0


@functools.lru_cache(maxsize=128)
def _truetype(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size, index=_face_index(path))


@functools.lru_cache(maxsize=64)
def _builtin(size: int) -> FontType:
    return ImageFont.load_default(size=size)


def _bold_sibling(path: str) -> str:
    """``…-Bold.ttc`` next to ``…-Regular.ttc`` if it exists (for the shop name), else ``path``."""
    folder, name = os.path.split(path)
    if "Regular" in name:
        bold = os.path.join(folder, name.replace("Regular", "Bold"))
        if os.path.isfile(bold):
            return bold
    return path


@dataclass(frozen=True)
class PosterFonts:
    """The fonts a poster is drawn with: ``regular(size)``, ``bold(size)``, and whether CJK."""

    regular: FontAt
    bold: FontAt
    cjk: bool
    path: str  # the font file ("" for Pillow's built-in font)


def poster_fonts(font_path: str | None) -> PosterFonts:
    """Load ``font_path`` (taken to have CJK glyphs); the built-in font if None or unreadable."""
    if font_path:
        try:
            _truetype(font_path, 20)
        except OSError as exc:
            log.warning("poster font %r cannot be loaded (%s): English-only poster",
                        font_path, exc)
        else:
            bold_path = _bold_sibling(font_path)
            try:
                _truetype(bold_path, 20)
            except OSError:
                bold_path = font_path
            return PosterFonts(regular=lambda size: _truetype(font_path, size),
                               bold=lambda size: _truetype(bold_path, size),
                               cjk=True, path=font_path)
    return PosterFonts(regular=_builtin, bold=_builtin, cjk=False, path="")


# --- drawing -----------------------------------------------------------------------------


def _fit(draw: ImageDraw.ImageDraw, text: str, font_at: FontAt, width: int, size: int,
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


def _title_lines(draw: ImageDraw.ImageDraw, text: str, font_at: FontAt,
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
    first: list[str] = []
    for size in range(44, 27, -2):
        font = font_at(size)
        first = []
        while tokens[len(first):] and draw.textlength(
                joiner.join([*first, tokens[len(first)]]), font=font) <= width:
            first.append(tokens[len(first)])
        rest = joiner.join(tokens[len(first):])
        if first and draw.textlength(rest, font=font) <= width:
            return [joiner.join(first), rest], font
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


def _heading(title: str, cjk: bool) -> str:
    """The title as drawn: one line of at most ``MAX_TITLE``; ``DEFAULT_TITLE`` if undrawable."""
    heading = " ".join((title or "").split())
    if len(heading) > MAX_TITLE:
        heading = heading[:MAX_TITLE - 3].rstrip() + "..."
    if not heading or not (cjk or (heading.isascii() and heading.isprintable())):
        return DEFAULT_TITLE
    return heading


def poster_look(title: str, fonts: PosterFonts) -> str:
    """A fingerprint of what a poster shows besides its QR code: layout, font, title."""
    seen = "\x1f".join((LAYOUT_VERSION, fonts.path, _heading(title, fonts.cjk)))
    return hashlib.sha256(seen.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def _draw_header(poster: Image.Image, draw: ImageDraw.ImageDraw, heading: str,
                 fonts: PosterFonts, words: dict[str, str]) -> None:
    """The green band: a badge with the name's first letter, the shop name, a tagline."""
    band = Image.new("RGB", (POSTER_SIZE[0], HEADER_HEIGHT), GREEN)
    # Two darker circles give the flat band some depth without an image asset; drawn
    # on the band alone, so they stop at its edge.
    shapes = ImageDraw.Draw(band)
    shapes.ellipse((POSTER_SIZE[0] - 260, -180, POSTER_SIZE[0] + 120, 200), fill=DEEP_GREEN)
    shapes.ellipse((-140, 120, 140, 400), fill=DEEP_GREEN)
    poster.paste(band, (0, 0))
    width = POSTER_SIZE[0] - 2 * MARGIN
    lines, font = _title_lines(draw, heading, fonts.bold, width)
    lines = [line for line in lines if line]
    line_height = int(getattr(font, "size", 40) * 1.3)
    # Name and tagline sit centred in the band above the card.
    y = (CARD_BOX[1] - line_height * len(lines) - 44) // 2
    for line in lines:
        _centred(draw, y, line, font, WHITE)
        y += line_height
    text, small = _fit(draw, words["tagline"], fonts.regular, width, 26, 20)
    _centred(draw, y + 10, text, small, PALE_GREEN)


def render_poster(qr_png: bytes, invite_code: str, title: str, *,
                  font_path: str | None = None, ticket: str = "") -> bytes:
    """A poster PNG (``POSTER_SIZE``): shop name, QR code, call to action, invite code.

    ``title`` is the shop name (see ``poster_title``). ``qr_png`` is the QR
    code's image (PNG, or any format Pillow reads, e.g. WeChat's JPEG); it
    fills the square ``QR_BOX``. ``font_path`` is a font with CJK glyphs (see
    ``poster_font_path``); without one only ASCII text is drawn, in English (a
    non-ASCII title becomes ``DEFAULT_TITLE``). ``ticket`` is recorded in the
    PNG (text chunk ``TICKET_KEY``), with the font (``FONT_KEY``) and
    ``poster_look`` (``LOOK_KEY``). Raises ValueError for an unreadable image or
    an invite code that is not short ASCII.
    """
    code = (invite_code or "").strip()
    if not code or len(code) > 16 or not (code.isascii() and code.isprintable()):
        raise ValueError("the invite code must be 1 to 16 printable ASCII characters")
    fonts = poster_fonts(font_path)
    heading = _heading(title, fonts.cjk)
    words = _CJK_TEXT if fonts.cjk else _ASCII_TEXT
    qr = _qr_image(qr_png)

    poster = Image.new("RGB", POSTER_SIZE, PAPER)
    draw = ImageDraw.Draw(poster)
    _draw_header(poster, draw, heading, fonts, words)
    draw.rounded_rectangle(CARD_BOX, radius=28, fill=WHITE)
    width = CARD_BOX[2] - CARD_BOX[0] - 2 * (MARGIN - CARD_BOX[0])

    left, top, side = QR_BOX
    poster.paste(qr.convert("RGB"), (left, top))
    below = top + side
    text, font = _fit(draw, words["action"], fonts.bold, width, 40, 24)
    _centred(draw, below + 36, text, font, INK)
    text, font = _fit(draw, words["action_hint"], fonts.regular, width, 24, 18)
    _centred(draw, below + 96, text, font, GREY)

    # The invite code, for typing in the chat: a dashed rule, the label, the code large.
    rule = below + 158
    for x in range(CARD_BOX[0] + 40, CARD_BOX[2] - 40, 16):
        draw.line((x, rule, x + 8, rule), fill=LINE, width=2)
    _centred(draw, rule + 30, words["label"], fonts.regular(26), GREY)
    text, font = _fit(draw, code, fonts.bold, width, 96, 48)
    _centred(draw, rule + 76, text, font, GREEN)
    text, font = _fit(draw, words["hint"], fonts.regular, width, 24, 18)
    _centred(draw, rule + 200, text, font, GREY)
    _centred(draw, CARD_BOX[3] + 36, "ChatShop", fonts.regular(24), (180, 180, 180))

    info = PngInfo()
    if ticket:
        info.add_text(TICKET_KEY, ticket)
    info.add_text(LOOK_KEY, poster_look(title, fonts))
    info.add_text(FONT_KEY, fonts.path)
    out = io.BytesIO()
    poster.save(out, format="PNG", optimize=True, pnginfo=info)
    return out.getvalue()


def poster_title(nickname: str, *, cjk: bool) -> str:
    """The shop name on a distributor's poster, from their nickname, if the font can draw it.

    With a CJK font: the nickname as is when it already names a shop (韩梅梅的优选小店,
    "Alice's Shop"), else "<nickname>的小店". Without one: "<nickname>'s shop" for
    an ASCII nickname, else ``DEFAULT_TITLE``.
    """
    name = " ".join((nickname or "").split())[:40]
    names_a_shop = name.endswith(("店", "铺")) or name.lower().endswith(("shop", "store"))
    if not name:
        return "ChatShop 小店" if cjk else DEFAULT_TITLE
    if cjk:
        if names_a_shop:
            return name
        # A space only after Latin letters or digits: Chinese runs on without one.
        return f"{name} 的小店" if name[-1].isascii() else f"{name}的小店"
    if name.isascii() and name.isprintable():
        return name if names_a_shop else f"{name}'s shop"
    return DEFAULT_TITLE


def _png_text(png: bytes, key: str) -> str | None:
    try:
        with Image.open(io.BytesIO(png)) as image:
            value = image.info.get(key)
    except (UnidentifiedImageError, OSError):
        return None
    return value if isinstance(value, str) else None


def poster_ticket(png: bytes) -> str | None:
    """The QR ticket a poster was drawn for (from its text chunk), or None."""
    return _png_text(png, TICKET_KEY)


def poster_font(png: bytes) -> str | None:
    """The font file a poster was drawn with ("" for the built-in font), or None if unknown."""
    return _png_text(png, FONT_KEY)


# --- the background job ------------------------------------------------------------------


def _app() -> Flask:
    return cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]


def poster_job_id(user_id: int, day: datetime | None = None) -> str:
    """The poster job's id: one per distributor and UTC day."""
    when = day or datetime.now(UTC)
    return f"poster-{int(user_id)}-{when:%Y%m%d}"


def request_poster(user_id: int, openid: str) -> None:
    """Queue the job that sends the distributor their poster in the chat (once a day).

    Returns at once; a second request the same day is not queued again. Whether
    the user may have a poster (an active distributor) is checked by the job.
    """
    if isinstance(user_id, bool) or not isinstance(user_id, int) or user_id <= 0:
        raise ValueError("user_id must be a positive integer")
    if not openid or not isinstance(openid, str):
        raise ValueError("openid is required")
    job_id = poster_job_id(user_id)
    queued = enqueue_once(
        shared_client(_app().extensions),
        NOTIFICATIONS,
        "workers.jobs.send_distributor_poster",
        user_id,
        openid,
        job_id=job_id,
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


def _stored_poster(path: str, ticket: str, look: str) -> bytes | None:
    """The kept poster if it was drawn for ``ticket`` and shows what it should (``look``)."""
    try:
        with open(path, "rb") as handle:
            png = handle.read()
    except OSError:
        return None
    if poster_ticket(png) != ticket or _png_text(png, LOOK_KEY) != look:
        return None
    return png


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
    font_path = poster_font_path(str(app.config.get("POSTER_FONT_PATH") or "") or None)
    fonts = poster_fonts(font_path)
    title = poster_title(user.nickname, cjk=fonts.cjk)
    kept = _stored_poster(path, qr.ticket, poster_look(title, fonts))
    if kept is not None and record.poster_path:
        return kept
    timeout = float(app.config.get("WECHAT_HTTP_TIMEOUT_SECONDS") or 5)
    image = fetch_qr_image(qr.image_url, timeout)
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


def make_poster(session: DbSession, user_id: int, openid: str, *, client: Any,
                app: Flask | None = None) -> bytes | None:
    """The distributor's current poster (the kept one, or drawn, kept and recorded now).

    None when the user is not an active distributor or ``openid`` is not theirs.
    Network failures raise; ``PosterError`` when the QR image cannot be had or drawn.
    """
    app = app or _app()
    user = session.get(User, user_id)
    if user is None or user.openid != openid:
        log.warning("poster for user %s refused: openid does not belong to them", user_id)
        return None
    try:
        qr = qrcodes.ensure_qr_code(session, user_id, client=client)
    except NotActiveDistributor as exc:
        log.info("no poster for user %s: %s", user_id, exc.message)
        return None
    record = session.get(Distributor, user_id, populate_existing=True)
    if record is None:
        return None
    return _poster_png(app, session, user, record, qr)
