"""Checkout, cancellation, expiry, shipping and completion on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import timedelta

import pytest

from core.actors import Actor
from core.clock import utcnow
from core.errors import Conflict, InvalidInput, NotFound, OutOfStock
from core.models import AuditEntry, Order, OrderStatus, OutboxMessage, Role, Sku
from shop import cart, checkout, orders
from shop.domain.addresses import validate_address
from tests.support.factories import make_product, make_supplier, make_user
from tests.support.payments import pay_order
from tests.support.settings import settings_of
from webapp.extensions import db

ADDRESS = validate_address("张三", "13800138000", "上海市 浦东新区", "世纪大道 100 号")


def _stock(sku_id: int) -> int:
    db.session.rollback()  # end any read snapshot (SQLite WAL keeps it)
    return db.session.get(Sku, sku_id).stock


def test_checkout_reserves_stock_and_snapshots_prices(any_app):
    buyer = make_user()
    _, sku = make_product(price_fen=1990, supply_price_fen=1200, stock=5)
    order = checkout.checkout(db.session, settings_of(), buyer.id, [(sku.id, 2), (sku.id, 1)],
                              ADDRESS)
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.total_fen == 3 * 1990
    assert [(ln.quantity, ln.unit_price_fen, ln.supply_cost_fen) for ln in order.lines] == [
        (3, 1990, 3600)
    ]
    assert _stock(sku.id) == 2
    # A later price change does not touch the order's snapshot.
    db.session.get(Sku, sku.id).price_fen = 5000
    db.session.commit()
    db.session.rollback()  # end any read snapshot (SQLite WAL keeps it)
    assert db.session.get(Order, order.id).lines[0].unit_price_fen == 1990
    assert db.session.query(OutboxMessage).filter_by(topic="order.created").count() == 1


def test_short_stock_refuses_the_whole_order(any_app):
    buyer = make_user()
    _, plenty = make_product(stock=100)
    _, scarce = make_product(stock=1)
    with pytest.raises(OutOfStock):
        checkout.checkout(db.session, settings_of(), buyer.id, [(plenty.id, 1), (scarce.id, 2)],
                          ADDRESS)
    assert _stock(plenty.id) == 100
    assert _stock(scarce.id) == 1
    assert db.session.query(Order).count() == 0


@pytest.mark.parametrize("quantity", [0, -1, 10**9, True])
def test_absurd_quantities_are_refused(any_app, quantity):
    buyer = make_user()
    _, sku = make_product()
    with pytest.raises(InvalidInput):
        checkout.checkout(db.session, settings_of(), buyer.id, [(sku.id, quantity)], ADDRESS)
    assert _stock(sku.id) == 10


def test_unknown_sku_is_not_found(any_app):
    buyer = make_user()
    with pytest.raises(NotFound):
        checkout.checkout(db.session, settings_of(), buyer.id, [(999999, 1)], ADDRESS)


def test_checkout_from_cart_empties_the_cart(any_app):
    buyer = make_user()
    _, sku = make_product(stock=3)
    cart.add_to_cart(db.session, settings_of(), buyer.id, sku.id, 2)
    order = checkout.checkout(db.session, settings_of(), buyer.id, None, ADDRESS)
    assert order.total_fen == 2000
    assert cart.view_cart(db.session, buyer.id) == []
    with pytest.raises(InvalidInput):
        checkout.checkout(db.session, settings_of(), buyer.id, None, ADDRESS)


def test_cancel_and_expiry_release_stock(any_app):
    buyer = make_user()
    _, sku = make_product(stock=4)
    first = checkout.checkout(db.session, settings_of(), buyer.id, [(sku.id, 1)], ADDRESS)
    second = checkout.checkout(db.session, settings_of(), buyer.id, [(sku.id, 2)], ADDRESS)
    assert _stock(sku.id) == 1
    orders.cancel_order(db.session, Actor.of(buyer), first.id)
    assert _stock(sku.id) == 2
    with pytest.raises(Conflict):
        orders.cancel_order(db.session, Actor.of(buyer), first.id)
    # Not yet expired: nothing happens.
    assert orders.cancel_expired_orders(db.session) == 0
    later = utcnow() + timedelta(minutes=31)
    assert orders.cancel_expired_orders(db.session, now=later) == 1
    db.session.rollback()  # end any read snapshot (SQLite WAL keeps it)
    assert db.session.get(Order, second.id).status == OrderStatus.CANCELLED
    assert _stock(sku.id) == 4
    assert db.session.query(AuditEntry).filter_by(action="order.expired").count() == 1


def test_other_buyers_cannot_see_or_cancel(any_app):
    buyer, stranger = make_user(), make_user()
    _, sku = make_product()
    order = checkout.checkout(db.session, settings_of(), buyer.id, [(sku.id, 1)], ADDRESS)
    with pytest.raises(NotFound):
        orders.cancel_order(db.session, Actor.of(stranger), order.id)
    assert _stock(sku.id) == 9


def test_multi_supplier_shipping_then_completion(any_app):
    buyer = make_user()
    s1, s2 = make_supplier(), make_supplier()
    _, a = make_product(s1)
    _, b = make_product(s2)
    staff1 = make_user(Role.SUPPLIER, supplier=s1)
    staff2 = make_user(Role.SUPPLIER, supplier=s2)
    order = checkout.checkout(db.session, settings_of(), buyer.id, [(a.id, 1), (b.id, 1)], ADDRESS)
    with pytest.raises(NotFound):  # suppliers do not even see unpaid orders
        orders.ship_order(db.session, Actor.of(staff1), order.id, "SF", "SF1")
    pay_order(any_app, order.id)
    order = orders.ship_order(db.session, Actor.of(staff1), order.id, "SF", "SF1")
    assert order.status == OrderStatus.PAID
    with pytest.raises(Conflict):
        orders.ship_order(db.session, Actor.of(staff1), order.id, "SF", "SF1")
    order = orders.ship_order(db.session, Actor.of(staff2), order.id, "YTO", "YT2")
    assert order.status == OrderStatus.SHIPPED
    assert orders.auto_complete_orders(db.session, settings_of()) == 0
    assert orders.auto_complete_orders(db.session, settings_of(),
                                       now=utcnow() + timedelta(days=11)) == 1
    db.session.rollback()  # end any read snapshot (SQLite WAL keeps it)
    assert db.session.get(Order, order.id).status == OrderStatus.COMPLETED
