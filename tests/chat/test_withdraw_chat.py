"""Withdrawing in the chat with a real database and Redis: ``提现`` shows what is available,
``提现 50`` requests a withdrawal through the real service, refusals are said plainly."""
from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from commissions.plan_store import save_plan
from core.actors import Actor
from core.models import Distributor, ReferralBinding, Role, Withdrawal
from tests.chat.test_referral_chat import send, user_by_openid
from tests.commissions.support import assert_ledger_clean, complete, paid_order, settle_after
from tests.integration.test_payments_support import install_fake_gateway
from tests.support.factories import make_user
from webapp.extensions import db

OPENID = "o-chat-withdraw"


def test_withdraw_in_the_chat(any_app: Flask):
    from referral.domain.codes import new_invite_code

    install_fake_gateway(any_app)
    assert "申请分销" in send("提现", openid=OPENID)  # not a distributor yet
    me = user_by_openid(OPENID)
    operator = make_user(Role.OPERATOR)
    save_plan(db.session, Actor.of(operator),
              {"rates_bp": [1000], "levels": 1, "base": "margin", "return_window_days": 7}, "t")
    db.session.add(Distributor(user_id=me.id, status="active", invite_code=new_invite_code()))
    buyer = make_user()
    db.session.add(ReferralBinding(user_id=buyer.id, upline_id=me.id, source="qr"))
    db.session.commit()
    assert "现在没有可提现的佣金" in send("提现", openid=OPENID)
    order = paid_order(any_app, buyer, (100_000, 1))  # margin 50 000: 10 % is ¥50.00
    complete(order)
    assert settle_after(8) == 1

    shown = send("提现", openid=OPENID)
    assert "可提现 ¥50.00" in shown and "提现 50" in shown
    assert "可提现余额不够：现在可提现 ¥50.00" in send("提现 60", openid=OPENID)
    assert "单次提现最低 ¥1.00" in send("提现 0.5", openid=OPENID)
    assert "金额看不懂" in send("提现 abc", openid=OPENID)
    assert db.session.scalar(select(func.count()).select_from(Withdrawal)) == 0

    done = send("提现 12.5", openid=OPENID)
    assert "提现申请已提交：¥12.50" in done and "剩余可提现 ¥37.50" in done
    made = db.session.scalars(select(Withdrawal)).one()
    assert (made.amount_fen, made.channel, made.openid) == (1250, "wechat", OPENID)
    assert made.number in done
    assert "Still available: ¥0.00" in send("withdraw 37.50", openid=OPENID)
    assert "提现中 ¥50.00" in send("收益", openid=OPENID)
    db.session.rollback()
    assert_ledger_clean(order)

    db.session.get(Distributor, me.id).status = "frozen"
    db.session.commit()
    assert "冻结" in send("提现 1", openid=OPENID)


def test_a_debt_is_said_plainly(any_app: Flask):
    from referral.domain.codes import new_invite_code
    from tests.commissions.support import refund

    install_fake_gateway(any_app)
    send("菜单", openid=OPENID)
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
    assert "提现申请已提交：¥30.00" in send("提现 30", openid=OPENID)
    refund(any_app, Actor.of(operator), order)  # clawback ¥50.00 of an available ¥20.00
    assert "欠款 ¥30.00" in send("提现", openid=OPENID)
    assert "欠款 ¥30.00" in send("提现 1", openid=OPENID)
    assert db.session.scalar(select(func.count()).select_from(Withdrawal)) == 1
    db.session.rollback()
    assert_ledger_clean(order)
