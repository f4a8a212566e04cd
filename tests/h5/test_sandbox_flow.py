"""A buyer pays from the H5 page in sandbox mode: sandbox OAuth, sandbox pay page, pay notify."""
from __future__ import annotations

import html
import re
import time

import requests
from sqlalchemy import select

from core.models import Order, OrderStatus
from sandbox import oa
from tests.support.factories import make_user, place_order
from tests.support.h5 import signed_in_browser
from tests.support.live_server import LiveSandbox
from webapp.extensions import db


def _idle() -> None:
    """End this thread's transaction so the live server can write (SQLite)."""
    db.session.rollback()


def _status(number: str) -> str:
    db.session.expire_all()
    status = db.session.scalar(select(Order.status).where(Order.number == number))
    _idle()
    return str(status)


def _wait_for_status(number: str, wanted: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while _status(number) != wanted:
        assert time.monotonic() < deadline, f"order {number} never became {wanted}"
        time.sleep(0.05)


def test_a_buyer_signs_in_and_pays_in_the_sandbox(live_sandbox: LiveSandbox):
    openid = oa.create_consumer("小红").openid
    order = place_order((1990, 1), (505, 2), buyer=make_user(openid=openid))
    number = order.number
    _idle()

    page = signed_in_browser(live_sandbox, f"/h5/pay/{number}", openid)
    assert page.status_code == 200
    assert page.url == f"{live_sandbox.url}/h5/pay/{number}"
    assert "¥30.00" in page.text and "¥10.10" in page.text
    link = re.search(r'<a class="button" id="pay" href="([^"]+)"', page.text)
    assert link is not None
    pay_url = html.unescape(link.group(1))
    assert pay_url.startswith(f"{live_sandbox.url}/sandbox/pay/h5/{number}?return_url=")
    browser: requests.Session = page.browser  # type: ignore[attr-defined]

    pay_page = browser.get(pay_url, timeout=10)
    assert pay_page.status_code == 200
    prepay = re.search(r'name="prepay_id" value="([^"]+)"', pay_page.text)
    assert prepay is not None
    paid = browser.post(pay_url, data={"prepay_id": prepay.group(1)}, timeout=10)
    assert paid.status_code == 200
    _wait_for_status(number, OrderStatus.PAID)

    again = browser.get(f"{live_sandbox.url}/h5/pay/{number}", timeout=10)
    assert again.status_code == 200
    assert "已支付" in again.text
    detail = browser.get(f"{live_sandbox.url}/h5/orders/{number}", timeout=10)
    assert "已支付 Paid" in detail.text


def test_another_sandbox_user_cannot_open_the_order(live_sandbox: LiveSandbox):
    owner = oa.create_consumer("owner").openid
    intruder = oa.create_consumer("intruder").openid
    make_user(openid=intruder)
    order = place_order((1000, 1), buyer=make_user(openid=owner))
    number = order.number
    _idle()
    page = signed_in_browser(live_sandbox, f"/h5/pay/{number}", intruder)
    assert page.status_code == 404
    assert _status(number) == OrderStatus.PENDING_PAYMENT
