"""The web chat page's server side, pushing to a small wechatpy-based receiver over real HTTP."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from flask import Flask, Response, request
from wechatpy import create_reply, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.replies import ArticlesReply
from wechatpy.utils import check_signature

from core.models import Role, User, UserRole
from sandbox import (
    create_consumer,
    follower,
    sent_messages,
    transcript,
    user_clicks,
    user_follows,
    user_says,
    user_scans,
    user_unfollows,
)
from sandbox.chat import ChatError, send
from sandbox.oa_api import qr_ticket, qrcode_create
from tests.support.apps import served_app
from tests.support.live_server import reserve_port
from webapp.extensions import db

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@dataclass
class FakeAccountServer:
    """Stands in for the app's /wechat: checks what WeChat sends, as wechatpy would."""

    token: str
    app_id: str
    received: list[dict[str, Any]] = field(default_factory=list)
    delay: float = 0.0
    plain_reply_in_safe_mode: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def receive(self) -> Any:
        """The test-only view."""
        args = request.args
        check_signature(self.token, args["signature"], args["timestamp"], args["nonce"])
        body = request.get_data()
        encrypted = args.get("encrypt_type") == "aes"
        crypto = WeChatCrypto(self.token, AES_KEY, self.app_id)
        if encrypted:
            body = crypto.decrypt_message(body, args["msg_signature"], args["timestamp"],
                                          args["nonce"]).encode()
        message = parse_message(body)
        with self.lock:
            self.received.append({"message": message, "args": dict(args), "raw": body})
        if self.delay:
            time.sleep(self.delay)
        reply = self._answer(message)
        if reply is None:
            return Response("success", mimetype="text/plain")
        rendered = reply.render()
        if encrypted and not self.plain_reply_in_safe_mode:
            rendered = crypto.encrypt_message(rendered, args["nonce"])
        return Response(rendered, mimetype="text/xml")

    def _answer(self, message: Any) -> Any:
        if message.type == "text" and message.content == "news":
            return ArticlesReply(message=message, articles=[{
                "title": "去支付 <Pay>", "description": "¥12.00", "image": "/static/x.svg",
                "url": "http://127.0.0.1/h5/pay/CS1"}])
        if message.type == "text" and message.content == "silence":
            return None
        if message.type == "text":
            return create_reply("echo: " + message.content, message)
        if message.type == "event" and message.event == "templatesendjobfinish":
            return None
        if message.type == "event":
            key = getattr(message, "key", None) or getattr(message, "scene_id", None) or ""
            return create_reply(f"event {message.event} {key}".strip(), message)
        return create_reply(f"got {message.type}", message)

    def last(self) -> Any:
        """The last message received."""
        return self.received[-1]["message"]


@dataclass
class Chat:
    """A served sandbox whose chat page pushes to the fake receiver."""

    app: Flask
    url: str
    server: FakeAccountServer

    def in_app(self, fn: Any) -> Any:
        """Run ``fn`` inside the app context."""
        with self.app.app_context():
            return fn()

    def consumer(self, nickname: str = "买家") -> str:
        """A new sandbox user (not following)."""
        return str(self.in_app(lambda: create_consumer(nickname).openid))


@pytest.fixture
def chat(make_app: Any) -> Iterator[Chat]:
    """Sandbox app with an AES key, pushing to /test/fake-wechat instead of /wechat."""
    port = reserve_port()
    url = f"http://127.0.0.1:{port}"
    app = make_app(
        WECHAT_SANDBOX=True,
        PUBLIC_BASE_URL=url,
        WECHAT_ENCODING_AES_KEY=AES_KEY,
        SANDBOX_CHAT_WEBHOOK_URL=url + "/test/fake-wechat",
        SANDBOX_CHAT_TIMEOUT_SECONDS=2,
    )
    server = FakeAccountServer(token=app.config["WECHAT_TOKEN"], app_id=app.config["WECHAT_APP_ID"])
    app.add_url_rule("/test/fake-wechat", "fake_wechat", server.receive, methods=["POST"])
    with served_app(app, port) as served:
        yield Chat(app=app, url=served, server=server)


def _texts(entries: list[dict[str, Any]]) -> list[str]:
    return [e["msg"].get("content") or e["msg"].get("label") or e["msg"].get("text", "")
            for e in entries]


def test_follow_then_talk_in_every_mode(chat: Chat) -> None:
    openid = chat.consumer()
    followed = chat.in_app(lambda: user_follows(openid))
    assert followed.reply_message == {"type": "text", "content": "event subscribe"}
    assert chat.server.last().event == "subscribe"

    for mode in ("plain", "compat", "aes"):
        exchange = chat.in_app(lambda m=mode: user_says(openid, f"hi {m} <&>", mode=m))
        assert exchange.error == ""
        assert exchange.reply_message == {"type": "text", "content": f"echo: hi {mode} <&>"}
        assert exchange.reply.encrypted is (mode != "plain")
        args = chat.server.received[-1]["args"]
        assert ("encrypt_type" in args) is (mode != "plain") and args["openid"] == openid

    ids = [r["message"].id for r in chat.server.received if r["message"].type == "text"]
    assert len(ids) == 3 and len(set(ids)) == 3
    log = chat.in_app(lambda: transcript(openid))
    assert [e["dir"] for e in log] == ["in", "out"] * 4
    assert _texts(log)[-2:] == ["hi aes <&>", "echo: hi aes <&>"]
    assert chat.in_app(lambda: sent_messages(openid)) == []  # passive replies are not CS messages


def test_a_reply_broken_by_cdata_end_is_caught(chat: Chat) -> None:
    openid = chat.consumer()
    chat.in_app(lambda: user_follows(openid))
    # The fake echoes with wechatpy's reply classes, which do not escape "]]>": WeChat
    # would fail to read that reply, and so does the sandbox.
    broken = chat.in_app(lambda: user_says(openid, "a]]>b"))
    assert chat.server.last().content == "a]]>b"
    assert "reply is not XML" in broken.error


def test_mode_sticks_to_the_user(chat: Chat) -> None:
    openid = chat.consumer()
    chat.in_app(lambda: user_follows(openid, mode="aes"))
    chat.in_app(lambda: user_says(openid, "still safe?"))
    assert chat.server.received[-1]["args"]["encrypt_type"] == "aes"


def test_scan_subscribes_a_new_follower_and_scans_an_existing_one(chat: Chat) -> None:
    def make_distributor() -> int:
        user = User(openid="o-dist-0000000000000000000001", nickname="王分销",
                    roles=[UserRole(role=str(Role.DISTRIBUTOR))])
        db.session.add(user)
        db.session.commit()
        return int(user.id)

    dist_id = chat.in_app(make_distributor)
    openid = chat.consumer()
    first = chat.in_app(lambda: user_scans(openid, distributor=dist_id))
    event = chat.server.last()
    assert event.event == "subscribe_scan" and event.scene_id == f"dist_{dist_id}"
    raw = chat.server.received[-1]["raw"]
    assert f"<EventKey><![CDATA[qrscene_dist_{dist_id}]]></EventKey>".encode() in raw
    appid = chat.app.config["WECHAT_APP_ID"]
    assert event.ticket == qr_ticket(appid, "QR_LIMIT_STR_SCENE", f"dist_{dist_id}")
    assert first.reply_message is not None

    chat.in_app(lambda: user_scans(openid, scene=f"dist_{dist_id}"))
    again = chat.server.last()
    assert again.event == "scan" and again.scene_id == f"dist_{dist_id}"
    assert b"<EventKey><![CDATA[dist_" in chat.server.received[-1]["raw"]

    from sandbox.oa import sandbox_user

    user = chat.in_app(lambda: sandbox_user(openid))
    assert user.subscribed and user.qr_scene_str == f"dist_{dist_id}"


def test_click_unfollow_and_other_kinds(chat: Chat) -> None:
    openid = chat.consumer()
    chat.in_app(lambda: user_follows(openid))
    clicked = chat.in_app(lambda: user_clicks(openid, "MENU_CART"))
    assert chat.server.last().event == "click" and chat.server.last().key == "MENU_CART"
    assert clicked.reply_message == {"type": "text", "content": "event click MENU_CART"}

    chat.in_app(lambda: send(openid, "location", lat=31.2, lng=121.5, label="上海"))
    assert chat.server.last().type == "location" and chat.server.last().label == "上海"
    chat.in_app(lambda: send(openid, "image"))
    assert chat.server.last().type == "image"
    chat.in_app(lambda: send(openid, "view", url="http://127.0.0.1/h5"))
    assert chat.server.last().event == "view"

    chat.in_app(lambda: user_unfollows(openid))
    assert chat.server.last().event == "unsubscribe"
    with pytest.raises(ChatError):
        chat.in_app(lambda: user_says(openid, "hello?"))  # WeChat: follow first
    with pytest.raises(ChatError):
        chat.in_app(lambda: user_unfollows(openid))


def test_events_of_one_user_never_share_a_create_time(chat: Chat) -> None:
    openid = chat.consumer()
    chat.in_app(lambda: user_follows(openid))
    for key in ("A", "B", "C"):
        chat.in_app(lambda k=key: user_clicks(openid, k))
    times = [r["message"].create_time for r in chat.server.received]
    assert len(set(times)) == len(times)


def test_news_reply_and_silence(chat: Chat) -> None:
    openid = chat.consumer()
    chat.in_app(lambda: user_follows(openid))
    news = chat.in_app(lambda: user_says(openid, "news"))
    assert news.reply_message["type"] == "news"
    assert news.reply_message["articles"][0]["title"] == "去支付 <Pay>"
    quiet = chat.in_app(lambda: user_says(openid, "silence"))
    assert quiet.reply_message is None and quiet.error == ""
    assert [e["dir"] for e in quiet.entries] == ["in"]


def test_retry_resends_the_same_push(chat: Chat) -> None:
    openid = chat.consumer()
    chat.in_app(lambda: user_follows(openid))
    chat.in_app(lambda: user_says(openid, "once"))
    chat.in_app(lambda: send(openid, "retry"))
    first, second = chat.server.received[-2:]
    assert first["message"].id == second["message"].id
    assert first["args"] == second["args"]


def test_failures_show_wechats_unavailable_notice(chat: Chat) -> None:
    openid = chat.consumer()
    chat.in_app(lambda: user_follows(openid))
    chat.server.plain_reply_in_safe_mode = True
    bad = chat.in_app(lambda: user_says(openid, "x", mode="aes"))
    assert "plaintext reply in safe mode" in bad.error
    chat.server.plain_reply_in_safe_mode = False

    chat.server.delay = 2.5
    slow = chat.in_app(lambda: user_says(openid, "slow", mode="plain"))
    chat.server.delay = 0
    assert "no answer within" in slow.error
    notices = [e for e in chat.in_app(lambda: transcript(openid)) if e["dir"] == "note"]
    assert len(notices) == 2
    assert all("该公众号暂时无法提供服务" in n["msg"]["text"] for n in notices)

    chat.app.config["SANDBOX_CHAT_WEBHOOK_URL"] = "http://127.0.0.1:9/nowhere"
    down = chat.in_app(lambda: user_says(openid, "anyone?"))
    assert "cannot reach" in down.error


def test_template_send_is_followed_by_the_job_finish_event(chat: Chat) -> None:
    from tests.support.sandbox import SandboxWeChatClient

    openid = chat.consumer()
    chat.in_app(lambda: user_follows(openid))
    cfg = chat.app.config
    client = SandboxWeChatClient(cfg["WECHAT_APP_ID"], cfg["WECHAT_APP_SECRET"], timeout=5)
    client.API_BASE_URL = cfg["WECHAT_API_BASE_URL"]
    msgid = client.message.send_template(openid, "TPL", {"first": {"value": "hi"}})["msgid"]

    def finished() -> list[Any]:
        return [r["message"] for r in chat.server.received
                if getattr(r["message"], "event", "") == "templatesendjobfinish"]

    deadline = time.monotonic() + 5
    while not finished():
        assert time.monotonic() < deadline, "no TEMPLATESENDJOBFINISH event arrived"
        time.sleep(0.05)
    [finish] = finished()
    assert finish.status == "success"
    assert int(finish.id) == msgid


# --- the page's HTTP API --------------------------------------------------------------------


def test_page_api_end_to_end(chat: Chat) -> None:
    browser = requests.Session()
    page = browser.get(chat.url + "/sandbox/chat", timeout=5)
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "<script>" not in page.text and "/static/sandbox/chat.js" in page.text
    assert browser.get(chat.url + "/static/sandbox/chat.js", timeout=5).status_code == 200

    created = browser.post(chat.url + "/sandbox/chat/api/users",
                           json={"nickname": "<img src=x onerror=alert(1)>"}, timeout=5)
    assert created.status_code == 200
    user = created.json()["user"]
    assert user["openid"].startswith("o-sandbox-") and len(user["openid"]) == 28
    assert browser.cookies.get("sandbox_chat_openid") == user["openid"]

    state = browser.get(chat.url + "/sandbox/chat/api/state", timeout=5).json()
    assert state["user"]["openid"] == user["openid"]  # from the cookie
    assert state["menu_source"] == "default"
    keys = [b.get("key") for b in state["menu"]["button"]] + [
        s["key"] for b in state["menu"]["button"] for s in b.get("sub_button", [])]
    assert {"MENU_CATEGORIES", "MENU_CART", "MENU_ORDERS", "MENU_DISTRIBUTOR"} <= set(keys)

    def post(**payload: Any) -> requests.Response:
        return browser.post(chat.url + "/sandbox/chat/api/send",
                            json={"openid": user["openid"], **payload}, timeout=10)

    assert post(kind="text", content="hi").status_code == 409  # not following yet
    assert post(kind="subscribe").status_code == 200
    sent = post(kind="text", content="菜单", mode="aes")
    assert sent.status_code == 200 and sent.json()["error"] == ""
    assert _texts(sent.json()["entries"]) == ["菜单", "echo: 菜单"]

    polled = browser.get(chat.url + "/sandbox/chat/api/messages",
                         params={"openid": user["openid"], "after": 0}, timeout=5).json()
    assert len(polled["entries"]) == 4 and polled["user"]["mode"] == "aes"
    last_seq = polled["entries"][-1]["seq"]
    later = browser.get(chat.url + "/sandbox/chat/api/messages",
                        params={"openid": user["openid"], "after": last_seq}, timeout=5).json()
    assert later["entries"] == []

    assert post(kind="dance").status_code == 400
    assert post(kind="text", content="   ").status_code == 400
    assert post(kind="text", content="x", mode="rot13").status_code == 400
    assert post(kind="scan", ticket="gQunknown").status_code == 400
    assert browser.post(chat.url + "/sandbox/chat/api/send", data={"openid": user["openid"]},
                        timeout=5).status_code == 415
    assert browser.post(chat.url + "/sandbox/chat/api/send", json=[1],
                        timeout=5).status_code == 400
    assert browser.get(chat.url + "/sandbox/chat/api/messages",
                       params={"openid": "o-nobody"}, timeout=5).status_code == 404


def test_app_menu_replaces_the_default(chat: Chat) -> None:
    from sandbox.oa import store

    chat.in_app(lambda: store().set_menu({"button": [{"type": "click", "name": "Shop",
                                                      "key": "K", "sub_button": []}]}))
    state = requests.get(chat.url + "/sandbox/chat/api/state", timeout=5).json()
    assert state["menu_source"] == "app" and state["menu"]["button"][0]["key"] == "K"


def test_picking_an_app_follower_adopts_it(chat: Chat) -> None:
    def seed() -> None:
        # A follower seeded on both sides, as WeChat and the shop would both know them:
        # the sandbox lists its own users, never the shop's database.
        db.session.add(User(openid="o-demo-000000000000000000001", nickname="演示用户",
                            subscribed=True, roles=[UserRole(role=str(Role.CONSUMER))]))
        db.session.commit()
        follower("o-demo-000000000000000000001", "演示用户")

    chat.in_app(seed)
    browser = requests.Session()
    state = browser.get(chat.url + "/sandbox/chat/api/state", timeout=5).json()
    assert any(u["openid"] == "o-demo-000000000000000000001" for u in state["users"])
    picked = browser.post(chat.url + "/sandbox/chat/api/select",
                          json={"openid": "o-demo-000000000000000000001"}, timeout=5)
    assert picked.status_code == 200 and picked.json()["user"]["subscribed"] is True
    assert browser.post(chat.url + "/sandbox/chat/api/select", json={"openid": "o-nobody"},
                        timeout=5).status_code == 404


def test_the_page_knows_users_and_distributors_from_wechat_only(chat: Chat) -> None:
    from sandbox.oa import context

    def seed() -> int:
        shop_only = User(openid="o-shop-000000000000000000001", nickname="只在商城",
                         subscribed=True, roles=[UserRole(role=str(Role.DISTRIBUTOR))])
        db.session.add(shop_only)
        db.session.commit()
        return int(shop_only.id)

    dist_id = chat.in_app(seed)
    state = requests.get(chat.url + "/sandbox/chat/api/state", timeout=5).json()
    assert all(u["openid"] != "o-shop-000000000000000000001" for u in state["users"])
    assert state["distributors"] == []

    # Once the app made the distributor's referral code, WeChat offers it as theirs.
    scene = f"dist_{dist_id}"
    chat.in_app(lambda: qrcode_create(context(), json.dumps(
        {"action_name": "QR_LIMIT_STR_SCENE",
         "action_info": {"scene": {"scene_str": scene}}}).encode()))
    chat.in_app(lambda: qrcode_create(context(), json.dumps(
        {"action_name": "QR_LIMIT_STR_SCENE",
         "action_info": {"scene": {"scene_str": "poster"}}}).encode()))
    state = requests.get(chat.url + "/sandbox/chat/api/state", timeout=5).json()
    assert state["distributors"] == [{"id": dist_id, "nickname": f"#{dist_id}", "scene": scene}]
    assert [c["scene"] for c in state["qr_codes"]] == ["poster"]


def test_sandbox_index_links_the_chat(chat: Chat) -> None:
    index = requests.get(chat.url + "/sandbox/", timeout=5)
    assert index.status_code == 200 and 'href="/sandbox/chat"' in index.text
