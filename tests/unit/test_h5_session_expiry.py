"""The H5 session cookie carries its sign-in time and is read as no session once expired."""
from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from tests.support.h5 import RealModeApp, callback_path
from webapp.extensions import db
from webapp.http.h5 import SESSION_OPENID
from webapp.sessions import ISSUED_AT, BrowserOnlySessionInterface

DAY = 86400


def _cookie(app: Flask, data: dict[str, Any]) -> str:
    """A session cookie signed with the app's key, as the app itself would write it."""
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    assert serializer is not None
    return str(serializer.dumps(data))


def _signed_in(app: Flask, cookie: str) -> bool:
    """Does /h5/orders treat this cookie as signed in (200) rather than send it to OAuth (302)?"""
    client = app.test_client()
    client.set_cookie("session", cookie)
    response = client.get("/h5/orders")
    assert response.status_code in {200, 302}
    return response.status_code == 200


def test_a_fresh_sign_in_is_accepted(app: Flask):
    cookie = _cookie(app, {SESSION_OPENID: "o-buyer", ISSUED_AT: int(time.time())})
    assert _signed_in(app, cookie)


def test_a_sign_in_older_than_the_lifetime_is_no_session(app: Flask):
    old = int(time.time()) - 7 * DAY - 60
    assert not _signed_in(app, _cookie(app, {SESSION_OPENID: "o-buyer", ISSUED_AT: old}))
    almost = int(time.time()) - 7 * DAY + 60
    assert _signed_in(app, _cookie(app, {SESSION_OPENID: "o-buyer", ISSUED_AT: almost}))


@pytest.mark.parametrize("issued", [None, "2024-01-01", 1.5e9, True, int(time.time()) + DAY])
def test_a_session_without_a_plausible_date_is_no_session(app: Flask, issued: object):
    data: dict[str, Any] = {SESSION_OPENID: "o-buyer"}
    if issued is not None:
        data[ISSUED_AT] = issued
    assert not _signed_in(app, _cookie(app, data))


def test_the_lifetime_follows_h5_session_days(make_app: Any):
    app = make_app(H5_SESSION_DAYS=1)
    assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(days=1)
    two_days_ago = int(time.time()) - 2 * DAY
    with app.app_context():
        db.create_all()
        assert not _signed_in(app, _cookie(app, {SESSION_OPENID: "o", ISSUED_AT: two_days_ago}))
        assert _signed_in(app, _cookie(app, {SESSION_OPENID: "o", ISSUED_AT: int(time.time())}))
        db.session.remove()
        db.engine.dispose()


def test_the_default_lifetime_is_seven_days(app: Flask):
    assert app.config["H5_SESSION_DAYS"] == 7
    assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(days=7)


def test_a_written_session_is_dated_and_expires_when_the_clock_moves(
        app: Flask, monkeypatch: pytest.MonkeyPatch):
    client = app.test_client()
    before = int(time.time())
    # Signed out: the page stores the OAuth nonce in the session and redirects.
    assert client.get("/h5/orders").status_code == 302
    cookie = client.get_cookie("session")
    assert cookie is not None
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    data = serializer.loads(cookie.value)
    assert before <= data[ISSUED_AT] <= int(time.time())
    # The same browser, with an openid in that dated session: signed in today...
    signed = _cookie(app, {**data, SESSION_OPENID: "o-buyer"})
    assert _signed_in(app, signed)
    # ...and not eight days later.
    later = time.time() + 8 * DAY
    monkeypatch.setattr(BrowserOnlySessionInterface, "now", lambda self: later)
    assert not _signed_in(app, signed)


def test_a_new_secret_key_ends_every_session(make_app: Any, app: Flask):
    cookie = _cookie(app, {SESSION_OPENID: "o-buyer", ISSUED_AT: int(time.time())})
    rotated = make_app(SECRET_KEY="another-key-after-rotation-" + "x" * 16)
    with rotated.app_context():
        assert not _signed_in(rotated, cookie)


def test_signing_in_restarts_the_lifetime(real_mode: RealModeApp,  # noqa: F811
                                          monkeypatch: pytest.MonkeyPatch):
    clock = {"now": time.time()}
    monkeypatch.setattr(BrowserOnlySessionInterface, "now", lambda self: clock["now"])
    client = real_mode.app.test_client()
    first = client.get("/h5/orders")  # signed out: the session now holds the OAuth nonce
    assert first.status_code == 302
    clock["now"] += 6 * DAY
    real_mode.wechat.codes["code-late"] = "o-late"
    assert client.get(callback_path(first.headers["Location"], "code-late")).status_code == 302
    clock["now"] += 6 * DAY  # 12 days after the nonce, 6 after the sign-in
    assert client.get("/h5/orders").status_code == 200
    clock["now"] += 2 * DAY  # 8 days after the sign-in
    assert client.get("/h5/orders").status_code == 302
