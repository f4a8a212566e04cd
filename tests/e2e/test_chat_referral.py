"""Referral in the chat over HTTP, as WeChat drives it: a QR scan binds the follower
once, their paid order carries the distributor in its attribution, an invite code
typed in the chat binds, and refused scans (frozen distributor, one's own code)
welcome without binding.

The sandbox plays WeChat (signed, and in safe mode encrypted, pushes to the live
/wechat webhook; QR codes, media and customer-service messages); RQ jobs run
in-process.
"""
from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from core.actors import Actor
from core.models import Order, OrderReferral, OrderStatus, Role
from referral.settings import change_rules
from sandbox import chat as sandbox_chat
from sandbox import create_consumer, pay_order, sent_messages
from tests.support.e2e import open_pay_page, order_in_chat, reply_text, says
from tests.support.factories import (
    make_category,
    make_distributor,
    make_product,
    make_supplier,
    make_user,
)
from tests.support.referral_chat import audit_rows, binding_of, invite_code_of, user_by_openid
from tests.support.workers import run_jobs
from webapp.extensions import db


def _follow(nickname: str, mode: str) -> str:
    """A new WeChat user follows the account plainly; their openid."""
    openid = create_consumer(nickname).openid
    followed = sandbox_chat.user_follows(openid, mode=mode)
    assert not followed.error and followed.reply_message is not None
    return openid


def _name(openid: str, nickname: str) -> Any:
    """Give the app's user behind ``openid`` a nickname (WeChat's user info, in short)."""
    user = user_by_openid(openid)
    user.nickname = nickname
    db.session.commit()
    return user_by_openid(openid)


def test_a_qr_follower_is_bound_once_and_their_paid_order_is_attributed(shop: Flask):
    mode = shop.config["E2E_MODE"]
    make_product(make_supplier(), make_category("茶叶"), title="西湖龙井", price_fen=12800,
                 stock=5)
    wang = make_distributor(nickname="小王")
    openid = create_consumer("小红").openid

    scanned = sandbox_chat.user_scans(openid, distributor=wang.id, mode=mode)  # subscribe
    welcome = reply_text(scanned)
    assert "欢迎关注" in welcome and "「小王」推荐你" in welcome
    buyer = user_by_openid(openid)
    binding = binding_of(buyer.id)
    assert binding is not None
    assert (binding.upline_id, binding.source, binding.scene) == (
        wang.id, "qr", f"qrscene_dist_{wang.id}")

    # WeChat delivers the same event again (no answer in time): it binds once.
    retried = sandbox_chat.send(openid, "retry")
    assert not retried.error and retried.reply_message == scanned.reply_message
    # A later scan of the same code is a new event; the binding service keeps it as it is.
    rescanned = reply_text(sandbox_chat.user_scans(openid, distributor=wang.id, mode=mode))
    assert "欢迎回来" in rescanned and "「小王」" in rescanned
    bound = audit_rows("referral.bound", buyer.id)
    assert len(bound) == 1 and bound[0].details["scene"] == f"qrscene_dist_{wang.id}"

    number = order_in_chat(openid, mode)
    open_pay_page(shop, openid, number)
    assert pay_order(number).notify.acknowledged
    db.session.rollback()
    order = db.session.scalar(select(Order).where(Order.number == number))
    assert order is not None and order.status == OrderStatus.PAID
    assert order.attribution is not None and order.attribution["source"] == "qr"
    members = order.attribution["members"]
    assert [(m["level"], m["distributor_id"], m["earns"]) for m in members] == [
        (1, wang.id, True)]
    referrals = db.session.execute(
        select(OrderReferral.level, OrderReferral.distributor_id)
        .where(OrderReferral.order_id == order.id)
    ).all()
    assert [tuple(r) for r in referrals] == [(1, wang.id)]


def test_a_distributor_made_in_the_chat_shares_and_an_invite_code_binds(shop: Flask):
    mode = shop.config["E2E_MODE"]
    change_rules(db.session, Actor.of(make_user(Role.OPERATOR)), {"eligibility": "everyone"})
    li_openid = _follow("老李", mode)
    li = _name(li_openid, "老李")

    assert "恭喜，你已成为分销员" in says(li_openid, "申请分销", mode)
    code = invite_code_of(li.id)
    shared = says(li_openid, "邀请码", mode)
    assert code in shared and f"{shop.config['PUBLIC_BASE_URL']}/r/{code}" in shared

    # The QR code: made through the (sandbox) WeChat API, shown as a news card.
    card = sandbox_chat.user_says(li_openid, "二维码", mode=mode).reply_message
    assert card is not None and card.get("type") == "news", card
    article = card["articles"][0]
    assert "showqrcode?ticket=" in article["picurl"] and code in article["description"]

    # The poster: the job draws it and sends it as a customer-service image.
    assert "海报正在生成" in says(li_openid, "海报", mode)
    run_jobs()
    images = [m for m in sent_messages(li_openid) if m["msg"].get("type") == "image"]
    assert len(images) == 1, sent_messages(li_openid)

    friend_openid = _follow("小明", mode)
    answer = says(friend_openid, f"绑定 {code.lower()}", mode)
    assert "绑定成功" in answer and "「老李」" in answer
    friend = user_by_openid(friend_openid)
    binding = binding_of(friend.id)
    assert binding is not None
    assert (binding.upline_id, binding.source, binding.scene) == (li.id, "invite_code", code)
    assert "已经是「老李」" in says(friend_openid, f"邀请码 {code}", mode)
    assert len(audit_rows("referral.bound", friend.id)) == 1

    # Scanning one's own code welcomes back, binds nothing and is audited.
    own = reply_text(sandbox_chat.user_scans(li_openid, distributor=li.id, mode=mode))
    assert "欢迎回来" in own and "推荐" not in own
    assert binding_of(li.id) is None
    assert [r.details["refusal"] for r in audit_rows("referral.bind_refused", li.id)] == ["self"]


def test_a_frozen_distributors_code_welcomes_without_binding(shop: Flask):
    mode = shop.config["E2E_MODE"]
    frozen = make_distributor("frozen", nickname="小冻", with_role=True)
    openid = create_consumer("小青").openid
    welcome = reply_text(sandbox_chat.user_scans(openid, distributor=frozen.id, mode=mode))
    assert "欢迎关注" in welcome and "小冻" not in welcome and "推荐" not in welcome
    buyer = user_by_openid(openid)
    assert binding_of(buyer.id) is None
    assert [r.details["refusal"] for r in audit_rows("referral.bind_refused", buyer.id)] == [
        "distributor_inactive"]
