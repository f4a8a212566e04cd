"""The chat storefront end to end below HTTP: ``respond`` with a real database and Redis.

Each test talks to ``storefront.storefront.respond`` exactly as the WeChat
adapter does (an Inbound per message, inside an app context) and then checks
the database: orders, stock, cart, addresses, refunds.
"""
from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from bots.dialogue.keys import MENU_CART, MENU_CATEGORIES
from bots.messages import ArticleReply, Inbound, InboundKind
from core.models import (
    Address,
    CartItem,
    Order,
    OrderStatus,
    Refund,
    Shipment,
    Sku,
    User,
)
from storefront.state_store import StateStore
from storefront.storefront import respond, state_store
from tests.support.chat import count, say
from tests.support.factories import (
    make_category,
    make_distributor,
    make_product,
    make_supplier,
    make_user,
)
from tests.support.payments import install_fake_gateway, pay_order
from tests.support.settings import reconfigure
from webapp.extensions import db
from webapp.redis_conn import get_redis

OPENID = "o-chat-buyer"


def send(text: str, openid: str = OPENID, kind: InboundKind = InboundKind.TEXT,
         scene: str | None = None) -> str:
    """Send one message; the replies' text joined (article cards as title + description)."""
    return say(openid, text, kind, scene)


def stock(sku_id: int) -> int:
    db.session.rollback()
    return db.session.get(Sku, sku_id).stock


def buyer() -> User:
    db.session.rollback()
    return db.session.scalar(select(User).where(User.openid == OPENID))


@pytest.fixture
def shop(any_app: Flask) -> dict[str, Any]:
    """A small catalogue: fruit (7 apples, 5 per page) and tea; a distributor named 小王."""
    supplier = make_supplier()
    fruit = make_category("水果")
    make_category("空分类")  # no products: not offered
    tea = make_category("茶叶")
    apples = [
        make_product(supplier, fruit, title=f"苹果{n}", price_fen=1230 + n, stock=10)
        for n in range(1, 8)
    ]
    apples[0][0].image_url = "/static/img/apple1.jpg"
    apples[0][0].description = "脆甜多汁"
    db.session.commit()
    longjing, _ = make_product(supplier, tea, title="龙井茶", price_fen=5000, stock=3)
    distributor = make_distributor(nickname="小王")
    return {"apple": apples[0][1].id, "apple_product": apples[0][0].id, "tea": longjing.id,
            "distributor": distributor.id}


def buy_two_apples_with_a_new_address(shop: dict[str, Any]) -> str:
    """The whole purchase dialogue up to the order; returns the last reply."""
    scene = f"qrscene_dist_{shop['distributor']}"
    assert "小王" in send("", kind=InboundKind.SUBSCRIBE, scene=scene)
    assert "1. 水果\n2. 茶叶" in send("分类")
    page = send("1")
    assert "第 1/2 页" in page and "1. 苹果1 ¥12.31" in page
    card = send("1")
    assert "苹果1" in card and "¥12.31" in card and "库存 10 件" in card
    assert "http://chatshop.test/static/img/apple1.jpg" in card
    assert "苹果1 × 2" in send("加购 2")
    assert "1. 苹果1 ¥12.31 × 2 = ¥24.62" in send("购物车")
    assert "收货人姓名" in send("结算")
    assert "手机号" in send("张三")
    assert "11 位手机号" in send("12345")
    assert "详细收货地址" in send("138 0013 8000")
    assert "5 到 200" in send("上海")
    confirm = send("上海市浦东新区世纪大道100号")
    assert "请确认订单" in confirm and "¥24.62" in confirm and "138****8000" in confirm
    return send("确认")


def test_a_whole_purchase_in_the_chat(shop):
    answer = buy_two_apples_with_a_new_address(shop)
    order = db.session.scalar(select(Order))
    assert order is not None
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.total_fen == 2462
    assert order.buyer_id == buyer().id
    assert order.recipient == "张三" and order.phone == "13800138000"
    assert f"http://chatshop.test/h5/pay/{order.number}" in answer
    assert "下单成功" in answer and "¥24.62" in answer
    assert stock(shop["apple"]) == 8  # reserved
    assert count(CartItem) == 0
    assert count(Address, user_id=order.buyer_id) == 1  # saved for next time


def test_confirming_twice_makes_one_order(shop):
    buy_two_apples_with_a_new_address(shop)
    again = send("确认")
    assert "已经提交过了" in again and "/h5/pay/" in again
    assert count(Order) == 1
    assert stock(shop["apple"]) == 8


def test_a_double_tap_that_read_the_same_state_makes_one_order(shop):
    """Two confirmations that both saw the confirm step: the checkout token decides."""
    send("分类"), send("1"), send("1"), send("加购 2"), send("结算")
    send("张三"), send("13800138000"), send("上海市浦东新区世纪大道100号")
    store = state_store()
    at_confirm = store.load(OPENID)
    first = send("确认")
    store.save(OPENID, at_confirm)  # the second tap was read before the first was saved
    second = send("确认")
    number = db.session.scalar(select(Order.number))
    assert count(Order) == 1
    assert number in first and number in second
    assert "不会重复下单" in second


def test_simultaneous_confirmations_make_one_order(shop, any_app):
    send("分类"), send("1"), send("1"), send("加购 1"), send("结算")
    send("张三"), send("13800138000"), send("上海市浦东新区世纪大道100号")
    answers: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def tap() -> None:
        try:
            with any_app.app_context():
                start.wait()
                answers.append(send("确认"))
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=tap) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert count(Order) == 1
    assert stock(shop["apple"]) == 9
    assert sum("下单成功" in a for a in answers) == 1


def test_a_saved_address_is_offered_next_time(shop):
    buy_two_apples_with_a_new_address(shop)
    send("搜索 龙井")
    send("1")
    send("加购 1")
    choose = send("结算")
    assert "1. 张三 138****8000 上海市浦东新区世纪大道100号" in choose and "0. 填写新地址" in choose
    assert "请确认订单" in send("1")
    answer = send("confirm")
    assert "Order placed" in answer
    assert count(Order) == 2
    assert stock(shop["tea"]) == 2


def test_orders_list_and_detail_and_cancel(shop):
    buy_two_apples_with_a_new_address(shop)
    number = db.session.scalar(select(Order.number))
    listing = send("订单")
    assert f"1. {number} 待付款 ¥24.62" in listing
    detail = send("1")
    assert f"订单 {number}（待付款）" in detail and "苹果1 × 2" in detail
    assert f"/h5/pay/{number}" in detail
    assert "已取消" in send("取消 1")
    db.session.rollback()
    assert db.session.scalar(select(Order.status)) == OrderStatus.CANCELLED
    assert stock(shop["apple"]) == 10  # released
    assert "已取消" in send("订单")
    again = send("取消 1")
    assert "只有待付款的订单可以取消" in again and "已取消" in again


def test_refund_request_with_a_reason(shop, any_app):
    fake = install_fake_gateway(any_app)
    buy_two_apples_with_a_new_address(shop)
    number = db.session.scalar(select(Order.number))
    assert "找不到这个订单" in send("退款 1 不想要了")  # no order list shown yet
    send("订单")
    assert "还没有付款" in send("退款 1 不想要了")
    pay_order(any_app, number)
    listing = send("退款")
    assert "已付款" in listing and "退款 序号 原因" in listing
    assert "退款原因" in send("退款 1")
    answer = send("买错了")
    assert "退款申请已提交" in answer and "¥24.62" in answer
    refund = db.session.scalar(select(Refund))
    assert refund is not None and refund.reason == "买错了" and refund.amount_fen == 2462
    assert db.session.scalar(select(Order.status)) == OrderStatus.REFUNDING
    assert fake.calls
    db.session.rollback()
    busy = send("退款 1 再来一次")
    assert "退款中" in busy and "不能申请退款" in busy
    assert count(Refund) == 1


def test_refund_refused_once_shipped(shop, any_app):
    install_fake_gateway(any_app)
    buy_two_apples_with_a_new_address(shop)
    order = db.session.scalar(select(Order))
    number, order_id = order.number, order.id
    pay_order(any_app, number)
    supplier_id = db.session.scalar(select(Order)).lines[0].supplier_id
    db.session.add(Shipment(order_id=order_id, supplier_id=supplier_id, carrier="SF",
                            tracking_number="SF1"))
    db.session.commit()
    send("订单")
    answer = send("refund 1 too late")
    assert "already shipped" in answer and "customer service" in answer
    assert count(Refund) == 0


def test_menu_clicks_and_paging(shop):
    assert "1. 水果" in send(MENU_CATEGORIES, kind=InboundKind.CLICK)
    send("1")
    second = send("下一页")
    assert "第 2/2 页" in second and "1. 苹果6" in second and "2. 苹果7" in second
    assert "最后一页" in send("下一页")
    assert "第 1/2 页" in send("上一页")
    assert "购物车是空的" in send(MENU_CART, kind=InboundKind.CLICK)


def test_keyword_search(shop):
    found = send("search 苹果")
    assert "Results for" in found and "(page 1/2)" in found
    assert "Nothing found" in send("search 榴莲")
    assert "龙井茶 ¥50.00" in send("搜索 龙井")


def test_cart_editing(shop):
    send("搜索 龙井"), send("1"), send("加购 2")
    send("搜索 苹果1"), send("1"), send("加购 1")
    cart = send("购物车")
    assert "1. 龙井茶 ¥50.00 × 2 = ¥100.00" in cart and "合计 ¥112.31" in cart
    assert "× 3" in send("改 1 3")
    assert "库存不足" not in send("购物车")
    send("删 2")
    assert count(CartItem) == 1
    assert "购物车是空的" in send("清空")
    assert count(CartItem) == 0


def test_adding_more_than_in_stock_is_refused(shop):
    send("搜索 龙井"), send("1")
    assert "只剩 3 件" in send("加购 4")
    assert "正整数" in send("加购 0")
    assert count(CartItem) == 0


def test_an_expired_checkout_says_so(shop):
    send("搜索 龙井"), send("1"), send("加购 1"), send("结算")
    store = state_store()
    state = store.load(OPENID)
    state.touched -= 3600
    store.save(OPENID, state)
    assert "超过 30 分钟" in send("张三")
    assert count(Order) == 0
    assert "收货人姓名" in send("结算")  # and starting again works


def test_state_lives_in_redis_with_a_ttl(shop):
    send("分类")
    ttl = get_redis().ttl(f"chat:state:{OPENID}")
    assert 0 < ttl <= 24 * 3600
    assert state_store().load(OPENID).listing["kind"] == "categories"


def test_unknown_input_and_media_get_help(shop):
    assert "没看懂" in send("天气怎么样")
    assert "只看得懂文字" in send("image", kind=InboundKind.MEDIA)
    assert "可以这样跟我说" in send("")
    assert send("http://x", kind=InboundKind.VIEW) == ""


def test_unsubscribe_clears_the_state_and_marks_the_user(shop):
    send("分类")
    assert respond(db.session, OPENID, Inbound(InboundKind.UNSUBSCRIBE)) == []
    db.session.rollback()
    assert get_redis().get(f"chat:state:{OPENID}") is None
    assert buyer().subscribed is False
    send("", kind=InboundKind.SUBSCRIBE)
    assert buyer().subscribed is True


def test_a_bad_openid_gets_help_not_an_error(shop):
    replies = respond(db.session, "", Inbound(InboundKind.TEXT, "菜单"))
    assert replies and "可以这样跟我说" in replies[0].text


def test_a_user_still_being_answered_gets_a_polite_busy(shop, any_app):
    reconfigure(any_app, CHAT_LOCK_WAIT_SECONDS=0.1)
    store = StateStore(get_redis())
    with store.conversation(OPENID):
        answer = send("菜单")
    assert "稍后再试" in answer
    assert "1. 商品分类" in send("菜单")


def test_an_unexpected_failure_is_an_apology(shop, monkeypatch):
    from storefront.features import cart

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database fell over")

    monkeypatch.setattr(cart.cart_service, "view_cart", broken)
    assert "稍后再试" in send("购物车")
    assert "1. 水果" in send("分类")  # the conversation goes on


def test_scene_naming_a_non_distributor_greets_plainly(shop):
    consumer = make_user()
    answer = send("", kind=InboundKind.SUBSCRIBE, scene=f"qrscene_dist_{consumer.id}")
    assert "欢迎关注" in answer and "推荐" not in answer
    assert "推荐" not in send("", kind=InboundKind.SCAN, scene="dist_999999")


def test_product_card_is_a_news_reply(shop):
    send("分类"), send("1")
    replies = respond(db.session, OPENID, Inbound(InboundKind.TEXT, "1"))
    card = replies[0]
    assert isinstance(card, ArticleReply)
    assert card.image_url == "http://chatshop.test/static/img/apple1.jpg"
    assert card.url.startswith("http://chatshop.test/")
    assert "加购" in replies[1].text
