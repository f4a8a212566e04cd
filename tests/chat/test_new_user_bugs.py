"""What a new user tripped over in the chat (issue 9 §5), end to end with the real services.

Stock: adding beyond what is left is refused with the number left, and a cart never
reads "合计 ¥0.00" for lines it has. Sizes: "加购 2" on a product with several SKUs
asks which one. Addresses: each step is judged on its own (a phone number is not a
street), common phone formats are accepted, and nothing is saved before the order.
"""
from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from core.models import Address, CartItem, Order, Product, ProductStatus, Sku, User
from tests.support.chat import count, say
from tests.support.factories import make_category, make_supplier
from webapp.extensions import db

OPENID = "o-chat-buyer"


def send(text: str) -> str:
    """The buyer says ``text``; the replies as text."""
    return say(OPENID, text)


def buyer() -> User:
    """The chatting buyer, read afresh."""
    db.session.rollback()
    found = db.session.scalar(select(User).where(User.openid == OPENID))
    assert found is not None
    return found


@pytest.fixture
def tees(any_app: Flask) -> dict[str, int]:
    """One product, a T-shirt, in two sizes: M (5 left, ¥59.00) and L (120 left, ¥69.00)."""
    supplier = make_supplier()
    clothes = make_category("服装")
    product = Product(supplier_id=supplier.id, category_id=clothes.id, title="T恤",
                      status=ProductStatus.ACTIVE)
    medium = Sku(code="TEE-M", name="M", price_fen=5900, supply_price_fen=3000, stock=5)
    large = Sku(code="TEE-L", name="L", price_fen=6900, supply_price_fen=3500, stock=120)
    product.skus = [medium, large]
    db.session.add(product)
    db.session.commit()
    return {"product": product.id, "M": medium.id, "L": large.id}


def _show_tee() -> None:
    assert "T恤" in send("搜索 T恤")
    card = send("1")
    assert "1. M ¥59.00（库存" in card and "2. L ¥69.00（库存" in card


def _in_cart() -> dict[int, int]:
    db.session.rollback()
    rows = db.session.execute(select(CartItem.sku_id, CartItem.quantity)).all()
    db.session.rollback()
    return {sku_id: quantity for sku_id, quantity in rows}


def _set_stock(sku_id: int, stock: int) -> None:
    db.session.rollback()
    db.session.get(Sku, sku_id).stock = stock
    db.session.commit()


def test_adding_beyond_the_stock_left_is_refused_with_the_number_left(tees: dict[str, int]):
    _show_tee()
    added = send("加购 2 120")
    assert "已加入购物车：T恤（L） × 120" in added and "合计 ¥8280.00" in added
    refused = send("加购 2 1")
    assert "只剩 120 件" in refused and "已经全部在你的购物车里了" in refused
    assert "¥0.00" not in refused
    assert _in_cart() == {tees["L"]: 120}
    cart = send("购物车")
    assert "1. T恤（L） ¥69.00 × 120 = ¥8280.00" in cart and "合计 ¥8280.00" in cart
    assert "不能下单" not in cart and "¥0.00" not in cart


def test_a_cart_line_short_of_stock_keeps_its_price_and_is_noted(tees: dict[str, int]):
    _show_tee()
    send("加购 1 4"), send("加购 2 10")
    _set_stock(tees["L"], 3)  # other buyers took the rest meanwhile
    cart = send("购物车")
    assert "2. T恤（L） ¥69.00 × 10 = ¥690.00（库存不足：只剩 3 件，不计入合计）" in cart
    assert "可下单合计 ¥236.00（1 项暂不能下单" in cart
    assert "合计 ¥0.00" not in cart
    assert "只剩 3 件" in send("改 2 4")
    assert "购物车已更新" in send("改 2 3")
    assert _in_cart() == {tees["M"]: 4, tees["L"]: 3}


def test_a_quantity_alone_on_a_product_with_sizes_asks_which_size(tees: dict[str, int]):
    _show_tee()
    asked = send("加购 2")
    assert "这个商品有 2 个规格" in asked and "1. M ¥59.00（库存 5）" in asked
    assert "回复规格序号" in asked and _in_cart() == {}
    added = send("2")
    assert "已加入购物车：T恤（L） × 2" in added
    assert _in_cart() == {tees["L"]: 2}
    asked = send("add 1")
    assert "comes in 2 options" in asked
    assert "Added to your cart: T恤（M） × 1" in send("1")
    assert _in_cart() == {tees["L"]: 2, tees["M"]: 1}
    send("add 6")
    assert "only 5 left" in send("1")
    assert _in_cart()[tees["M"]] == 1


def _to_the_phone_step() -> None:
    _show_tee()
    send("加购 1 1")
    assert "收货人姓名" in send("结算")
    assert "看起来是手机号" in send("13912345678")  # the number typed where the name goes
    assert "手机号" in send("张三")


def test_a_phone_number_is_accepted_in_common_formats_and_refused_as_a_street(tees):
    _to_the_phone_step()
    assert "详细收货地址" in send("+86 139 1234 5678")
    refused = send("+86 139 1234 5678")  # typed again at the address step
    assert "这是手机号，不是地址" in refused and "请确认订单" not in refused
    assert "这是手机号" in send("上海市 13912345678")
    confirm = send("上海市浦东新区世纪大道100号")
    assert "请确认订单" in confirm and "张三 139****5678 上海市浦东新区世纪大道100号" in confirm
    assert count(Address) == 0  # not before the order is placed
    assert "下单成功" in send("确认")
    order = db.session.scalar(select(Order))
    assert (order.phone, order.shipping_address) == ("13912345678", "上海市浦东新区世纪大道100号")
    saved = db.session.scalars(select(Address)).all()
    assert [(a.recipient, a.phone, a.detail) for a in saved] == \
        [("张三", "13912345678", "上海市浦东新区世纪大道100号")]
    assert saved[0].user_id == buyer().id


@pytest.mark.parametrize("leave", ["取消", "分类"])
def test_an_abandoned_checkout_saves_no_address(tees: dict[str, int], leave: str):
    _to_the_phone_step()
    send("0086-139-1234-5678")
    assert "请确认订单" in send("上海市浦东新区世纪大道100号")
    send(leave)
    assert count(Address) == 0 and count(Order) == 0
    assert "收货人姓名" in send("结算")  # no saved address to offer either


def test_the_same_typed_address_is_not_saved_twice(tees: dict[str, Any]):
    for _ in range(2):
        _show_tee()
        send("加购 1 1")
        checkout = send("结算")
        if "0. 填写新地址" in checkout:
            send("0")
        send("张三"), send("(+86) 139-1234-5678"), send("上海市浦东新区世纪大道100号")
        assert "下单成功" in send("确认")
    assert count(Order) == 2 and count(Address) == 1
