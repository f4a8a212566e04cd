"""Payments and refunds end to end against the live WeChat sandbox (real HTTP, real wechatpy).

The app is served on 127.0.0.1 with WECHAT_SANDBOX on: wechatpy calls the
sandbox's Pay API through the app's own base URL, and the sandbox posts its
signed pay notifies and encrypted refund notifies back to the app.

On SQLite every transaction takes the write lock, so the test thread ends its
transaction (``_idle``) before anything the live server must write.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import select
from wechatpy.pay.utils import calculate_signature

from core.actors import Actor
from core.models import Order, OrderStatus, Payment, PaymentStatus, Refund, RefundStatus, Role
from sandbox import PaymentRefused, pay_order, sandbox_order
from sandbox.pay_api import Context, Merchant, buyer_pays
from sandbox.pay_store import PayStore
from shop import orders, payments
from tests.support.apps import sandbox_settings, served_app
from tests.support.factories import auth_header, make_user, place_order
from tests.support.live_server import reserve_port
from tests.support.settings import gateway_of, settings_of
from webapp.extensions import db
from webapp.redis_conn import get_redis


@pytest.fixture(params=["sqlite", "postgres"])
def live(request: pytest.FixtureRequest, make_app: Any) -> Iterator[tuple[Flask, str]]:
    """A sandbox app served on a free port (SQLite or PostgreSQL), and its base URL."""
    database_url = None
    if request.param == "postgres":
        database_url = request.getfixturevalue("postgres_url")
    port = reserve_port()
    app = make_app(database_url, **sandbox_settings(port))
    with served_app(app, port, truncate=bool(database_url)) as url:
        yield app, url


def _idle() -> None:
    """End this thread's transaction so the live server can write."""
    db.session.rollback()


def _wait_until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        db.session.expire_all()
        done = check()
        _idle()
        if done:
            return
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the sandbox")
        time.sleep(0.05)


def _status(model: Any, ident: int) -> str:
    return str(db.session.scalar(select(model.status).where(model.id == ident)))


def test_pay_on_the_sandbox_page_then_refund_in_two_steps(live):
    app, url = live
    buyer = make_user()
    staff = make_user(Role.OPERATOR)
    order = place_order((1990, 2), (500, 1), buyer=buyer)
    order_id, number, total = order.id, order.number, order.total_fen
    line_a = order.lines[0].id
    buyer_headers, staff_headers = auth_header(buyer), auth_header(staff)
    _idle()

    client = app.test_client()
    started = client.post(f"/api/v1/orders/{order_id}/payment", headers=buyer_headers)
    _idle()
    assert started.status_code == 200, started.get_json()
    body = started.get_json()
    assert body["pay_url"] == f"{url}/sandbox/pay/h5/{number}"
    jsapi = body["jsapi"]
    unsigned = {k: v for k, v in jsapi.items() if k != "paySign"}
    assert jsapi["paySign"] == calculate_signature(unsigned, app.config["WECHAT_PAY_API_KEY"])
    assert jsapi["appId"] == app.config["WECHAT_APP_ID"]
    again = client.post(f"/api/v1/orders/{order_id}/payment", headers=buyer_headers)
    _idle()
    assert again.get_json()["jsapi"]["package"] == jsapi["package"]
    wechat = sandbox_order(number)
    assert (wechat.total_fee, wechat.openid, wechat.state) == (total, buyer.openid, "NOTPAY")
    _idle()

    # A person opens the pay page and presses Pay.
    page = requests.get(body["pay_url"], timeout=10)
    assert page.status_code == 200
    prepay_id = jsapi["package"].removeprefix("prepay_id=")
    paid = requests.post(body["pay_url"], data={"prepay_id": prepay_id}, timeout=20)
    assert paid.status_code == 200, paid.text
    _wait_until(lambda: _status(Order, order_id) == OrderStatus.PAID)
    payment = db.session.scalar(select(Payment).where(Payment.order_id == order_id))
    assert payment.transaction_id == sandbox_order(number).transaction_id
    _idle()

    first = client.post(
        f"/api/v1/orders/{order_id}/refunds", headers=staff_headers,
        json={"lines": [{"order_line_id": line_a, "quantity": 1}], "reason": "one was broken"},
    )
    _idle()
    assert first.status_code == 201, first.get_json()
    first_id = first.get_json()["id"]
    _wait_until(lambda: _status(Refund, first_id) == RefundStatus.SUCCEEDED)
    assert _status(Order, order_id) == OrderStatus.PARTIALLY_REFUNDED
    _idle()

    rest = client.post(f"/api/v1/orders/{order_id}/refunds", headers=staff_headers, json={})
    _idle()
    assert rest.status_code == 201, rest.get_json()
    assert rest.get_json()["amount_fen"] == total - 1990
    rest_id = rest.get_json()["id"]
    _wait_until(lambda: _status(Refund, rest_id) == RefundStatus.SUCCEEDED)
    final = db.session.get(Order, order_id)
    assert (final.status, final.refunded_fen) == (OrderStatus.REFUNDED, total)
    _idle()
    assert sandbox_order(number).refunded_fee == total


def test_reconcile_finds_a_payment_whose_notify_never_came(live):
    app, _ = live
    order = place_order((1200, 1))
    order_id, number, buyer_id = order.id, order.number, order.buyer_id
    _idle()
    payments.start_payment(db.session, gateway_of(), settings_of(), Actor(buyer_id), order_id,
                           "127.0.0.1")
    _idle()
    # The buyer pays, but WeChat's notify is lost.
    context = Context(merchant=Merchant.from_config(app.config), store=PayStore(get_redis()),
                      conn=get_redis())
    buyer_pays(context, number)
    assert _status(Order, order_id) == OrderStatus.PENDING_PAYMENT
    _idle()
    assert payments.reconcile_pending_payments(db.session, gateway_of(), older_than_minutes=0) == 1
    assert _status(Order, order_id) == OrderStatus.PAID
    _idle()
    assert payments.reconcile_pending_payments(db.session, gateway_of(), older_than_minutes=0) == 0


def test_reconcile_closes_the_trade_of_a_cancelled_order(live):
    order = place_order((800, 1))
    order_id, number, buyer_id = order.id, order.number, order.buyer_id
    _idle()
    payments.start_payment(db.session, gateway_of(), settings_of(), Actor(buyer_id), order_id,
                           "127.0.0.1")
    orders.cancel_order(db.session, Actor(buyer_id), order_id)
    _idle()
    assert payments.reconcile_payment(db.session, gateway_of(), order_id) == "closed"
    assert _status(Payment, db.session.scalar(
        select(Payment.id).where(Payment.order_id == order_id))) == PaymentStatus.CLOSED
    _idle()
    assert sandbox_order(number).state == "CLOSED"
    with pytest.raises(PaymentRefused):
        pay_order(number)


def test_a_late_payment_is_refunded_automatically(live):
    order = place_order((1500, 2))
    order_id, number, buyer_id, total = order.id, order.number, order.buyer_id, order.total_fen
    _idle()
    payments.start_payment(db.session, gateway_of(), settings_of(), Actor(buyer_id), order_id,
                           "127.0.0.1")
    orders.cancel_order(db.session, Actor(buyer_id), order_id)
    _idle()
    # The buyer had the pay page open and pays after the order was cancelled.
    delivery = pay_order(number).notify
    assert delivery.acknowledged, delivery.response
    refund_id = db.session.scalar(select(Refund.id).where(Refund.order_id == order_id))
    _idle()
    assert refund_id is not None
    _wait_until(lambda: _status(Refund, refund_id) == RefundStatus.SUCCEEDED)
    final = db.session.get(Order, order_id)
    assert (final.status, final.refunded_fen) == (OrderStatus.CANCELLED, total)
    payment = db.session.scalar(select(Payment).where(Payment.order_id == order_id))
    assert payment.status == PaymentStatus.SUCCEEDED
    _idle()
    assert sandbox_order(number).refunded_fee == total
