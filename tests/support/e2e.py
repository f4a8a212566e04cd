"""Helpers of the end-to-end chat tests: talk as a WeChat user, run the RQ jobs, pay."""
from __future__ import annotations

import re

import requests
from flask import Flask
from sqlalchemy import func, select

from core.models import Order
from sandbox import chat as sandbox_chat
from webapp.extensions import db


def reply_text(exchange: sandbox_chat.Exchange) -> str:
    """The passive reply of an exchange as text (a news reply as its articles)."""
    assert not exchange.error, exchange.error
    message = exchange.reply_message
    assert message is not None, "no passive reply"
    return str(message.get("content") or message.get("articles") or message)


def says(openid: str, text: str, mode: str) -> str:
    """The user types ``text``; the shop's passive reply."""
    return reply_text(sandbox_chat.user_says(openid, text, mode=mode))


def orders() -> int:
    """How many orders exist."""
    db.session.rollback()  # a fresh snapshot: the live server wrote in other threads
    return int(db.session.scalar(select(func.count()).select_from(Order)) or 0)


def order_in_chat(openid: str, mode: str) -> str:
    """Buy the first product of the first category, typing a new address; the order number."""
    says(openid, "分类", mode)
    says(openid, "1", mode)
    says(openid, "1", mode)
    says(openid, "加购 1", mode)
    says(openid, "结算", mode)
    says(openid, "张三", mode)
    says(openid, "13800138000", mode)
    says(openid, "上海市浦东新区世纪大道 100 号", mode)
    confirmed = says(openid, "确认", mode)
    match = re.search(r"/h5/pay/(CS\d+)", confirmed)
    assert match, confirmed
    return match.group(1)


def open_pay_page(app: Flask, openid: str, number: str) -> None:
    """The buyer opens the pay link: OAuth (the sandbox knows them by the chat page's cookie)
    and the H5 pay page, which places the WeChat Pay order."""
    browser = requests.Session()
    browser.cookies.set("sandbox_chat_openid", openid)
    page = browser.get(app.config["PUBLIC_BASE_URL"] + f"/h5/pay/{number}", timeout=10)
    assert page.status_code == 200, page.text[:500]
    assert f"/sandbox/pay/h5/{number}" in page.text
