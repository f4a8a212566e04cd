"""A whole purchase in the chat, over HTTP, as WeChat would drive it.

The sandbox plays WeChat: it signs (and in safe mode encrypts) each message,
POSTs it to the app's own /wechat webhook on a live server, pays in the pay
sandbox (which sends the signed pay notify), and records the customer-service
messages the app sends back. The RQ jobs run in-process.
"""
from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from rq import SimpleWorker
from sqlalchemy import func, select

from tests.support.factories import make_category, make_product, make_supplier
from tests.support.live_server import reserve_port, serve
from webapp.extensions import db
from webapp.models import Order, OrderStatus, Sku
from webapp.redis_conn import get_redis
from webapp.sandbox import chat as sandbox_chat
from webapp.sandbox import create_consumer, pay_order, sent_messages
from workers.jobs import relay_outbox
from workers.queues import QUEUE_NAMES

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@pytest.fixture(params=["plain", "aes"])
def shop(request: pytest.FixtureRequest, make_test_app: Any) -> Iterator[Flask]:
    """The demo-like app in sandbox mode, served on a free port."""
    port = reserve_port()
    app = make_test_app(
        WECHAT_SANDBOX=True,
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        WECHAT_ENCODING_AES_KEY=AES_KEY,
        SANDBOX_NOTIFY_RETRY_DELAYS=(),
    )
    app.config["E2E_MODE"] = request.param
    with app.app_context():
        db.create_all()
        get_redis().flushdb()
        with serve(app, port):
            yield app
        db.session.remove()
        get_redis().flushdb()
        db.engine.dispose()


def _run_jobs() -> None:
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        SimpleWorker(list(QUEUE_NAMES), connection=get_redis()).work(burst=True)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _says(openid: str, text: str, mode: str) -> str:
    exchange = sandbox_chat.user_says(openid, text, mode=mode)
    assert not exchange.error, exchange.error
    message = exchange.reply_message
    assert message is not None, f"no passive reply to {text!r}"
    return str(message.get("content") or message.get("articles") or message)


def _orders() -> int:
    db.session.rollback()  # a fresh snapshot: the live server wrote in other threads
    return int(db.session.scalar(select(func.count()).select_from(Order)) or 0)


def test_subscribe_browse_cart_checkout_pay_and_get_the_paid_message(shop: Flask):
    mode = shop.config["E2E_MODE"]
    supplier, category = make_supplier(), make_category("茶叶")
    _, sku = make_product(supplier, category, title="西湖龙井", price_fen=12800, stock=5)
    openid = create_consumer("小红").openid

    welcome = sandbox_chat.user_follows(openid, mode=mode)
    assert not welcome.error and welcome.reply_message is not None

    assert "茶叶" in _says(openid, "分类", mode)
    assert "西湖龙井" in _says(openid, "1", mode)
    assert "西湖龙井" in _says(openid, "1", mode)  # the product card
    assert "购物车" in _says(openid, "加购 2", mode)
    assert "256.00" in _says(openid, "购物车", mode)

    _says(openid, "结算", mode)
    _says(openid, "张三", mode)
    _says(openid, "13800138000", mode)
    summary = _says(openid, "上海市浦东新区世纪大道 100 号", mode)
    assert "256.00" in summary

    confirmed = _says(openid, "确认", mode)
    match = re.search(r"/h5/pay/(CS\d+)", confirmed)
    assert match, confirmed
    number = match.group(1)
    # WeChat retries the confirming message (same MsgId): still one order.
    retry = sandbox_chat.send(openid, "retry")
    assert not retry.error
    assert _orders() == 1
    assert db.session.get(Sku, sku.id).stock == 3

    # The buyer opens the pay link: OAuth (the sandbox knows them from the chat
    # page's cookie) → the H5 pay page, which places the WeChat Pay order.
    browser = requests.Session()
    browser.cookies.set("sandbox_chat_openid", openid)
    page = browser.get(shop.config["PUBLIC_BASE_URL"] + f"/h5/pay/{number}", timeout=10)
    assert page.status_code == 200, page.text[:500]
    assert f"/sandbox/pay/h5/{number}" in page.text

    paid = pay_order(number)
    assert paid.notify.acknowledged
    db.session.rollback()
    order = db.session.scalar(select(Order).where(Order.number == number))
    assert order is not None and order.status == OrderStatus.PAID

    assert relay_outbox() >= 1
    _run_jobs()
    texts = [m["msg"].get("content", "") for m in sent_messages(openid)]
    assert any("付款成功" in t and number in t for t in texts), texts
