"""Distributor posters: drawing, the daily job, and the trip through the sandbox to the chat."""
from __future__ import annotations

import io
import os
import signal
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from PIL import Image, ImageChops, ImageDraw
from rq import SimpleWorker

from core.models import Distributor, User
from core.queues import NOTIFICATIONS, QUEUE_NAMES, get_queue
from referral import posters
from referral.links import share_url
from referral.posters import (
    CARD_BOX,
    CJK_FONT_CANDIDATES,
    DEFAULT_TITLE,
    GREEN,
    POSTER_SIZE,
    QR_BOX,
    TICKET_KEY,
    find_cjk_font,
    poster_file,
    poster_font,
    poster_font_path,
    poster_job_id,
    poster_ticket,
    poster_title,
    render_poster,
    request_poster,
)
from referral.qrcodes import ensure_qr_code
from sandbox import oa_api, sent_messages, uploaded_media
from sandbox.oa import create_consumer, note_user_message, set_subscribed
from sandbox.qr_png import qr_matrix, qr_png
from storefront.outbound import note_user_interaction
from storefront.posters import MEDIA_CACHE_PREFIX, send_poster
from tests.support.factories import make_distributor, make_user
from tests.support.live_server import LiveSandbox
from tests.support.sandbox import read_qr_modules
from webapp.extensions import db
from webapp.redis_conn import get_redis

SCAN_URL = "http://127.0.0.1:5000/sandbox/chat?ticket=gQtest-ticket"


def send_with_app_redis(user_id: int, openid: str, **options: Any) -> int:
    """``send_poster`` as the poster job calls it: the app's session and Redis."""
    return send_poster(db.session, user_id, openid, conn=get_redis(), **options)


def _decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def _qr_in(png: bytes, data: str) -> bool:
    expected = qr_matrix(data)
    return read_qr_modules(png, box=QR_BOX, modules=len(expected)) == expected


# --- drawing -------------------------------------------------------------------------------


def test_a_poster_is_a_png_with_the_qr_code_readable_in_its_box():
    png = render_poster(qr_png(SCAN_URL), "ABCD2345", "Alice's shop", ticket="gQtest-ticket")
    image = _decode(png)
    assert image.format == "PNG" and image.size == POSTER_SIZE
    assert image.info[TICKET_KEY] == "gQtest-ticket" == poster_ticket(png)
    # Every module of the QR code, read back at its centre, is the one the QR encoder made.
    assert _qr_in(png, SCAN_URL)
    # The QR code is big: more than half the poster's width.
    assert QR_BOX[2] > POSTER_SIZE[0] / 2
    # The invite code is drawn in green under the code, and only there does another code differ.
    left, top, side = QR_BOX
    area = (0, top + side + 160, POSTER_SIZE[0], POSTER_SIZE[1])
    assert GREEN in {colour for _, colour in image.crop(area).getcolors(1 << 16) or []}
    other = _decode(render_poster(qr_png(SCAN_URL), "WXYZ2345", "Alice's shop",
                                  ticket="gQtest-ticket"))
    assert _inside(_differs_in(image, other), area)


def _differs_in(first: Image.Image, second: Image.Image) -> tuple[int, int, int, int] | None:
    """The bounding box of the pixels that differ between two posters (None: identical)."""
    return ImageChops.difference(first.convert("RGB"), second.convert("RGB")).getbbox()


def _inside(box: tuple[int, int, int, int] | None, area: tuple[int, int, int, int]) -> bool:
    return box is not None and area[0] <= box[0] and area[1] <= box[1] \
        and box[2] <= area[2] and box[3] <= area[3]


def test_a_jpeg_like_wechats_still_gives_a_clean_code():
    out = io.BytesIO()
    Image.open(io.BytesIO(qr_png(SCAN_URL))).convert("RGB").resize((430, 430)).save(
        out, format="JPEG", quality=70)
    png = render_poster(out.getvalue(), "ABCD2345", "Alice's shop")
    assert _qr_in(png, SCAN_URL)
    histogram = _decode(png).convert("L").crop(
        (QR_BOX[0], QR_BOX[1], QR_BOX[0] + QR_BOX[2], QR_BOX[1] + QR_BOX[2])).histogram()
    levels = {value for value, count in enumerate(histogram) if count}
    assert levels == {0, 255}  # thresholded: no JPEG grey left in the code


def test_without_a_font_file_only_ascii_text_is_drawn():
    qr = qr_png(SCAN_URL)
    default = render_poster(qr, "ABCD2345", DEFAULT_TITLE)
    assert render_poster(qr, "ABCD2345", "小明的小店") == default
    assert render_poster(qr, "ABCD2345", "") == default
    assert render_poster(qr, "ABCD2345", "Alice's shop") != default
    assert poster_font(default) == ""


@pytest.mark.parametrize(("nickname", "cjk", "title"), [
    ("小明", True, "小明的小店"),
    ("  韩梅梅的优选小店 ", True, "韩梅梅的优选小店"),  # already names a shop: kept as is
    ("张姐团购", True, "张姐团购的小店"),
    ("Alice", True, "Alice 的小店"),
    ("Bob's Store", True, "Bob's Store"),
    ("", True, "ChatShop 小店"),
    ("Alice", False, "Alice's shop"),
    ("Alice  Shop", False, "Alice Shop"),
    ("小明", False, DEFAULT_TITLE),  # the built-in font cannot draw it
    ("", False, DEFAULT_TITLE),
])
def test_the_shop_name_comes_from_the_nickname(nickname: str, cjk: bool, title: str):
    assert poster_title(nickname, cjk=cjk) == title


def _cjk_font() -> str:
    font = find_cjk_font()
    # scripts/ensure-test-services.sh (run by `make test`) installs fonts-noto-cjk.
    assert font is not None, "no CJK font: run scripts/ensure-test-services.sh as root"
    return font


def _drawn_text(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Record every string drawn on a poster with the font file it was drawn in."""
    drawn: list[tuple[str, str]] = []
    real = ImageDraw.ImageDraw.text

    def spy(self: ImageDraw.ImageDraw, xy: Any, text: Any, *args: Any, **kwargs: Any) -> None:
        font = kwargs.get("font")
        drawn.append((str(text), str(getattr(font, "path", "") or "")))
        real(self, xy, text, *args, **kwargs)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", spy)
    return drawn


def test_a_cjk_font_draws_the_shop_name_and_a_chinese_call_to_action(
        monkeypatch: pytest.MonkeyPatch):
    font = _cjk_font()
    drawn = _drawn_text(monkeypatch)
    png = render_poster(qr_png(SCAN_URL), "ABCD2345", "小明的小店", font_path=font)
    texts = {text for text, _ in drawn}
    assert {"小明的小店", "长按识别二维码，进店逛逛", "邀请码", "ABCD2345"} <= texts
    # Every string is drawn with the CJK font (the name in its bold sibling when there is one).
    assert {os.path.basename(path).split("-")[0] for _, path in drawn} == {
        os.path.basename(font).split("-")[0]}
    assert poster_font(png) == font
    image = _decode(png)
    assert image.size == POSTER_SIZE and _qr_in(png, SCAN_URL)
    # Another name changes the header only: the name is really drawn there.
    other = _decode(render_poster(qr_png(SCAN_URL), "ABCD2345", "小红的小店", font_path=font))
    assert _inside(_differs_in(image, other), (0, 0, POSTER_SIZE[0], CARD_BOX[1]))


def test_without_a_cjk_font_the_poster_is_english_with_the_name_when_ascii(
        monkeypatch: pytest.MonkeyPatch):
    drawn = _drawn_text(monkeypatch)
    png = render_poster(qr_png(SCAN_URL), "ABCD2345", "Alice's shop")
    texts = [text for text, _ in drawn]
    assert "Alice's shop" in texts and "Scan the QR code to visit the shop" in texts
    assert all(text.isascii() for text in texts)
    other = render_poster(qr_png(SCAN_URL), "ABCD2345", "Bobby's shop")
    assert _inside(_differs_in(_decode(png), _decode(other)),
                   (0, 0, POSTER_SIZE[0], CARD_BOX[1]))


def test_find_cjk_font_tries_the_candidates_in_order(tmp_path: Any):
    noto = tmp_path / "noto"
    noto.mkdir()
    (noto / "NotoSansCJK-Regular.txt").write_text("not a font file")
    (noto / "NotoSerifCJK-Regular.ttc").write_bytes(b"font")
    (noto / "NotoSansCJKsc-Regular.otf").write_bytes(b"font")
    asked: list[int] = []

    def fontconfig() -> list[str]:
        asked.append(1)
        return [str(tmp_path / "gone.ttf"), str(noto / "NotoSerifCJK-Regular.ttc")]

    missing = str(tmp_path / "missing" / "NotoSansCJK-Regular.ttc")
    # A missing path and a non-font file are passed over; a pattern's matches go by name.
    assert find_cjk_font([missing, str(noto / "*.txt"), str(noto / "Noto*CJK*")],
                         fontconfig=fontconfig) == str(noto / "NotoSansCJKsc-Regular.otf")
    assert asked == []
    # Nothing among the candidates: fontconfig's answer (the first existing file).
    assert find_cjk_font([missing], fontconfig=fontconfig) == str(
        noto / "NotoSerifCJK-Regular.ttc")
    assert asked == [1]
    assert find_cjk_font([missing], fontconfig=list) is None
    assert find_cjk_font([missing], fontconfig=None) is None
    # The Debian path of fonts-noto-cjk is the first candidate.
    assert CJK_FONT_CANDIDATES[0] == "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"


def test_the_job_font_is_the_setting_else_the_installed_cjk_font(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch):
    installed = str(tmp_path / "NotoSansCJK-Regular.ttc")
    monkeypatch.setattr(posters, "installed_cjk_font", lambda: installed)
    configured = tmp_path / "Shop.ttf"
    configured.write_bytes(b"font")
    assert poster_font_path(str(configured)) == str(configured)
    assert poster_font_path(None) == installed
    assert poster_font_path(str(tmp_path / "missing.ttf")) == installed
    monkeypatch.setattr(posters, "installed_cjk_font", lambda: None)
    assert poster_font_path(None) is None
    # The real machine: the installed font is the Noto CJK collection, SC face.
    font = _cjk_font()
    assert posters.poster_fonts(font).bold(40).getname()[0].endswith("CJK SC")


def test_an_unreadable_font_falls_back_to_ascii(tmp_path: Any):
    qr = qr_png(SCAN_URL)
    missing = str(tmp_path / "missing.ttf")
    assert render_poster(qr, "ABCD2345", "小明", font_path=missing) == render_poster(
        qr, "ABCD2345", DEFAULT_TITLE)
    broken = tmp_path / "broken.ttc"
    broken.write_bytes(b"not a font")
    assert poster_font(render_poster(qr, "ABCD2345", "小明", font_path=str(broken))) == ""


@pytest.mark.parametrize(("qr", "code"), [
    (b"not an image", "ABCD2345"),
    (None, ""),
    (None, "邀请码"),
    (None, "X" * 17),
])
def test_bad_input_is_refused(qr: bytes | None, code: str):
    with pytest.raises(ValueError):
        render_poster(qr if qr is not None else qr_png(SCAN_URL), code, "title")


def test_share_url():
    assert share_url("https://shop.example/", "abcd-2345") == "https://shop.example/r/ABCD2345"
    with pytest.raises(ValueError):
        share_url("https://shop.example", "nope")
    with pytest.raises(ValueError):
        share_url("shop.example", "ABCD2345")


# --- the job -------------------------------------------------------------------------------


def test_request_poster_queues_one_job_a_day(app: Flask):
    request_poster(42, "o-dist-42")
    request_poster(42, "o-dist-42")
    request_poster(43, "o-dist-43")
    queue = get_queue(NOTIFICATIONS, get_redis())
    assert sorted(queue.job_ids) == sorted([poster_job_id(42), poster_job_id(43)])
    job = queue.fetch_job(poster_job_id(42))
    assert job is not None
    assert job.func_name == "workers.jobs.send_distributor_poster"
    assert job.args == (42, "o-dist-42")
    assert poster_job_id(42).startswith("poster-42-20")
    with pytest.raises(ValueError):
        request_poster(0, "o-x")


def run_jobs() -> None:
    """Run the queued RQ jobs here, in the test's app context (keeping pytest's signals)."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        SimpleWorker(list(QUEUE_NAMES), connection=get_redis()).work(burst=True)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _follower_distributor(nickname: str = "Alice") -> User:
    """An active distributor who follows the account, with customer-service windows open."""
    openid = create_consumer(nickname).openid
    set_subscribed(openid, True)
    note_user_message(openid)  # the sandbox's books (WeChat's)
    note_user_interaction(openid, "text")  # the app's books
    user = make_distributor()
    user.openid = openid
    user.nickname = nickname
    db.session.commit()
    return user


def _spy_uploads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real: Callable[..., dict[str, Any]] = oa_api.media_upload

    def spy(ctx: Any, media_type: Any, filename: Any, data: Any) -> dict[str, Any]:
        seen.append(str(filename))
        return real(ctx, media_type, filename, data)

    monkeypatch.setattr(oa_api, "media_upload", spy)
    return seen


def _generated_at(user_id: int) -> Any:
    record = db.session.get(Distributor, user_id, populate_existing=True)
    assert record is not None
    return record.poster_path, record.poster_generated_at


def test_the_poster_reaches_the_distributor_in_the_chat(
    live_sandbox: LiveSandbox, monkeypatch: pytest.MonkeyPatch
):
    uploads = _spy_uploads(monkeypatch)
    alice = _follower_distributor()
    alice_id, openid = alice.id, str(alice.openid)

    request_poster(alice_id, openid)
    request_poster(alice_id, openid)  # asked twice: one job
    run_jobs()

    (sent,) = sent_messages(openid)
    assert sent["via"] == "custom" and sent["msg"]["type"] == "image"
    media = uploaded_media(sent["msg"]["media_id"])
    assert media is not None
    path = poster_file(live_sandbox.app, alice_id)
    with open(path, "rb") as handle:
        kept = handle.read()
    assert media[1] == kept and media[0].content_type == "image/png"
    assert uploads == [f"poster-{alice_id}.png"]
    poster_path, generated_at = _generated_at(alice_id)
    assert poster_path == os.path.join("posters", f"{alice_id}.png") and generated_at is not None
    code = ensure_qr_code(db.session, alice_id)
    assert _decode(kept).size == POSTER_SIZE and _qr_in(kept, code.url)
    assert poster_ticket(kept) == code.ticket
    # No POSTER_FONT_PATH in the tests: the job found and used the installed CJK font.
    assert poster_font(kept) == _cjk_font()
    db.session.rollback()

    # The same delivery again (a retried job): nothing more is sent or uploaded.
    assert send_with_app_redis(alice_id, openid, delivery_key=poster_job_id(alice_id)) == 0
    # Another day: the kept poster and its upload are reused.
    assert send_with_app_redis(alice_id, openid, delivery_key="poster-next-day") == 1
    assert len(sent_messages(openid)) == 2 and len(uploads) == 1
    assert _generated_at(alice_id)[1] == generated_at
    db.session.rollback()

    # A poster drawn for another ticket is redrawn; drawing is deterministic, so the
    # new one equals the first and the upload of those bytes is still good.
    with open(path, "wb") as handle:
        handle.write(render_poster(qr_png(SCAN_URL), "ABCD2345", "old", ticket="gQold"))
    assert send_with_app_redis(alice_id, openid, delivery_key="poster-new-code") == 1
    assert _generated_at(alice_id)[1] != generated_at
    with open(path, "rb") as handle:
        assert handle.read() == kept
    assert len(uploads) == 1
    db.session.rollback()

    # New bytes (the media cache gone, as after 2.5 days) are uploaded afresh.
    os.remove(path)
    get_redis().delete(f"{MEDIA_CACHE_PREFIX}{alice_id}")
    assert send_with_app_redis(alice_id, openid, delivery_key="poster-later") == 1
    assert len(uploads) == 2 and os.path.exists(path)
    db.session.rollback()

    # A new nickname is a new shop name: the same ticket, but the poster is redrawn.
    with open(path, "rb") as handle:
        before = handle.read()
    user = db.session.get(User, alice_id)
    assert user is not None
    user.nickname = "爱丽丝"
    db.session.commit()
    assert send_with_app_redis(alice_id, openid, delivery_key="poster-renamed") == 1
    with open(path, "rb") as handle:
        after = handle.read()
    assert after != before and poster_ticket(after) == poster_ticket(before)
    assert len(uploads) == 3


def test_no_poster_for_a_stranger_or_someone_elses_openid(live_sandbox: LiveSandbox,
                                                          monkeypatch: pytest.MonkeyPatch):
    uploads = _spy_uploads(monkeypatch)
    alice = _follower_distributor()
    record = db.session.get(Distributor, alice.id)
    assert record is not None
    record.status = "frozen"
    db.session.commit()
    assert send_with_app_redis(alice.id, str(alice.openid)) == 0
    consumer = make_user()
    assert send_with_app_redis(consumer.id, str(consumer.openid)) == 0
    active = _follower_distributor("Bob")
    assert send_with_app_redis(active.id, str(alice.openid)) == 0
    assert uploads == [] and sent_messages(str(alice.openid)) == []
