"""The H5 pages behind WeChat OAuth: sign-in, the pay page, order pages (production mode)."""
from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from core.actors import Actor
from core.models import Order
from shop import orders
from shop.payments import apply_pay_notify
from tests.support.factories import make_user, place_order
from tests.support.h5 import RealModeApp, callback_path, oauth_target
from tests.support.payments import signed_pay_notify
from tests.support.settings import gateway_of
from webapp.extensions import db

BUYER = "o-h5-buyer"


def _sign_in(client: FlaskClient, real: RealModeApp, path: str, openid: str = BUYER) -> Any:
    """Open ``path`` signed out, go through OAuth as ``openid``; the page after the return."""
    first = client.get(path)
    assert first.status_code == 302
    code = f"code-{openid}-{len(real.wechat.codes)}"
    real.wechat.codes[code] = openid
    back = client.get(callback_path(first.headers["Location"], code))
    assert back.status_code == 302
    assert back.headers["Location"] == path
    return client.get(path)


def _order(price: int = 1234, quantity: int = 2, openid: str = BUYER) -> Order:
    buyer = make_user(openid=openid)
    return place_order((price, quantity), buyer=buyer)


def test_a_signed_out_visitor_is_sent_to_wechat_oauth(real_mode: RealModeApp):
    order = _order()
    response = real_mode.app.test_client().get(f"/h5/pay/{order.number}")
    assert response.status_code == 302
    location = response.headers["Location"]
    base, query = oauth_target(location)
    assert base == "https://open.weixin.qq.com/connect/oauth2/authorize"
    assert location.endswith("#wechat_redirect")
    assert query["appid"] == real_mode.app.config["WECHAT_APP_ID"]
    assert query["scope"] == "snsapi_base"
    assert query["response_type"] == "code"
    assert query["redirect_uri"] == "http://chatshop.test/h5/oauth/callback"
    # WeChat accepts at most 128 letters and digits as state.
    assert re.fullmatch(r"[A-Za-z0-9]{1,128}", query["state"])


def test_the_pay_page_after_sign_in(real_mode: RealModeApp):
    order = _order(1234, 2)
    client = real_mode.app.test_client()
    page = _sign_in(client, real_mode, f"/h5/pay/{order.number}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert order.number in html
    assert "¥24.68" in html
    assert order.lines[0].title in html
    assert "getBrandWCPayRequest" in html
    params = json.loads(re.search(r"var params = (\{.*?\});", html).group(1))  # type: ignore[union-attr]
    assert params["package"] == f"prepay_id=wx-prepay-{order.number}"
    assert params["appId"] == real_mode.app.config["WECHAT_APP_ID"]
    assert set(params) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert page.headers["Cache-Control"] == "no-store"
    nonce = re.search(r"'nonce-([^']+)'", page.headers["Content-Security-Policy"])
    assert nonce and f'<script nonce="{nonce.group(1)}">' in html
    (call,) = real_mode.gateway.calls_of("unified_order")
    assert call["openid"] == BUYER and call["total_fen"] == 2468


def test_opening_the_pay_page_again_reuses_the_payment(real_mode: RealModeApp):
    order = _order()
    client = real_mode.app.test_client()
    _sign_in(client, real_mode, f"/h5/pay/{order.number}")
    assert client.get(f"/h5/pay/{order.number}").status_code == 200
    assert len(real_mode.gateway.calls_of("unified_order")) == 1


def test_someone_elses_order_is_not_found(real_mode: RealModeApp):
    order = _order(openid="o-owner")
    make_user(openid=BUYER)
    client = real_mode.app.test_client()
    page = _sign_in(client, real_mode, f"/h5/pay/{order.number}")
    assert page.status_code == 404
    assert client.get(f"/h5/orders/{order.number}").status_code == 404
    assert real_mode.gateway.calls_of("unified_order") == []


def test_an_unknown_order_or_openid_is_not_found(real_mode: RealModeApp):
    client = real_mode.app.test_client()
    assert _sign_in(client, real_mode, "/h5/pay/CS0000", openid="o-nobody").status_code == 404
    assert client.get("/h5/orders/" + "9" * 40).status_code == 404


def test_a_paid_order_shows_the_paid_page(real_mode: RealModeApp):
    order = _order()
    outcome = apply_pay_notify(db.session, gateway_of(),
                               signed_pay_notify(real_mode.app, order.number,
                                                             order.total_fen))
    assert outcome.applied
    client = real_mode.app.test_client()
    page = _sign_in(client, real_mode, f"/h5/pay/{order.number}")
    assert page.status_code == 200
    assert "已支付" in page.get_data(as_text=True)
    assert "getBrandWCPayRequest" not in page.get_data(as_text=True)


def test_a_cancelled_order_cannot_be_paid(real_mode: RealModeApp):
    order = _order()
    orders.cancel_order(db.session, Actor(order.buyer_id), order.id)
    client = real_mode.app.test_client()
    page = _sign_in(client, real_mode, f"/h5/pay/{order.number}")
    assert page.status_code == 409
    assert "getBrandWCPayRequest" not in page.get_data(as_text=True)
    assert real_mode.gateway.calls_of("unified_order") == []


def test_everything_shown_is_escaped(real_mode: RealModeApp):
    order = _order()
    db.session.get(Order, order.id).lines[0].title = '<img src=x onerror="alert(1)">'
    db.session.get(Order, order.id).recipient = "</script><script>alert(2)</script>"
    db.session.commit()
    client = real_mode.app.test_client()
    for path in (f"/h5/pay/{order.number}", f"/h5/orders/{order.number}", "/h5/orders"):
        html = _sign_in(client, real_mode, path).get_data(as_text=True) if path.startswith(
            "/h5/pay") else client.get(path).get_data(as_text=True)
        assert "<img src=x" not in html
        assert "<script>alert" not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in client.get(
        f"/h5/orders/{order.number}").get_data(as_text=True)


def test_order_detail_and_list(real_mode: RealModeApp):
    buyer = make_user(openid=BUYER)
    first = place_order((500, 1), buyer=buyer)
    second = place_order((700, 3), buyer=buyer)
    _order(999, 1, openid="o-stranger")
    client = real_mode.app.test_client()
    detail = _sign_in(client, real_mode, f"/h5/orders/{first.number}")
    assert detail.status_code == 200
    text = detail.get_data(as_text=True)
    assert "¥5.00" in text and "待支付" in text and f"/h5/pay/{first.number}" in text
    listing = client.get("/h5/orders").get_data(as_text=True)
    assert listing.index(second.number) < listing.index(first.number)
    assert "¥21.00" in listing and "¥9.99" not in listing


def test_the_phone_number_is_masked_on_the_pay_and_order_pages(real_mode: RealModeApp):
    order = _order()
    assert order.phone == "13800138000"
    client = real_mode.app.test_client()
    for path in (f"/h5/pay/{order.number}", f"/h5/orders/{order.number}"):
        page = _sign_in(client, real_mode, path) if path.startswith("/h5/pay") \
            else client.get(path)
        html = page.get_data(as_text=True)
        assert page.status_code == 200, path
        assert "138****8000" in html and "13800138000" not in html, path


@pytest.mark.parametrize(
    "tamper",
    [
        lambda state: state[:-1] + ("0" if state[-1] != "0" else "1"),
        lambda state: "",
        lambda state: state[:9] + str((int(state[9]) + 1) % 10) + state[10:],
    ],
)
def test_a_forged_state_is_refused(real_mode: RealModeApp, tamper: Any):
    client = real_mode.app.test_client()
    first = client.get("/h5/orders")
    _, query = oauth_target(first.headers["Location"])
    real_mode.wechat.codes["c1"] = BUYER
    response = client.get("/h5/oauth/callback", query_string={
        "code": "c1", "state": tamper(query["state"])})
    assert response.status_code == 400
    assert "c1" in real_mode.wechat.codes  # never exchanged
    assert client.get("/h5/orders").status_code == 302  # still signed out


def test_a_state_from_another_browser_is_refused(real_mode: RealModeApp):
    victim, attacker = real_mode.app.test_client(), real_mode.app.test_client()
    victim.get("/h5/orders")
    lure = attacker.get("/h5/orders").headers["Location"]
    real_mode.wechat.codes["attacker-code"] = "o-attacker"
    response = victim.get(callback_path(lure, "attacker-code"))
    assert response.status_code == 400


def test_a_state_is_used_once(real_mode: RealModeApp):
    client = real_mode.app.test_client()
    first = client.get("/h5/orders")
    real_mode.wechat.codes["c1"] = BUYER
    real_mode.wechat.codes["c2"] = BUYER
    assert client.get(callback_path(first.headers["Location"], "c1")).status_code == 302
    assert client.get(callback_path(first.headers["Location"], "c2")).status_code == 400


def test_a_refused_code_is_a_friendly_error(real_mode: RealModeApp):
    client = real_mode.app.test_client()
    first = client.get("/h5/orders")
    response = client.get(callback_path(first.headers["Location"], "unknown-code"))
    assert response.status_code == 502
    assert "<html" in response.get_data(as_text=True)
    assert client.get("/h5/orders").status_code == 302


def test_the_openid_lives_in_a_signed_cookie(real_mode: RealModeApp):
    client = real_mode.app.test_client()
    _sign_in(client, real_mode, "/h5/orders")
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only
    other = real_mode.app.test_client()
    other.set_cookie("session", cookie.value.replace(cookie.value[-3:], "AAA"))
    assert other.get("/h5/orders").status_code == 302


def test_links_built_outside_a_request_match_the_routes(real_mode: RealModeApp):
    from flask import url_for

    from adapters.wechat.links import order_list_url, order_page_url, pay_page_url

    base = real_mode.app.config["PUBLIC_BASE_URL"]
    with real_mode.app.test_request_context():
        assert pay_page_url("CS1", base) == base + url_for("h5.pay", number="CS1")
        assert order_page_url("CS1", base) == base + url_for("h5.order_detail", number="CS1")
        assert order_list_url(base) == base + url_for("h5.order_list")
    assert pay_page_url("a/b", "http://x.test/") == "http://x.test/h5/pay/a%2Fb"
