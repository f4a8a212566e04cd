"""The official-account client, customer-service messages and the menu against the live sandbox."""
from __future__ import annotations

import json
import threading
from collections.abc import Callable

import requests

import webapp.cli
from adapters.wechat.client import client_from_config
from adapters.wechat.menu import build_menu
from bots.messages import ArticleReply, TextReply
from sandbox import oa
from storefront.outbound import (
    MESSAGE_LIMIT,
    delivery_log,
    note_payment,
    note_user_interaction,
    send_customer_service,
)
from tests.support.live_server import LiveSandbox
from webapp.clients import wechat_client
from webapp.redis_conn import get_redis


def _follower(nickname: str = "小明") -> str:
    """A sandbox user who follows the account and has just sent a message (both books)."""
    user = oa.create_consumer(nickname)
    oa.set_subscribed(user.openid, True)
    oa.note_user_message(user.openid)
    note_user_interaction(user.openid, "text")
    return user.openid


def _texts_received(openid: str) -> list[str]:
    return [m["msg"].get("content", "") for m in oa.sent_messages(openid)]


def _refusals(openid: str) -> list[int]:
    return [e["errcode"] for e in oa.transcript(openid) if e.get("dir") == "note"
            and "errcode" in e]


def test_eight_processes_share_one_sandbox_token(live_oa: LiveSandbox):
    clients = [client_from_config(live_oa.app.config, get_redis()) for _ in range(8)]
    barrier = threading.Barrier(len(clients))
    tokens: list[str] = []

    def ask(index: int) -> None:
        barrier.wait()
        tokens.append(clients[index].access_token)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(tokens) == 8 and len(set(tokens)) == 1
    assert oa.tokens_issued() == 1


def test_a_token_replaced_elsewhere_is_renewed_once(make_app, live_oa: LiveSandbox):
    openid = _follower()
    client = wechat_client()
    assert client.access_token
    # Someone outside ChatShop fetched a token with the same credentials: ours is now stale.
    cfg = live_oa.app.config
    cfg["SANDBOX_TOKEN_OVERLAP_SECONDS"] = 0
    stolen = requests.get(cfg["WECHAT_API_BASE_URL"] + "token", params={
        "grant_type": "client_credential", "appid": cfg["WECHAT_APP_ID"],
        "secret": cfg["WECHAT_APP_SECRET"]}, timeout=5).json()
    assert stolen["access_token"]
    client.message.send_text(openid, "still here")
    assert _texts_received(openid) == ["still here"]
    assert oa.tokens_issued() == 3


def test_customer_service_messages_reach_the_sandbox(
    live_oa: LiveSandbox, work_queues: Callable[[], bool]
):
    openid = _follower()
    card = ArticleReply("绿茶 Green tea", "¥12.00", "http://img.test/tea.png",
                        live_oa.url + "/h5/orders")
    send_customer_service(openid, [TextReply("你好 <b>]]>"), card])
    work_queues()
    assert [m["msg"] for m in oa.sent_messages(openid)] == [
        {"type": "text", "content": "你好 <b>]]>"},
        {"type": "news", "total": 1, "articles": [{
            "title": "绿茶 Green tea", "description": "¥12.00",
            "url": live_oa.url + "/h5/orders", "picurl": "http://img.test/tea.png"}]},
    ]


def test_the_quota_is_respected_without_asking_wechat(
    live_oa: LiveSandbox, work_queues: Callable[[], bool]
):
    openid = _follower()
    send_customer_service(openid, [TextReply(f"m{i}") for i in range(MESSAGE_LIMIT + 2)])
    work_queues()
    assert _texts_received(openid) == [f"m{i}" for i in range(MESSAGE_LIMIT)]
    assert _refusals(openid) == []
    assert [e["status"] for e in delivery_log(openid=openid)][:2] == ["dropped", "dropped"]


def test_after_a_payment_messages_are_unlimited(
    live_oa: LiveSandbox, work_queues: Callable[[], bool]
):
    openid = _follower()
    oa.note_payment(openid)
    note_payment(openid)
    send_customer_service(openid, [TextReply(f"m{i}") for i in range(MESSAGE_LIMIT + 4)],
                          reason="payment")
    work_queues()
    assert len(_texts_received(openid)) == MESSAGE_LIMIT + 4


def test_a_closed_window_at_wechat_stops_further_sends(
    live_oa: LiveSandbox, work_queues: Callable[[], bool]
):
    user = oa.create_consumer("silent")
    oa.set_subscribed(user.openid, True)
    # Our books think the user wrote; WeChat (the sandbox) never saw it.
    note_user_interaction(user.openid, "text")
    send_customer_service(user.openid, [TextReply("a"), TextReply("b"), TextReply("c")])
    work_queues()
    assert _texts_received(user.openid) == []
    assert _refusals(user.openid) == [45015]
    assert [e["status"] for e in delivery_log(openid=user.openid)] == ["dropped"] * 3


def test_menu_push_through_the_cli(live_oa: LiveSandbox):
    runner = live_oa.app.test_cli_runner()
    result = runner.invoke(webapp.cli.main, args=["wechat", "menu", "push"])
    assert result.exit_code == 0, result.output
    assert "menu pushed" in result.output
    menu = oa.current_menu()
    assert menu is not None
    expected = build_menu(live_oa.url)
    assert [b["name"] for b in menu["button"]] == [b["name"] for b in expected["button"]]
    keys = {s.get("key") for b in menu["button"] for s in (b.get("sub_button") or [b])}
    assert {"MENU_CATEGORIES", "MENU_CART", "MENU_ORDERS", "MENU_DISTRIBUTOR"} <= keys
    views = [s for b in menu["button"] for s in b.get("sub_button") or [] if s["type"] == "view"]
    assert views == [{"type": "view", "name": "我的订单 / My orders",
                      "url": live_oa.url + "/h5/orders"}]


def test_menu_show_prints_the_menu(live_oa: LiveSandbox):
    result = live_oa.app.test_cli_runner().invoke(webapp.cli.main, args=["wechat", "menu", "show"])
    assert result.exit_code == 0
    assert json.loads(result.output) == build_menu(live_oa.url)
    assert oa.current_menu() is None


def test_menu_push_reports_a_refusal(make_app, live_oa: LiveSandbox):
    # Another app with a wrong secret, calling the served sandbox.
    wrong = make_app(
        WECHAT_API_BASE_URL=live_oa.app.config["WECHAT_API_BASE_URL"],
        WECHAT_APP_SECRET="not-the-secret",
    )
    # A pushed app context is what the command runs in (the fixture pushed the served app's).
    with wrong.app_context():
        result = wrong.test_cli_runner().invoke(webapp.cli.main,
                                                args=["wechat", "menu", "push"])
    assert result.exit_code != 0
    assert "40125" in result.output
    assert oa.current_menu() is None
