"""The buyer's H5 pay page and the sandbox index."""
from __future__ import annotations

from decimal import Decimal

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from sandbox import format_yuan, pay_page_url
from sandbox.pay import safe_return_url
from tests.support.sandbox import Sandbox


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_format_yuan_is_exact(fen: int) -> None:
    text = format_yuan(fen)
    assert Decimal(text) * 100 == fen
    assert len(text.rsplit(".", 1)[1]) == 2


@pytest.mark.parametrize(("fen", "text"), [(0, "0.00"), (1, "0.01"), (1234, "12.34"),
                                           (100, "1.00"), (-5, "-0.05")])
def test_format_yuan_examples(fen: int, text: str) -> None:
    assert format_yuan(fen) == text


@pytest.mark.parametrize(
    ("raw", "allowed"),
    [
        ("http://shop.test", True),
        ("http://shop.test/", True),
        ("http://shop.test/orders/7?x=1", True),
        ("http://shop.test.evil.example/", False),
        ("http://shop.testevil/", False),
        ("https://evil.example/?u=http://shop.test/", False),
        ("//evil.example/", False),
        ("/relative", False),
        ("javascript:alert(1)", False),
        ("http://shop.test/\\@evil.example", False),
        ("http://shop.test/\r\nLocation: x", False),
        ("", False),
        (None, False),
    ],
)
def test_return_url_must_stay_inside_the_app(raw: str | None, allowed: bool) -> None:
    assert safe_return_url(raw, "http://shop.test") == (raw if allowed else None)


def test_pay_page_shows_the_order_escaped(sandbox: Sandbox) -> None:
    evil = '<script>alert("x")</script> & <b>bold</b>'
    sandbox.create_order("CS-PAGE-ESC", total_fee=5, body=evil)
    url = sandbox.in_app(lambda: pay_page_url("CS-PAGE-ESC"))
    assert url == sandbox.url + "/sandbox/pay/h5/CS-PAGE-ESC"
    page = requests.get(url, timeout=5)
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "<b>bold" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold" in page.text
    assert "0.05" in page.text and "ChatShop" in page.text
    assert "Pay" in page.text and "Cancel" in page.text
    assert "<script" not in page.text  # the page works without JavaScript, and has none


def test_pay_page_return_url(sandbox: Sandbox) -> None:
    created = sandbox.create_order("CS-PAGE-RET")
    page_url = sandbox.url + "/sandbox/pay/h5/CS-PAGE-RET"
    inside = sandbox.url + "/orders/CS-PAGE-RET?from=pay"
    ok = requests.get(page_url, params={"return_url": inside}, timeout=5)
    assert 'href="' + inside.replace("&", "&amp;") + '"' in ok.text

    for foreign in ("https://evil.example/phish", sandbox.url + ".evil.example/"):
        refused = requests.get(page_url, params={"return_url": foreign}, timeout=5)
        assert refused.status_code == 200
        assert "evil.example" not in refused.text
        assert f'href="{sandbox.url}/"' in refused.text
        paid = requests.post(
            page_url, params={"return_url": foreign}, data={"prepay_id": "stale"}, timeout=5
        )
        assert "evil.example" not in paid.text

    result = requests.post(
        page_url, params={"return_url": inside}, data={"prepay_id": created["prepay_id"]},
        timeout=10,
    )
    assert result.status_code == 200
    assert "支付成功" in result.text and inside.replace("&", "&amp;") in result.text


def test_pay_page_refuses_a_stale_form(sandbox: Sandbox) -> None:
    sandbox.create_order("CS-PAGE-STALE")
    page_url = sandbox.url + "/sandbox/pay/h5/CS-PAGE-STALE"
    refused = requests.post(page_url, data={"prepay_id": "wx-not-this-one"}, timeout=5)
    assert refused.status_code == 400
    query = sandbox.client().order.query(out_trade_no="CS-PAGE-STALE")
    assert query["trade_state"] == "NOTPAY"
    assert sandbox.sink.bodies == []


def test_pay_page_of_a_paid_order_has_no_pay_button(sandbox: Sandbox) -> None:
    created = sandbox.create_order("CS-PAGE-TWICE")
    page_url = sandbox.url + "/sandbox/pay/h5/CS-PAGE-TWICE"
    requests.post(page_url, data={"prepay_id": created["prepay_id"]}, timeout=10)
    again = requests.post(page_url, data={"prepay_id": created["prepay_id"]}, timeout=10)
    assert again.status_code == 409
    assert "already paid" in again.text and 'type="submit"' not in again.text
    assert len(sandbox.sink.wait_for(1)) == 1


def test_pay_page_of_an_unknown_order(sandbox: Sandbox) -> None:
    page = requests.get(sandbox.url + "/sandbox/pay/h5/CS-NOPE%3Cb%3E", timeout=5)
    assert page.status_code == 404 and "<b>" not in page.text


def test_index_lists_orders_and_notifies(sandbox: Sandbox) -> None:
    created = sandbox.create_order("CS-INDEX", total_fee=250, body="Index <tea>")
    requests.post(
        sandbox.url + "/sandbox/pay/h5/CS-INDEX", data={"prepay_id": created["prepay_id"]},
        timeout=10,
    )
    page = requests.get(sandbox.url + "/sandbox/", timeout=5)
    assert page.status_code == 200
    assert "CS-INDEX" in page.text and "2.50" in page.text and "SUCCESS" in page.text
    assert "Index &lt;tea&gt;" in page.text
    assert "acknowledged" in page.text and sandbox.notify_url in page.text
