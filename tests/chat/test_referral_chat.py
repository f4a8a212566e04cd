"""The chat's referral side with a real database and Redis: QR binding, invite codes typed
in the chat, applying, and the distributor's tools (code, QR, poster, team).

Each test talks to ``storefront.storefront.respond`` as the WeChat adapter does.
Most tests put stand-ins for ``referral.qrcodes``, ``referral.posters`` and
``referral.links`` in place (``install_fake_tools``) so the chat's side is tested
on its own; the last ones use the real modules (the QR code's happy path, which
needs WeChat, is in tests/e2e/test_chat_referral.py against the sandbox).
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from bots.messages import ArticleReply, Inbound, InboundKind, TextReply
from core.actors import Actor
from core.clock import utcnow
from core.models import Distributor, Order, OrderReferral, ReferralBinding, Role
from core.queues import NOTIFICATIONS, get_queue
from referral.settings import change_rules
from shop import checkout
from shop.domain.addresses import validate_address
from storefront.features.context import china_month
from tests.support.factories import (
    APPROVED,
    make_category,
    make_distributor,
    make_product,
    make_supplier,
    make_user,
)
from tests.support.payments import pay_order
from tests.support.referral_chat import (
    FakeReferralTools,
    audit_rows,
    binding_of,
    install_fake_tools,
    invite_code_of,
    make_distributor_of,
    user_by_openid,
)
from tests.support.settings import settings_of
from webapp.extensions import db
from webapp.redis_conn import get_redis

OPENID = "o-chat-referral"


def send(text: str = "", openid: str = OPENID, kind: InboundKind = InboundKind.TEXT,
         scene: str | None = None) -> str:
    """One message or event; the replies' text joined (cards as title, description, picture)."""
    replies = respond_to(text, openid, kind, scene)
    return "\n".join(
        r.text if isinstance(r, TextReply) else f"{r.title}\n{r.description}\n{r.image_url}"
        for r in replies
    )


def respond_to(text: str = "", openid: str = OPENID, kind: InboundKind = InboundKind.TEXT,
               scene: str | None = None) -> list[Any]:
    """The replies themselves."""
    from storefront.storefront import respond

    replies = respond(db.session, openid, Inbound(kind, text, scene))
    db.session.rollback()  # end the request's read snapshot, as the web request would
    return replies


def subscribe(distributor_id: int, openid: str = OPENID) -> str:
    """Follow through a distributor's QR code (the adapter drops WeChat's "qrscene_")."""
    return send(openid=openid, kind=InboundKind.SUBSCRIBE, scene=f"dist_{distributor_id}")


def scan(distributor_id: int, openid: str = OPENID) -> str:
    """A follower scans a distributor's QR code."""
    return send(openid=openid, kind=InboundKind.SCAN, scene=f"dist_{distributor_id}")


def set_rules(**changes: Any) -> None:
    """The operator changes the referral settings."""
    operator = make_user(Role.OPERATOR)
    change_rules(db.session, Actor.of(operator), changes)


@pytest.fixture
def tools(monkeypatch: pytest.MonkeyPatch) -> FakeReferralTools:
    """Stand-ins for referral.qrcodes, referral.posters and referral.links."""
    return install_fake_tools(monkeypatch)


# -- binding by QR code ---------------------------------------------------------------------


def test_subscribing_through_a_qr_code_binds_and_welcomes_with_the_name(any_app: Flask):
    wang = make_distributor(nickname="小王")
    answer = subscribe(wang.id)
    assert "欢迎关注" in answer and "「小王」推荐你" in answer and "1. 商品分类" in answer
    buyer = user_by_openid(OPENID)
    binding = binding_of(buyer.id)
    assert binding is not None
    assert (binding.upline_id, binding.source, binding.scene) == (
        wang.id, "qr", f"qrscene_dist_{wang.id}")
    rows = audit_rows("referral.bound", buyer.id)
    assert len(rows) == 1 and rows[0].details["source"] == "qr"


def test_the_same_scan_handled_twice_binds_once(any_app: Flask):
    """The webhook drops WeChat's retries; should one get through, the service keeps it once."""
    wang = make_distributor(nickname="小王")
    first, second = subscribe(wang.id), subscribe(wang.id)
    assert "「小王」" in first and "「小王」" in second  # still that distributor's customer
    buyer = user_by_openid(OPENID)
    assert "「小王」" in scan(wang.id)
    assert len(audit_rows("referral.bound", buyer.id)) == 1
    binding = binding_of(buyer.id)
    assert binding is not None and binding.scene == f"qrscene_dist_{wang.id}"


def test_a_follower_scanning_binds_with_the_scan_scene(any_app: Flask):
    wang = make_distributor(nickname="小王")
    send(kind=InboundKind.SUBSCRIBE)
    assert binding_of(user_by_openid(OPENID).id) is None
    answer = scan(wang.id)
    assert "欢迎回来" in answer and "「小王」" in answer
    binding = binding_of(user_by_openid(OPENID).id)
    assert binding is not None and (binding.source, binding.scene) == ("qr", f"dist_{wang.id}")


def test_first_touch_keeps_the_first_distributor_and_does_not_claim_the_second(any_app: Flask):
    wang, li = make_distributor(nickname="小王"), make_distributor(nickname="老李")
    subscribe(wang.id)
    answer = scan(li.id)
    assert "欢迎回来" in answer and "老李" not in answer and "推荐" not in answer
    buyer = user_by_openid(OPENID)
    binding = binding_of(buyer.id)
    assert binding is not None and binding.upline_id == wang.id
    assert len(audit_rows("referral.bound", buyer.id)) == 1


def test_last_touch_moves_the_follower_and_names_the_new_distributor(any_app: Flask):
    set_rules(binding_mode="last_touch")
    wang, li = make_distributor(nickname="小王"), make_distributor(nickname="老李")
    subscribe(wang.id)
    assert "「老李」" in scan(li.id)
    binding = binding_of(user_by_openid(OPENID).id)
    assert binding is not None and binding.upline_id == li.id


@pytest.mark.parametrize("status", ["frozen", "revoked", "pending"])
def test_an_inactive_distributors_code_welcomes_plainly_and_records_the_refusal(
    any_app: Flask, status: str,
):
    frozen = make_distributor(status, nickname="小冻", with_role=status in APPROVED)
    answer = subscribe(frozen.id)
    assert "欢迎关注" in answer and "小冻" not in answer and "推荐" not in answer
    buyer = user_by_openid(OPENID)
    assert binding_of(buyer.id) is None
    refused = audit_rows("referral.bind_refused", buyer.id)
    assert [r.details["refusal"] for r in refused] == ["distributor_inactive"]
    assert refused[0].details["source"] == "qr"


def test_scanning_ones_own_code_does_not_bind(any_app: Flask):
    send(kind=InboundKind.SUBSCRIBE)
    me = user_by_openid(OPENID)
    make_distributor_of(me.id)
    answer = scan(me.id)
    assert "欢迎回来" in answer and "推荐" not in answer
    assert binding_of(me.id) is None
    assert [r.details["refusal"] for r in audit_rows("referral.bind_refused", me.id)] == ["self"]


def test_a_consumers_or_unknown_users_scene_welcomes_plainly(any_app: Flask):
    consumer = make_user()
    assert "推荐" not in subscribe(consumer.id)  # a user with no distributor record
    buyer = user_by_openid(OPENID)
    assert [r.details["refusal"] for r in audit_rows("referral.bind_refused", buyer.id)] == [
        "not_distributor"]
    assert "欢迎回来" in scan(999_999)  # nobody (or a deleted user): nothing to audit
    assert "欢迎回来" in send(kind=InboundKind.SCAN, scene="dist_abc")  # not a referral code
    assert binding_of(buyer.id) is None
    assert len(audit_rows("referral.bind_refused", buyer.id)) == 1


def test_a_binding_that_breaks_is_still_a_welcome(any_app: Flask, monkeypatch):
    from storefront.features import binding

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database fell over")

    monkeypatch.setattr(binding, "bind_by_scene", broken)
    wang = make_distributor(nickname="小王")
    answer = subscribe(wang.id)
    assert "欢迎关注" in answer and "稍后再试" not in answer
    assert "可以这样跟我说" in send("帮助")  # the conversation goes on


# -- invite codes typed in the chat ---------------------------------------------------------


def test_typing_an_invite_code_binds(any_app: Flask):
    wang = make_distributor(nickname="小王")
    code = invite_code_of(wang.id)
    send(kind=InboundKind.SUBSCRIBE)
    answer = send(f"邀请码 {code.lower()}")
    assert "绑定成功" in answer and "「小王」" in answer
    buyer = user_by_openid(OPENID)
    binding = binding_of(buyer.id)
    assert binding is not None
    assert (binding.upline_id, binding.source, binding.scene) == (wang.id, "invite_code", code)
    assert "已经是「小王」" in send(f"绑定 {code}")
    assert "already your referrer" in send(f"code {code}")
    assert len(audit_rows("referral.bound", buyer.id)) == 1


def test_an_invite_code_after_a_first_binding_keeps_the_first(any_app: Flask):
    wang, li = make_distributor(nickname="小王"), make_distributor(nickname="老李")
    subscribe(wang.id)
    answer = send(f"invite {invite_code_of(li.id)}")
    assert "You are already with 小王" in answer and "老李" not in answer
    binding = binding_of(user_by_openid(OPENID).id)
    assert binding is not None and binding.upline_id == wang.id


def test_invite_code_refusals(any_app: Flask):
    frozen = make_distributor("frozen", nickname="小冻", with_role=True)
    send(kind=InboundKind.SUBSCRIBE)
    me = user_by_openid(OPENID)
    own = make_distributor_of(me.id)
    assert "没有找到这个邀请码" in send("绑定 ZZZZ2345")
    assert "8 位字母和数字" in send("绑定 ABC")
    assert "你自己的邀请码" in send(f"绑定 {own}")
    assert "不能接受绑定" in send(f"绑定 {invite_code_of(frozen.id)}")
    assert binding_of(me.id) is None
    refusals = [r.details["refusal"] for r in audit_rows("referral.bind_refused", me.id)]
    assert refusals == ["self", "distributor_inactive"]


# -- applying -------------------------------------------------------------------------------


def test_applying_with_manual_approval(any_app: Flask):
    answer = send("申请分销")
    assert "申请已提交" in answer and "等待运营审核" in answer
    me = user_by_openid(OPENID)
    db.session.rollback()
    assert db.session.get(Distributor, me.id).status == "pending"
    assert "正在等待运营审核" in send("申请分销")
    assert "正在审核" in send("邀请码")
    db.session.execute(update(Distributor).values(status="active"))
    db.session.commit()
    assert "already a distributor" in send("APPLY")


def test_applying_when_everyone_may_is_approved_at_once(any_app: Flask, tools):
    set_rules(eligibility="everyone")
    answer = send("申请分销")
    assert "恭喜，你已成为分销员" in answer and "「邀请码」" in answer
    me = user_by_openid(OPENID)
    assert me.has_role(Role.DISTRIBUTOR)
    code = invite_code_of(me.id)
    shown = send("邀请码")
    assert f"你的邀请码：{code}" in shown and f"http://chatshop.test/share/{code}" in shown


def test_applying_below_the_spend_threshold_says_how_much_is_missing(any_app: Flask):
    set_rules(eligibility="spend", eligibility_spend_fen=10000)
    answer = send("apply")
    assert "¥100.00" in answer and "¥100.00 to go" in answer


def test_a_revoked_distributor_is_told_to_contact_the_operator(any_app: Flask):
    send(kind=InboundKind.SUBSCRIBE)
    make_distributor_of(user_by_openid(OPENID).id, "revoked")
    assert "联系运营" in send("申请分销")
    assert "已被取消" in send("我的二维码")
    assert "contact the operator" in send("apply")


# -- the distributor's tools ----------------------------------------------------------------


def test_non_distributors_are_told_to_apply_first(any_app: Flask, tools):
    for command in ("邀请码", "我的二维码", "海报", "我的团队"):
        answer = send(command)
        assert "还不是分销员" in answer and "申请分销" in answer, command
    assert "not a distributor yet" in send("my code")
    assert tools.qr_calls == [] and tools.posters == []


def test_a_frozen_distributor_gets_their_status(any_app: Flask, tools):
    send(kind=InboundKind.SUBSCRIBE)
    make_distributor_of(user_by_openid(OPENID).id, "frozen")
    for command in ("邀请码", "二维码", "海报", "团队"):
        assert "已被冻结" in send(command), command
    assert tools.qr_calls == [] and tools.posters == []


def test_my_qr_code_is_a_news_card_with_the_picture(any_app: Flask, tools):
    send(kind=InboundKind.SUBSCRIBE)
    me = user_by_openid(OPENID)
    code = make_distributor_of(me.id)
    (card,) = respond_to("我的二维码")
    assert isinstance(card, ArticleReply)
    assert card.image_url == card.url == f"http://qr.test/show?ticket=ticket-{me.id}"
    assert code in card.description
    assert tools.qr_calls == [me.id]


def test_a_poster_is_requested_for_later(any_app: Flask, tools):
    send(kind=InboundKind.SUBSCRIBE)
    me = user_by_openid(OPENID)
    make_distributor_of(me.id)
    assert "海报正在生成" in send("海报")
    assert "will arrive in a moment" in send("poster")
    assert tools.posters == [(me.id, OPENID), (me.id, OPENID)]


def _paid_order(app: Flask, buyer_id: int, sku_id: int, *, days_ago: int = 0) -> None:
    """A paid order of ``buyer_id`` through the pay notify (which snapshots the chain)."""
    address = validate_address("张三", "13800138000", "上海市", "浦东新区世纪大道100号")
    order = checkout.checkout(db.session, settings_of(), buyer_id, [(sku_id, 1)], address)
    number = pay_order(app, order.number).number
    if days_ago:
        db.session.execute(update(Order).where(Order.number == number)
                           .values(paid_at=utcnow() - timedelta(days=days_ago)))
        db.session.commit()
    db.session.rollback()


def test_my_team_counts_people_and_this_months_sales_by_level(any_app: Flask):
    send(kind=InboundKind.SUBSCRIBE)
    me = user_by_openid(OPENID)
    make_distributor_of(me.id)
    direct = make_distributor(nickname="直属")
    db.session.add(ReferralBinding(user_id=direct.id, upline_id=me.id, source="qr"))
    second = make_user()
    db.session.add(ReferralBinding(user_id=second.id, upline_id=direct.id, source="qr"))
    db.session.commit()
    _, sku = make_product(make_supplier(), make_category(), price_fen=12800, stock=10)
    _paid_order(any_app, direct.id, sku.id)  # level 1 for me... and level 0 for them
    _paid_order(any_app, second.id, sku.id)  # level 2 for me
    _paid_order(any_app, second.id, sku.id, days_ago=40)  # not this month
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(OrderReferral)
                             .where(OrderReferral.distributor_id == me.id)) == 3
    answer = send("我的团队")
    assert "直属成员 1 人，团队共 2 人" in answer
    year, month, _, _ = china_month(utcnow())
    assert f"{year} 年 {month} 月团队销售" in answer
    assert "一级：1 单，¥128.00" in answer and "二级：1 单，¥128.00" in answer
    assert "合计 ¥256.00" in answer
    english = send("my team")
    assert "1 direct member(s), 2 in the whole team" in english
    assert "Level 2: 1 order(s), ¥128.00" in english


def test_earnings_show_the_ledger_balances_and_nothing_to_withdraw_yet(any_app: Flask):
    from referral.domain.codes import new_invite_code
    from tests.support.payments import install_fake_gateway, paid_order

    install_fake_gateway(any_app)
    assert "申请分销" in send("我的收益")  # not a distributor yet
    me = user_by_openid(OPENID)
    db.session.add(Distributor(user_id=me.id, status="active", invite_code=new_invite_code()))
    buyer = make_user()
    db.session.add(ReferralBinding(user_id=buyer.id, upline_id=me.id, source="qr"))
    db.session.commit()
    assert "还没有佣金记录" in send("我的收益")
    order = paid_order(any_app, buyer, (10_000, 1))  # margin 5 000 fen: 10 % is ¥5.00
    answer = send("我的收益")
    assert "待结算 ¥5.00" in answer and "可提现 ¥0.00" in answer
    assert f"订单 {order.number} 一级 ¥5.00（待结算）" in answer
    assert "Pending ¥5.00" in send("earnings")
    assert "Nothing to withdraw yet" in send("withdraw")  # issue 6: withdrawals exist now


def test_the_distributor_menu_numbers_reach_the_tools(any_app: Flask, tools):
    send(kind=InboundKind.SUBSCRIBE)
    me = user_by_openid(OPENID)
    code = make_distributor_of(me.id)
    assert "7. 提现" in send("分销")
    assert code in send("2")
    send("分销")
    assert isinstance(respond_to("3")[0], ArticleReply)
    send("分销")
    assert "海报正在生成" in send("4")
    send("分销")
    assert "直属成员 0 人" in send("5")


def test_china_month_bounds():
    from datetime import UTC, datetime

    # 2026-11-30 20:00 UTC is already December 1st in China.
    year, month, start, end = china_month(datetime(2026, 11, 30, 20, 0, tzinfo=UTC))
    assert (year, month) == (2026, 12)
    assert start == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert end == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)


# -- with the real referral.links / posters / qrcodes -----------------------------------------


def test_my_code_with_the_real_share_link(any_app: Flask):
    send(kind=InboundKind.SUBSCRIBE)
    code = make_distributor_of(user_by_openid(OPENID).id)
    assert f"http://chatshop.test/r/{code}" in send("邀请码")


def test_a_poster_request_queues_the_real_job_once_a_day(any_app: Flask):
    from referral.posters import poster_job_id

    send(kind=InboundKind.SUBSCRIBE)
    me = user_by_openid(OPENID)
    make_distributor_of(me.id)
    assert "海报正在生成" in send("海报")
    assert "海报正在生成" in send("海报")
    queue = get_queue(NOTIFICATIONS, get_redis())
    assert queue.job_ids == [poster_job_id(me.id)]
    job = queue.fetch_job(poster_job_id(me.id))
    assert job is not None and job.args == (me.id, OPENID)


def test_a_qr_code_wechat_cannot_make_is_explained(any_app: Flask):
    any_app.config["WECHAT_API_BASE_URL"] = "http://127.0.0.1:9/"  # nothing listens there
    send(kind=InboundKind.SUBSCRIBE)
    make_distributor_of(user_by_openid(OPENID).id)
    answer = send("二维码")
    assert "二维码暂时生成不了" in answer and "邀请码" in answer
