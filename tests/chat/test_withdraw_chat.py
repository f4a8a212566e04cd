"""Withdrawing in the chat with a real database and Redis: ``提现`` shows what is available,
``提现 50`` requests a withdrawal through the real service, refusals are said plainly."""
from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from commissions.plan_store import save_plan
from core.actors import Actor
from core.models import Distributor, ReferralBinding, Role, Withdrawal
from tests.support.chat import say
from tests.support.factories import make_user
from tests.support.money import assert_ledger_clean, complete, settle_after
from tests.support.payments import install_fake_gateway, paid_order
from tests.support.referral_chat import user_by_openid
from webapp.extensions import db

OPENID = "o-chat-withdraw"


def test_withdraw_in_the_chat(any_app: Flask):
    from referral.domain.codes import new_invite_code

    install_fake_gateway(any_app)
    assert "申请分销" in say(OPENID, "提现")  # not a distributor yet
    me = user_by_openid(OPENID)
    operator = make_user(Role.OPERATOR)
    save_plan(db.session, Actor.of(operator),
              {"rates_bp": [1000], "levels": 1, "base": "margin", "return_window_days": 7}, "t")
    db.session.add(Distributor(user_id=me.id, status="active", invite_code=new_invite_code()))
    buyer = make_user()
    db.session.add(ReferralBinding(user_id=buyer.id, upline_id=me.id, source="qr"))
    db.session.commit()
    assert "现在没有可提现的佣金" in say(OPENID, "提现")
    order = paid_order(any_app, buyer, (100_000, 1))  # margin 50 000: 10 % is ¥50.00
    complete(order)
    assert settle_after(8) == 1

    shown = say(OPENID, "提现")
    assert "可提现 ¥50.00" in shown and "提现 50" in shown
    assert "可提现余额不够：现在可提现 ¥50.00" in say(OPENID, "提现 60")
    assert "单次提现最低 ¥1.00" in say(OPENID, "提现 0.5")
    assert "金额看不懂" in say(OPENID, "提现 abc")
    assert db.session.scalar(select(func.count()).select_from(Withdrawal)) == 0

    done = say(OPENID, "提现 12.5")
    assert "提现申请已提交：¥12.50" in done and "剩余可提现 ¥37.50" in done
    made = db.session.scalars(select(Withdrawal)).one()
    assert (made.amount_fen, made.channel, made.openid) == (1250, "wechat", OPENID)
    assert made.number in done
    assert "Still available: ¥0.00" in say(OPENID, "withdraw 37.50")
    assert "提现中 ¥50.00" in say(OPENID, "收益")
    db.session.rollback()
    assert_ledger_clean(order)

    db.session.get(Distributor, me.id).status = "frozen"
    db.session.commit()
    assert "冻结" in say(OPENID, "提现 1")


def test_a_debt_is_said_plainly(any_app: Flask):
    from referral.domain.codes import new_invite_code
    from tests.support.money import refund

    install_fake_gateway(any_app)
    say(OPENID, "菜单")
    me = user_by_openid(OPENID)
    operator = make_user(Role.OPERATOR)
    save_plan(db.session, Actor.of(operator),
              {"rates_bp": [1000], "levels": 1, "base": "margin", "return_window_days": 7}, "t")
    db.session.add(Distributor(user_id=me.id, status="active", invite_code=new_invite_code()))
    buyer = make_user()
    db.session.add(ReferralBinding(user_id=buyer.id, upline_id=me.id, source="qr"))
    db.session.commit()
    order = paid_order(any_app, buyer, (100_000, 1))
    complete(order)
    settle_after(8)
    assert "提现申请已提交：¥30.00" in say(OPENID, "提现 30")
    refund(any_app, Actor.of(operator), order)  # clawback ¥50.00 of an available ¥20.00
    assert "欠款 ¥30.00" in say(OPENID, "提现")
    assert "欠款 ¥30.00" in say(OPENID, "提现 1")
    assert db.session.scalar(select(func.count()).select_from(Withdrawal)) == 1
    db.session.rollback()
    assert_ledger_clean(order)
