"""The cart service's stock rule and how it reports lines that cannot be ordered."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from core.errors import OutOfStock
from core.models import CartItem, ProductStatus, Sku
from shop import cart
from tests.support.factories import make_product, make_user
from tests.support.settings import settings_of
from webapp.extensions import db


def _quantities(user_id: int) -> list[int]:
    db.session.rollback()
    return list(db.session.scalars(
        select(CartItem.quantity).where(CartItem.user_id == user_id).order_by(CartItem.id)))


def test_adding_beyond_the_stock_left_is_refused_with_what_is_left(any_app):
    buyer = make_user()
    _, sku = make_product(stock=120)
    cart.add_to_cart(db.session, settings_of(), buyer.id, sku.id, 120)
    with pytest.raises(OutOfStock) as refused:
        cart.add_to_cart(db.session, settings_of(), buyer.id, sku.id, 1)
    assert refused.value.details == {"sku_id": sku.id, "stock": 120, "in_cart": 120}
    assert "only 120" in refused.value.message
    assert _quantities(buyer.id) == [120]  # nothing changed


def test_a_first_add_beyond_stock_is_refused_too(any_app):
    buyer = make_user()
    _, sku = make_product(stock=3)
    with pytest.raises(OutOfStock) as refused:
        cart.add_to_cart(db.session, settings_of(), buyer.id, sku.id, 4)
    assert refused.value.details["in_cart"] == 0 and refused.value.details["stock"] == 3
    assert _quantities(buyer.id) == []
    cart.add_to_cart(db.session, settings_of(), buyer.id, sku.id, 3)
    assert _quantities(buyer.id) == [3]


def test_setting_a_quantity_beyond_stock_is_refused(any_app):
    buyer = make_user()
    _, sku = make_product(stock=5)
    cart.add_to_cart(db.session, settings_of(), buyer.id, sku.id, 2)
    with pytest.raises(OutOfStock) as refused:
        cart.set_cart_quantity(db.session, settings_of(), buyer.id, sku.id, 6)
    assert refused.value.details["stock"] == 5
    assert _quantities(buyer.id) == [2]
    cart.set_cart_quantity(db.session, settings_of(), buyer.id, sku.id, 5)
    assert _quantities(buyer.id) == [5]


def test_lines_that_cannot_be_ordered_say_why_and_keep_their_price(any_app):
    buyer = make_user()
    _, apple = make_product(price_fen=1000, stock=10)
    _, pear = make_product(price_fen=300, supply_price_fen=200, stock=10)
    off_product, plum = make_product(price_fen=700, stock=10)
    for sku in (apple, pear, plum):
        cart.add_to_cart(db.session, settings_of(), buyer.id, sku.id, 4)
    db.session.get(Sku, pear.id).stock = 3  # sold to someone else meanwhile
    db.session.merge(off_product).status = ProductStatus.INACTIVE  # taken off sale
    db.session.commit()
    lines = {line.sku_id: line for line in cart.view_cart(db.session, buyer.id)}
    assert (lines[apple.id].available, lines[apple.id].stock) == (True, 10)
    assert (lines[pear.id].available, lines[pear.id].off_sale, lines[pear.id].stock) == \
        (False, False, 3)
    assert (lines[plum.id].available, lines[plum.id].off_sale) == (False, True)
    assert [line.amount_fen for line in lines.values()] == [4000, 1200, 2800]  # never zeroed
    assert cart.orderable_total_fen(list(lines.values())) == 4000
