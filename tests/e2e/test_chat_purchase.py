"""A whole purchase in the chat, over HTTP, as WeChat would drive it.

The sandbox plays WeChat: it signs (and in safe mode encrypts) each message,
POSTs it to the app's own /wechat webhook on a live server, pays in the pay
sandbox (which sends the signed pay notify), and records the customer-service
messages the app sends back. The RQ jobs run in-process.
"""
from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import select

from core.models import Order, OrderStatus, Sku
from sandbox import chat as sandbox_chat
from sandbox import create_consumer, pay_order, sent_messages
from tests.support.e2e import open_pay_page, orders, says
from tests.support.factories import make_category, make_product, make_supplier
from tests.support.workers import run_jobs
from webapp.extensions import db
from workers.jobs import relay_outbox


def test_subscribe_browse_cart_checkout_pay_and_get_the_paid_message(shop: Flask):
    mode = shop.config["E2E_MODE"]
    supplier, category = make_supplier(), make_category("茶叶")
    _, sku = make_product(supplier, category, title="西湖龙井", price_fen=12800, stock=5)
    openid = create_consumer("小红").openid

    welcome = sandbox_chat.user_follows(openid, mode=mode)
    assert not welcome.error and welcome.reply_message is not None

    assert "茶叶" in says(openid, "分类", mode)
    assert "西湖龙井" in says(openid, "1", mode)
    assert "西湖龙井" in says(openid, "1", mode)  # the product card
    assert "购物车" in says(openid, "加购 2", mode)
    assert "256.00" in says(openid, "购物车", mode)

    says(openid, "结算", mode)
    says(openid, "张三", mode)
    says(openid, "13800138000", mode)
    summary = says(openid, "上海市浦东新区世纪大道 100 号", mode)
    assert "256.00" in summary

    confirmed = says(openid, "确认", mode)
    match = re.search(r"/h5/pay/(CS\d+)", confirmed)
    assert match, confirmed
    number = match.group(1)
    # WeChat retries the confirming message (same MsgId): still one order.
    retry = sandbox_chat.send(openid, "retry")
    assert not retry.error
    assert orders() == 1
    assert db.session.get(Sku, sku.id).stock == 3

    open_pay_page(shop, openid, number)

    paid = pay_order(number)
    assert paid.notify.acknowledged
    db.session.rollback()
    order = db.session.scalar(select(Order).where(Order.number == number))
    assert order is not None and order.status == OrderStatus.PAID

    assert relay_outbox() >= 1
    run_jobs()
    texts = [m["msg"].get("content", "") for m in sent_messages(openid)]
    assert any("付款成功" in t and number in t for t in texts), texts
