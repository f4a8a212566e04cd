"""The official-account sandbox API, driven by the real wechatpy clients over HTTP."""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
import requests
from wechatpy import WeChatOAuth
from wechatpy.exceptions import WeChatClientException, WeChatOAuthException

from sandbox import (
    create_consumer,
    note_event,
    note_payment,
    note_user_message,
    sent_messages,
    tokens_issued,
    travel,
)
from sandbox.oa_api import EVENT_LIMIT, MESSAGE_LIMIT
from sandbox.qr_png import qr_matrix
from tests.support.sandbox import Oa, read_qr_modules


def _errcode(excinfo: pytest.ExceptionInfo[Any]) -> int:
    return int(excinfo.value.errcode)


# --- access token ---------------------------------------------------------------------------


def test_config_points_the_client_at_the_sandbox(oa: Oa) -> None:
    assert oa.api == oa.url + "/sandbox/wechat/cgi-bin/"


def test_token_is_issued_for_the_right_credentials_only(oa: Oa) -> None:
    answer = oa.client().fetch_access_token()
    assert answer["expires_in"] == 7200 and len(answer["access_token"]) >= 64

    with pytest.raises(WeChatClientException) as bad_secret:
        oa.client(secret="wrong").fetch_access_token()
    assert _errcode(bad_secret) == 40125

    cfg = oa.app.config
    cases = [
        ({"grant_type": "client_credential", "appid": "wx-other", "secret": "x"}, 40013),
        ({"grant_type": "password", "appid": cfg["WECHAT_APP_ID"], "secret": "x"}, 40002),
        ({"grant_type": "client_credential", "secret": "x"}, 41002),
        ({"grant_type": "client_credential", "appid": cfg["WECHAT_APP_ID"]}, 41004),
    ]
    for params, errcode in cases:
        answer = requests.get(oa.api + "token", params=params, timeout=5)
        assert answer.status_code == 200
        assert answer.json()["errcode"] == errcode, params
    assert oa.in_app(tokens_issued) == 1


def test_a_new_token_retires_the_previous_one_after_the_overlap(oa: Oa) -> None:
    first, second = oa.client(auto_retry=False), oa.client(auto_retry=False)
    first.fetch_access_token()
    second.fetch_access_token()  # another process refreshing without the shared lock
    assert first.access_token != second.access_token
    assert first.menu.get() is None  # still valid during the 5-minute overlap

    oa.in_app(lambda: travel(301))
    with pytest.raises(WeChatClientException) as replaced:
        first.menu.get()
    assert _errcode(replaced) == 40001
    assert second.menu.get() is None

    oa.in_app(lambda: travel(7200))
    with pytest.raises(WeChatClientException) as expired:
        second.menu.get()
    assert _errcode(expired) == 42001


def test_wechatpy_refetches_a_replaced_token_by_itself(oa: Oa) -> None:
    client, other = oa.client(), oa.client()
    client.fetch_access_token()
    other.fetch_access_token()
    oa.in_app(lambda: travel(301))
    assert client.menu.get() is None  # 40001 -> wechatpy fetched a new token and retried
    assert oa.in_app(tokens_issued) == 3


@pytest.mark.parametrize(
    ("query", "errcode"),
    [({}, 41001), ({"access_token": "forged"}, 40001)],
)
def test_api_calls_need_a_valid_token(oa: Oa, query: dict[str, str], errcode: int) -> None:
    answer = requests.post(oa.api + "message/custom/send", params=query, timeout=5,
                           data=json.dumps({"touser": "x", "msgtype": "text"}))
    assert answer.status_code == 200 and answer.json()["errcode"] == errcode


# --- customer-service messages ----------------------------------------------------------------


def test_custom_messages_are_recorded_per_openid(oa: Oa) -> None:
    openid = oa.follower()
    oa.in_app(lambda: note_user_message(openid))
    client = oa.client()
    client.message.send_text(openid, "您的订单已支付 <b>]]>&")
    client.message.send_articles(openid, [{
        "title": "订单 CS123", "description": "¥12.00", "url": oa.url + "/h5/pay/CS123",
        "image": oa.url + "/static/products/x.svg"}])
    sent = oa.in_app(lambda: sent_messages(openid))
    assert [e["msg"]["type"] for e in sent] == ["text", "news"]
    assert sent[0]["msg"]["content"] == "您的订单已支付 <b>]]>&"
    assert sent[0]["via"] == "custom" and sent[0]["dir"] == "out"
    article = sent[1]["msg"]["articles"][0]
    assert article["url"] == oa.url + "/h5/pay/CS123" and article["title"] == "订单 CS123"
    assert sent[0]["seq"] < sent[1]["seq"]


def test_custom_message_refusals(oa: Oa) -> None:
    client = oa.client()
    stranger = oa.in_app(lambda: create_consumer("not following").openid)
    follower = oa.follower()
    cases = [
        (lambda: client.message.send_text("o-never-seen-by-the-sandbox", "hi"), 40003),
        (lambda: client.message.send_text(stranger, "hi"), 45015),
        (lambda: client.message.send_text(follower, "hi"), 45015),  # no window open
        (lambda: client.message.send_text(follower, ""), 44004),
        (lambda: client.message.send_text(follower, "x" * 2049), 45002),
        (lambda: client.message.send_articles(follower, [
            {"title": "a", "description": "", "url": "http://x.test/"}] * 2), 45008),
        (lambda: client.post("message/custom/send", data={
            "touser": follower, "msgtype": "shout", "shout": {}}), 40008),
    ]
    for call, errcode in cases:
        with pytest.raises(WeChatClientException) as refused:
            call()
        assert _errcode(refused) == errcode
    assert oa.in_app(lambda: sent_messages(follower)) == []


def test_bad_bodies_and_methods_get_wechat_errors(oa: Oa) -> None:
    token = oa.token()
    url = oa.api + "message/custom/send"
    assert requests.post(url, params={"access_token": token}, data=b"{not json",
                         timeout=5).json()["errcode"] == 47001
    assert requests.post(url, params={"access_token": token}, data=b"\xff\xfe",
                         timeout=5).json()["errcode"] == 47001
    assert requests.post(url, params={"access_token": token}, data=b"[1]",
                         timeout=5).json()["errcode"] == 47001
    assert requests.post(url, params={"access_token": token}, data=b"",
                         timeout=5).json()["errcode"] == 44002
    assert requests.get(url, params={"access_token": token}, timeout=5).json()["errcode"] == 43002
    huge = requests.post(url, params={"access_token": token}, data=b" " * (1024 * 1024 + 1),
                         timeout=5)
    assert huge.status_code == 200 and huge.json()["errcode"] == 47001
    other = requests.get(oa.api + "tags/get", params={"access_token": token}, timeout=5)
    assert other.status_code == 200 and other.json()["errcode"] == 48001


def test_quota_five_after_a_user_message_then_45047(oa: Oa) -> None:
    openid = oa.follower()
    client = oa.client()
    oa.in_app(lambda: note_user_message(openid))
    for i in range(MESSAGE_LIMIT):
        client.message.send_text(openid, f"m{i}")
    with pytest.raises(WeChatClientException) as over:
        client.message.send_text(openid, "one too many")
    assert _errcode(over) == 45047
    # The refusal is shown in the user's chat, where a developer looks for the message.
    from sandbox import transcript

    notes = [e for e in oa.in_app(lambda: transcript(openid)) if e["dir"] == "note"]
    assert notes and "45047" in notes[-1]["msg"]["text"]

    oa.in_app(lambda: note_user_message(openid))  # a new message opens a fresh count
    client.message.send_text(openid, "again")
    oa.in_app(lambda: travel(48 * 3600))
    with pytest.raises(WeChatClientException) as late:
        client.message.send_text(openid, "two days later")
    assert _errcode(late) == 45015
    assert len(oa.in_app(lambda: sent_messages(openid))) == MESSAGE_LIMIT + 1


def test_quota_three_within_a_minute_of_an_event(oa: Oa) -> None:
    openid = oa.follower()
    client = oa.client()
    oa.in_app(lambda: note_event(openid))
    for i in range(EVENT_LIMIT):
        client.message.send_text(openid, f"e{i}")
    with pytest.raises(WeChatClientException) as over:
        client.message.send_text(openid, "fourth")
    assert _errcode(over) == 45047
    oa.in_app(lambda: note_event(openid))
    oa.in_app(lambda: travel(61))
    with pytest.raises(WeChatClientException) as late:
        client.message.send_text(openid, "a minute later")
    assert _errcode(late) == 45015


def test_quota_unlimited_for_48_hours_after_a_payment(oa: Oa) -> None:
    openid = oa.follower()
    client = oa.client()
    oa.in_app(lambda: note_payment(openid))
    for i in range(3 * MESSAGE_LIMIT):
        client.message.send_text(openid, f"p{i}")
    oa.in_app(lambda: travel(48 * 3600 + 1))
    with pytest.raises(WeChatClientException) as late:
        client.message.send_text(openid, "after the window")
    assert _errcode(late) == 45015


def test_quota_switch_for_tests_of_other_parts(oa: Oa) -> None:
    openid = oa.follower()
    oa.app.config["SANDBOX_ENFORCE_CS_QUOTA"] = False
    for i in range(MESSAGE_LIMIT + 2):
        oa.client().message.send_text(openid, f"q{i}")


# --- template messages ----------------------------------------------------------------------


def test_template_message_is_recorded_with_a_msgid(oa: Oa) -> None:
    openid = oa.follower()
    client = oa.client()
    answer = client.message.send_template(
        openid, "TPL-order-paid", {"first": {"value": "支付成功", "color": "#173177"},
                                   "amount": {"value": "¥12.00"}},
        url=oa.url + "/orders/1",
    )
    assert answer["errcode"] == 0 and answer["msgid"] > 0
    [entry] = oa.in_app(lambda: sent_messages(openid))
    assert entry["via"] == "template" and entry["msg"]["msgid"] == answer["msgid"]
    assert entry["msg"]["rows"] == [["first", "支付成功", "#173177"], ["amount", "¥12.00", ""]]

    stranger = oa.in_app(lambda: create_consumer().openid)
    with pytest.raises(WeChatClientException) as unfollowed:
        client.message.send_template(stranger, "TPL", {"a": {"value": "b"}})
    assert _errcode(unfollowed) == 43004
    with pytest.raises(WeChatClientException) as no_template:
        client.message.send_template(openid, "", {"a": {"value": "b"}})
    assert _errcode(no_template) == 40037


# --- menu ----------------------------------------------------------------------------------

MENU = {
    "button": [
        {"type": "click", "name": "逛逛", "key": "MENU_CATEGORIES"},
        {"type": "click", "name": "购物车", "key": "MENU_CART"},
        {"name": "我的", "sub_button": [
            {"type": "click", "name": "我的订单", "key": "MENU_ORDERS"},
            {"type": "view", "name": "帮助", "url": "http://chatshop.test/help"},
        ]},
    ]
}


def test_menu_create_get_delete(oa: Oa) -> None:
    client = oa.client()
    assert client.menu.get() is None  # 46003 before any menu
    assert client.menu.create(MENU)["errcode"] == 0
    got = client.menu.get()["menu"]["button"]
    assert [b["name"] for b in got] == ["逛逛", "购物车", "我的"]
    assert got[0]["key"] == "MENU_CATEGORIES" and got[0]["sub_button"] == []
    assert got[2]["sub_button"][1] == {"type": "view", "name": "帮助",
                                       "url": "http://chatshop.test/help"}
    assert client.menu.delete()["errcode"] == 0
    assert client.menu.get() is None


@pytest.mark.parametrize(
    ("menu", "errcode"),
    [
        ({"button": []}, 40016),
        ({"button": [{"type": "click", "name": f"b{i}", "key": "K"} for i in range(4)]}, 40016),
        ({"button": [{"type": "click", "name": "一二三四五六", "key": "K"}]}, 40018),
        ({"button": [{"type": "tap", "name": "b", "key": "K"}]}, 40017),
        ({"button": [{"type": "click", "name": "b"}]}, 40019),
        ({"button": [{"type": "click", "name": "b", "key": "K" * 129}]}, 40019),
        ({"button": [{"type": "view", "name": "b", "url": "javascript:alert(1)"}]}, 40055),
        ({"button": [{"name": "b", "sub_button": [
            {"type": "click", "name": f"s{i}", "key": "K"} for i in range(6)]}]}, 40023),
        ({"button": [{"name": "b", "sub_button": [{"type": "click", "name": "s"}]}]}, 40026),
    ],
)
def test_menu_create_validates_like_wechat(oa: Oa, menu: dict[str, Any], errcode: int) -> None:
    with pytest.raises(WeChatClientException) as refused:
        oa.client().menu.create(menu)
    assert _errcode(refused) == errcode
    assert oa.client().menu.get() is None


# --- QR codes ------------------------------------------------------------------------------


def _limit_str(scene: str) -> dict[str, Any]:
    return {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": scene}}}


def test_permanent_qr_same_scene_same_ticket(oa: Oa) -> None:
    client = oa.client()
    first = client.qrcode.create(_limit_str("dist_7"))
    again = client.qrcode.create(_limit_str("dist_7"))
    other = client.qrcode.create(_limit_str("dist_8"))
    assert first["ticket"] == again["ticket"] != other["ticket"]
    assert "expire_seconds" not in first
    assert first["url"].startswith(oa.url + "/sandbox/chat?ticket=")

    # Like WeChat's showqrcode: no access token, the ticket alone.
    image = requests.get(oa.api + "showqrcode", params={"ticket": first["ticket"]}, timeout=5)
    assert image.status_code == 200
    assert image.headers["Content-Type"] == "image/png"
    assert image.headers["X-Content-Type-Options"] == "nosniff"
    missing = requests.get(oa.api + "showqrcode", params={"ticket": "gQnope"}, timeout=5)
    assert missing.status_code == 404


def test_showqrcode_is_a_real_qr_code_of_the_scan_url(oa: Oa) -> None:
    answer = oa.client().qrcode.create(_limit_str('<script>"&'))
    image = requests.get(oa.api + "showqrcode", params={"ticket": answer["ticket"]}, timeout=5)
    expected = qr_matrix(answer["url"])
    assert read_qr_modules(image.content, modules=len(expected)) == expected
    assert answer["url"] == f"{oa.url}/sandbox/chat?ticket={quote(answer['ticket'], safe='')}"


def test_permanent_qr_codes_are_capped(oa: Oa) -> None:
    client = oa.client()
    for i in range(3):  # SANDBOX_QR_PERMANENT_LIMIT=3 in this fixture (WeChat: 100000)
        client.qrcode.create(_limit_str(f"s{i}"))
    with pytest.raises(WeChatClientException) as capped:
        client.qrcode.create(_limit_str("one more"))
    assert _errcode(capped) == 45029
    client.qrcode.create(_limit_str("s1"))  # an existing scene is not a new code


def test_temporary_qr_codes_expire(oa: Oa) -> None:
    client = oa.client()
    answer = client.qrcode.create({"action_name": "QR_STR_SCENE", "expire_seconds": 600,
                                   "action_info": {"scene": {"scene_str": "dist_9"}}})
    assert answer["expire_seconds"] == 600
    show = oa.api + "showqrcode"
    assert requests.get(show, params={"ticket": answer["ticket"]}, timeout=5).status_code == 200
    oa.in_app(lambda: travel(601))
    assert requests.get(show, params={"ticket": answer["ticket"]}, timeout=5).status_code == 404
    numeric = client.qrcode.create({"action_name": "QR_SCENE",
                                    "action_info": {"scene": {"scene_id": 123}}})
    assert numeric["expire_seconds"] == 60  # WeChat's default life


@pytest.mark.parametrize(
    "body",
    [
        _limit_str(""),
        _limit_str("x" * 65),
        {"action_name": "QR_STR_SCENE", "expire_seconds": 2_592_001,
         "action_info": {"scene": {"scene_str": "a"}}},
        {"action_name": "QR_STR_SCENE", "expire_seconds": 0,
         "action_info": {"scene": {"scene_str": "a"}}},
        {"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": 100_001}}},
        {"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": True}}},
        {"action_name": "QR_FOREVER", "action_info": {"scene": {"scene_str": "a"}}},
        {"action_name": "QR_LIMIT_STR_SCENE"},
    ],
)
def test_qr_create_validates(oa: Oa, body: dict[str, Any]) -> None:
    with pytest.raises(WeChatClientException) as refused:
        oa.client().qrcode.create(body)
    assert _errcode(refused) == 40097


def test_longest_scene_and_longest_expiry_are_fine(oa: Oa) -> None:
    client = oa.client()
    client.qrcode.create(_limit_str("x" * 64))
    client.qrcode.create({"action_name": "QR_STR_SCENE", "expire_seconds": 2_592_000,
                          "action_info": {"scene": {"scene_str": "a"}}})


# --- users ---------------------------------------------------------------------------------


def test_user_info(oa: Oa) -> None:
    openid = oa.follower()
    info = oa.client().user.get(openid)
    assert info["subscribe"] == 1 and info["openid"] == openid
    stranger = oa.in_app(lambda: create_consumer().openid)
    assert oa.client().user.get(stranger) == {"subscribe": 0, "openid": stranger}
    with pytest.raises(WeChatClientException) as unknown:
        oa.client().user.get("o-unknown")
    assert _errcode(unknown) == 40003


# --- OAuth ---------------------------------------------------------------------------------


def _oauth(oa: Oa, redirect_uri: str, scope: str = "snsapi_base") -> WeChatOAuth:
    cfg = oa.app.config
    auth = WeChatOAuth(cfg["WECHAT_APP_ID"], cfg["WECHAT_APP_SECRET"], redirect_uri,
                       scope=scope, state="pay42")
    auth.API_BASE_URL = oa.url + "/sandbox/wechat/"
    auth.OAUTH_BASE_URL = oa.url + "/sandbox/wechat/connect/"
    return auth


def test_oauth_uses_the_current_chat_user(oa: Oa) -> None:
    openid = oa.follower("小明")
    auth = _oauth(oa, oa.url + "/h5/pay/CS1?x=1")
    browser = requests.Session()
    browser.cookies.set("sandbox_chat_openid", openid)
    back = browser.get(auth.authorize_url, allow_redirects=False, timeout=5)
    assert back.status_code == 302
    location = back.headers["Location"]
    assert location.startswith(oa.url + "/h5/pay/CS1?x=1&code=")
    assert location.endswith("&state=pay42")
    code = location.split("code=")[1].split("&")[0]

    answer = auth.fetch_access_token(code)
    assert answer["openid"] == openid and answer["scope"] == "snsapi_base"
    with pytest.raises(WeChatOAuthException) as reused:
        auth.fetch_access_token(code)
    assert reused.value.errcode == 40163
    with pytest.raises(WeChatOAuthException) as unknown:
        auth.fetch_access_token("made-up")
    assert unknown.value.errcode == 40029


def test_oauth_without_a_chat_user_asks_who_you_are(oa: Oa) -> None:
    openid = oa.follower('<b>"evil"</b>')
    auth = _oauth(oa, oa.url + "/h5/pay/CS2", scope="snsapi_userinfo")
    page = requests.get(auth.authorize_url, timeout=5)
    assert page.status_code == 200
    assert openid in page.text and "<b>" not in page.text and "&lt;b&gt;" in page.text
    chosen = requests.post(auth.authorize_url, data={"openid": openid}, allow_redirects=False,
                           timeout=5)
    assert chosen.status_code == 302
    assert chosen.cookies.get("sandbox_chat_openid") == openid
    code = chosen.headers["Location"].split("code=")[1].split("&")[0]
    auth.fetch_access_token(code)
    assert auth.get_user_info()["nickname"] == '<b>"evil"</b>'

    created = requests.post(auth.authorize_url, data={"nickname": "新人"}, allow_redirects=False,
                            timeout=5)
    assert created.status_code == 302
    assert requests.post(auth.authorize_url, data={}, timeout=5).status_code == 400


@pytest.mark.parametrize(
    "redirect_uri",
    ["https://evil.example/steal", "http://127.0.0.1:1/elsewhere", "javascript:alert(1)", ""],
)
def test_oauth_refuses_foreign_redirects(oa: Oa, redirect_uri: str) -> None:
    url = oa.url + "/sandbox/wechat/connect/oauth2/authorize"
    params = {"appid": oa.app.config["WECHAT_APP_ID"], "redirect_uri": redirect_uri,
              "response_type": "code", "scope": "snsapi_base", "state": "s"}
    page = requests.get(url, params=params, allow_redirects=False, timeout=5)
    assert page.status_code == 400 and "Location" not in page.headers
    assert "10003" in page.text
    if redirect_uri:
        assert redirect_uri not in page.text
    posted = requests.post(url, params=params, data={"nickname": "x"}, allow_redirects=False,
                           timeout=5)
    assert posted.status_code == 400


def test_oauth_checks_appid_scope_and_secret(oa: Oa) -> None:
    url = oa.url + "/sandbox/wechat/connect/oauth2/authorize"
    base = {"appid": oa.app.config["WECHAT_APP_ID"], "redirect_uri": oa.url + "/h5",
            "response_type": "code", "scope": "snsapi_base"}
    for change in ({"appid": "wx-other"}, {"scope": "snsapi_login"}, {"response_type": "token"},
                   {"state": "s" * 129}):
        page = requests.get(url, params={**base, **change}, allow_redirects=False, timeout=5)
        assert page.status_code == 400, change
    token = requests.get(oa.url + "/sandbox/wechat/sns/oauth2/access_token", params={
        "appid": base["appid"], "secret": "wrong", "code": "c",
        "grant_type": "authorization_code"}, timeout=5)
    assert token.json()["errcode"] == 40125
