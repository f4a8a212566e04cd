"""The custom menu against WeChat's limits; OAuth state and base URLs."""
from __future__ import annotations

import copy

import pytest

from adapters.wechat.menu import MenuInvalid, build_menu, check_menu
from adapters.wechat.oauth import (
    authorize_base_url,
    authorize_url,
    new_state,
    oauth_api_base_url,
    oauth_client,
    state_is_valid,
)
from bots.dialogue.keys import ALL_MENU_KEYS

BASE = "https://shop.example.com"


def test_the_menu_uses_every_dialogue_key_and_fits_wechat():
    menu = build_menu(BASE)
    check_menu(menu)
    keys = {b.get("key") for top in menu["button"] for b in top.get("sub_button") or [top]}
    assert keys - {None} == set(ALL_MENU_KEYS)


def _broken(change) -> dict:
    menu = copy.deepcopy(build_menu(BASE))
    change(menu)
    return menu


@pytest.mark.parametrize("change", [
    lambda m: m["button"].append({"type": "click", "name": "x", "key": "k"}),
    lambda m: m["button"][1].update(name="购物车购物车 Cart"),
    lambda m: m["button"][0]["sub_button"].extend([m["button"][1]] * 4),
    lambda m: m["button"][0]["sub_button"][0].update(name="分" * 21),
    lambda m: m["button"][0]["sub_button"][0].update(key="k" * 129),
    lambda m: m["button"][2]["sub_button"][1].update(url="javascript:alert(1)"),
    lambda m: m["button"][1].update(type="teleport"),
    lambda m: m.update(button=[]),
])
def test_menus_wechat_would_refuse_are_caught(change):
    with pytest.raises(MenuInvalid):
        check_menu(_broken(change))


CONFIG = {
    "WECHAT_APP_ID": "wx123",
    "WECHAT_APP_SECRET": "s",
    "WECHAT_API_BASE_URL": "https://api.weixin.qq.com/cgi-bin/",
    "WECHAT_HTTP_TIMEOUT_SECONDS": 4,
    "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
    "WECHAT_SANDBOX": False,
}


def test_real_oauth_urls():
    assert oauth_api_base_url(CONFIG) == "https://api.weixin.qq.com/"
    assert authorize_base_url(CONFIG) == "https://open.weixin.qq.com/connect/"
    url = authorize_url(CONFIG, "http://127.0.0.1:5000/h5/oauth/callback", "abc123")
    assert url == (
        "https://open.weixin.qq.com/connect/oauth2/authorize?appid=wx123&redirect_uri="
        "http%3A%2F%2F127.0.0.1%3A5000%2Fh5%2Foauth%2Fcallback&response_type=code"
        "&scope=snsapi_base&state=abc123#wechat_redirect"
    )
    assert oauth_client(CONFIG, "http://x").timeout == 4


def test_sandbox_oauth_urls():
    cfg = {**CONFIG, "WECHAT_SANDBOX": True,
           "WECHAT_API_BASE_URL": "http://127.0.0.1:5000/sandbox/wechat/cgi-bin/"}
    assert oauth_api_base_url(cfg) == "http://127.0.0.1:5000/sandbox/wechat/"
    assert authorize_url(cfg, "http://127.0.0.1:5000/cb", "s").startswith(
        "http://127.0.0.1:5000/sandbox/wechat/connect/oauth2/authorize?appid=wx123&")


def test_state_round_trip_and_expiry():
    state, nonce = new_state("secret", now=1_800_000_000)
    assert state.isalnum() and len(state) <= 128
    assert state_is_valid("secret", state, nonce, now=1_800_000_100)
    assert not state_is_valid("other-secret", state, nonce, now=1_800_000_100)
    assert not state_is_valid("secret", state, "0" * len(nonce), now=1_800_000_100)
    assert not state_is_valid("secret", state, None, now=1_800_000_100)
    assert not state_is_valid("secret", state, nonce, now=1_800_000_000 + 601)
