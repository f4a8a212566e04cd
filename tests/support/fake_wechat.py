"""A tiny stand-in for WeChat's official-account API, served over real HTTP by the tests.

Only what ChatShop calls: ``cgi-bin/token``, ``message/custom/send``,
``menu/create`` and ``sns/oauth2/access_token``. Answers can be scripted
(an errcode or an HTTP 500 for the next calls) to test the client's reactions.
"""
from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask, Response, jsonify, request

from tests.support.live_server import LiveServer


@dataclass
class FakeWeChat:
    """State of the fake: tokens issued, calls seen, answers scripted."""

    token_delay: float = 0.0
    expires_in: int = 7200
    token_calls: int = 0
    issued: list[str] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    sent: list[dict[str, Any]] = field(default_factory=list)
    menus: list[dict[str, Any]] = field(default_factory=list)
    send_script: list[Any] = field(default_factory=list)
    codes: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
    _seq: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def api_base_url(self) -> str:
        """What WECHAT_API_BASE_URL should be to reach this fake."""
        return self.url + "/cgi-bin/"

    def _token_ok(self) -> Response | None:
        token = request.args.get("access_token", "")
        with self.lock:
            if token not in self.issued:
                return jsonify(errcode=40014, errmsg="invalid access_token")
            if token in self.revoked:
                return jsonify(errcode=40001, errmsg="access_token is invalid or not latest")
        return None

    def token(self) -> Response:
        """GET cgi-bin/token."""
        if request.args.get("grant_type") != "client_credential" or not request.args.get("secret"):
            return jsonify(errcode=40002, errmsg="invalid grant_type")
        if request.args.get("secret") == "wrong-secret":
            return jsonify(errcode=40125, errmsg="invalid appsecret")
        with self.lock:
            self.token_calls += 1
        time.sleep(self.token_delay)
        token = f"TOKEN-{next(self._seq)}"
        with self.lock:
            self.issued.append(token)
        return jsonify(access_token=token, expires_in=self.expires_in)

    def custom_send(self) -> Any:
        """POST cgi-bin/message/custom/send."""
        refused = self._token_ok()
        if refused is not None:
            return refused
        with self.lock:
            scripted = self.send_script.pop(0) if self.send_script else None
        if scripted == "http500":
            return Response("boom", status=500)
        if isinstance(scripted, int):
            return jsonify(errcode=scripted, errmsg="scripted")
        with self.lock:
            self.sent.append(request.get_json(force=True))
        return jsonify(errcode=0, errmsg="ok")

    def menu_create(self) -> Any:
        """POST cgi-bin/menu/create."""
        refused = self._token_ok()
        if refused is not None:
            return refused
        with self.lock:
            self.menus.append(request.get_json(force=True))
        return jsonify(errcode=0, errmsg="ok")

    def oauth_token(self) -> Any:
        """GET sns/oauth2/access_token."""
        code = request.args.get("code", "")
        with self.lock:
            openid = self.codes.pop(code, None)
        if openid is None:
            return jsonify(errcode=40029, errmsg="invalid code")
        return jsonify(access_token="OAUTH-" + code, expires_in=7200, refresh_token="R",
                       openid=openid, scope="snsapi_base")

    def app(self) -> Flask:
        """The fake as a Flask app."""
        app = Flask("fake_wechat")
        app.add_url_rule("/cgi-bin/token", view_func=self.token)
        app.add_url_rule("/cgi-bin/message/custom/send", view_func=self.custom_send,
                         methods=["POST"])
        app.add_url_rule("/cgi-bin/menu/create", view_func=self.menu_create, methods=["POST"])
        app.add_url_rule("/sns/oauth2/access_token", view_func=self.oauth_token)
        return app


@contextmanager
def serve_fake(**options: Any) -> Iterator[FakeWeChat]:
    """A FakeWeChat served on 127.0.0.1 for the duration of the block."""
    fake = FakeWeChat(**options)
    server = LiveServer(fake.app()).start()
    fake.url = server.url
    try:
        yield fake
    finally:
        server.stop()


@pytest.fixture
def fake_wechat() -> Iterator[FakeWeChat]:
    """The fake WeChat official-account API, served on a free port."""
    with serve_fake() as served:
        yield served
