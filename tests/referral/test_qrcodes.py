"""Distributors' QR codes through the real wechatpy client and the sandbox over HTTP."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
import requests
from sqlalchemy import select

from core.errors import Conflict
from core.models import AuditEntry, Distributor
from referral.domain.codes import scene_for
from referral.qrcodes import (
    CREATED_ACTION,
    PERMANENT_FULL_KEY,
    TEMPORARY_SECONDS,
    NotActiveDistributor,
    QrCode,
    QrCodeUnavailable,
    cached_qr_code,
    ensure_qr_code,
    qr_image_url,
)
from sandbox import oa_api, qr_codes
from sandbox.oa_api import ApiError
from sandbox.qr_png import qr_matrix
from tests.support.factories import make_distributor, make_user
from tests.support.live_server import LiveSandbox
from tests.support.sandbox import read_qr_modules
from webapp.extensions import db
from webapp.redis_conn import get_redis


def _idle() -> None:
    """End this thread's transaction (SQLite: let the live server's threads write)."""
    db.session.rollback()


def count_creates(monkeypatch: pytest.MonkeyPatch, delay: float = 0.0,
                  refuse: int | None = None) -> list[dict[str, Any]]:
    """Spy on the sandbox's qrcode/create: the bodies it received (and slow or refuse it)."""
    import json

    seen: list[dict[str, Any]] = []
    real: Callable[..., dict[str, Any]] = oa_api.qrcode_create

    def spy(ctx: Any, body: bytes) -> dict[str, Any]:
        seen.append(json.loads(body))
        time.sleep(delay)
        if refuse is not None:
            raise ApiError(refuse, "refused by the test")
        return real(ctx, body)

    monkeypatch.setattr(oa_api, "qrcode_create", spy)
    return seen


def test_created_once_then_cached(live_sandbox: LiveSandbox, monkeypatch: pytest.MonkeyPatch):
    creates = count_creates(monkeypatch)
    alice = make_distributor()
    code = ensure_qr_code(db.session, alice.id)
    assert isinstance(code, QrCode)
    assert creates == [{"action_name": "QR_LIMIT_STR_SCENE",
                        "action_info": {"scene": {"scene_str": f"dist_{alice.id}"}}}]
    assert code.url == f"{live_sandbox.url}/sandbox/chat?ticket={quote(code.ticket, safe='')}"
    assert code.image_url == (f"{live_sandbox.url}/sandbox/wechat/cgi-bin/showqrcode"
                              f"?ticket={quote(code.ticket, safe='')}")
    (made,) = qr_codes()
    assert made.permanent and made.scene == scene_for(alice.id) and made.ticket == code.ticket

    record = db.session.get(Distributor, alice.id, populate_existing=True)
    assert record is not None
    assert (record.qr_ticket, record.qr_url) == (code.ticket, code.url)
    assert record.qr_created_at is not None
    audit = db.session.scalars(select(AuditEntry).where(AuditEntry.action == CREATED_ACTION)).all()
    assert [a.details["kind"] for a in audit] == ["permanent"]

    assert ensure_qr_code(db.session, alice.id) == code
    assert cached_qr_code(db.session, alice.id) == code
    assert len(creates) == 1  # the second call never reached WeChat
    _idle()

    # The image WeChat (here the sandbox) serves is a QR code of the scan URL.
    image = requests.get(code.image_url, timeout=5)
    expected = qr_matrix(code.url)
    assert read_qr_modules(image.content, modules=len(expected)) == expected


def test_the_image_url_is_wechats_in_production():
    assert qr_image_url("https://api.weixin.qq.com/cgi-bin/", "gQ a/b") == (
        "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=gQ%20a/b")
    assert qr_image_url("http://stand-in.test/cgi-bin/", "gQ/b") == (
        "http://stand-in.test/cgi-bin/showqrcode?ticket=gQ%2Fb")


@pytest.mark.parametrize("status", ["pending", "frozen", "revoked", "rejected"])
def test_only_active_distributors_get_one(live_sandbox: LiveSandbox, monkeypatch, status):
    creates = count_creates(monkeypatch)
    bob = make_distributor(status, with_role=True)
    with pytest.raises(NotActiveDistributor) as refused:
        ensure_qr_code(db.session, bob.id)
    assert isinstance(refused.value, Conflict)
    with pytest.raises(NotActiveDistributor):
        ensure_qr_code(db.session, make_user().id)  # not a distributor at all
    assert creates == []
    assert cached_qr_code(db.session, bob.id) is None


def test_a_frozen_distributor_loses_the_cached_code(live_sandbox: LiveSandbox, monkeypatch):
    alice = make_distributor()
    ensure_qr_code(db.session, alice.id)
    record = db.session.get(Distributor, alice.id)
    assert record is not None
    record.status = "frozen"
    db.session.commit()
    with pytest.raises(NotActiveDistributor):
        ensure_qr_code(db.session, alice.id)
    assert cached_qr_code(db.session, alice.id) is None


def test_the_permanent_code_limit_falls_back_to_30_day_codes(
    live_sandbox: LiveSandbox, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    live_sandbox.app.config["SANDBOX_QR_PERMANENT_LIMIT"] = 1  # WeChat: 100 000
    creates = count_creates(monkeypatch)
    first, second, third = make_distributor(), make_distributor(), make_distributor()
    ensure_qr_code(db.session, first.id)
    code = ensure_qr_code(db.session, second.id)
    assert [c["action_name"] for c in creates] == [
        "QR_LIMIT_STR_SCENE", "QR_LIMIT_STR_SCENE", "QR_STR_SCENE"]
    assert creates[-1]["expire_seconds"] == TEMPORARY_SECONDS == 30 * 24 * 3600
    assert "45029" in caplog.text and "temporary" in caplog.text
    temporary = next(c for c in qr_codes() if c.ticket == code.ticket)
    assert not temporary.permanent and temporary.scene == scene_for(second.id)
    kinds = [a.details["kind"] for a in db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == CREATED_ACTION)
        .order_by(AuditEntry.id))]
    assert kinds == ["permanent", "temporary"]

    # Remembered: the next distributor goes straight to a temporary code.
    assert get_redis().exists(PERMANENT_FULL_KEY)
    ensure_qr_code(db.session, third.id)
    assert [c["action_name"] for c in creates[3:]] == ["QR_STR_SCENE"]

    # Cached while it has days left ...
    assert ensure_qr_code(db.session, second.id) == code
    assert len(creates) == 4
    # ... and renewed when it nears its end (a permanent code never is).
    aged = {user.id: _created_at(user.id) - timedelta(days=28) for user in (first, second)}
    for user_id, when in aged.items():
        record = db.session.get(Distributor, user_id)
        assert record is not None
        record.qr_created_at = when
        if record.qr_expires_at is not None:  # a temporary code ages with it
            record.qr_expires_at -= timedelta(days=28)
    db.session.commit()
    ensure_qr_code(db.session, first.id)
    assert len(creates) == 4 and _created_at(first.id) == aged[first.id]
    renewed = ensure_qr_code(db.session, second.id)
    assert [c["action_name"] for c in creates[4:]] == ["QR_STR_SCENE"]
    assert renewed.ticket  # the sandbox keeps the ticket and extends it; WeChat issues a new one
    assert _created_at(second.id) > aged[second.id] + timedelta(days=27)


def _created_at(user_id: int) -> Any:
    record = db.session.get(Distributor, user_id, populate_existing=True)
    assert record is not None and record.qr_created_at is not None
    return record.qr_created_at


def test_wechat_refusing_is_a_clear_error_and_stores_nothing(live_sandbox: LiveSandbox,
                                                              monkeypatch):
    count_creates(monkeypatch, refuse=45009)  # "reach max api daily quota limit"
    alice = make_distributor()
    with pytest.raises(QrCodeUnavailable) as refused:
        ensure_qr_code(db.session, alice.id)
    assert "45009" in refused.value.message
    assert refused.value.status_code == 502
    record = db.session.get(Distributor, alice.id, populate_existing=True)
    assert record is not None and record.qr_ticket is None


def test_racing_requests_create_one_code(live_sandbox: LiveSandbox, monkeypatch):
    creates = count_creates(monkeypatch, delay=0.3)
    alice = make_distributor()
    alice_id = alice.id
    _idle()
    app = live_sandbox.app
    results: list[QrCode | BaseException] = []
    start = threading.Barrier(3)

    def ask() -> None:
        with app.app_context():
            start.wait()
            try:
                results.append(ensure_qr_code(db.session, alice_id))
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                results.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(creates) == 1
    assert len(results) == 3 and all(isinstance(r, QrCode) for r in results), results
    assert len({r.ticket for r in results if isinstance(r, QrCode)}) == 1
    assert db.session.scalar(
        select(Distributor.qr_ticket).where(Distributor.user_id == alice_id)
    ) == results[0].ticket  # type: ignore[union-attr]


def test_approval_prepares_the_qr_code_through_the_outbox(live_sandbox: LiveSandbox):
    """``distributor.status_changed`` → the job makes the code; other statuses do nothing."""
    from workers.jobs import prepare_distributor_qr
    from workers.outbox import HANDLERS

    assert [h.func for h in HANDLERS["distributor.status_changed"]] == [
        "workers.jobs.prepare_distributor_qr"]
    alice = make_distributor()
    assert prepare_distributor_qr({"user_id": alice.id, "status": "frozen"}) is False
    assert db.session.get(Distributor, alice.id).qr_ticket is None
    assert prepare_distributor_qr({"user_id": alice.id, "status": "active"}) is True
    db.session.expire_all()
    assert db.session.get(Distributor, alice.id).qr_ticket
