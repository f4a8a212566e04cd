"""Supplier API: own products and SKUs, stock, orders to ship; operators manage all products."""
from __future__ import annotations

import pytest

from core.models import AuditEntry, OrderStatus, Role, Sku
from shop import checkout
from shop.domain.addresses import validate_address
from tests.support.api import assert_refused, bearer
from tests.support.db import db_snapshot
from tests.support.factories import (
    GOOD_ADDRESS,
    make_category,
    make_product,
    make_supplier,
    make_user,
)
from tests.support.payments import pay_order
from tests.support.settings import settings_of
from webapp.extensions import db

ADDRESS = validate_address(**GOOD_ADDRESS)


def _staff(supplier=None):
    supplier = supplier or make_supplier()
    return supplier, make_user(Role.SUPPLIER, supplier=supplier)


def _new_product(category_id, **overrides):
    body = {
        "title": "Longjing tea",
        "category_id": category_id,
        "status": "active",
        "skus": [{"code": "LJ-250", "name": "250 g", "price_fen": 12800,
                  "supply_price_fen": 8000, "stock": 20}],
    }
    body.update(overrides)
    return body


def test_supplier_lists_only_own_products_operator_all(http):
    mine, staff = _staff()
    own, _ = make_product(supplier=mine, title="Mine")
    make_product(title="Theirs")
    response = http.get("/api/v1/supplier/products", headers=bearer(staff))
    assert response.status_code == 200
    body = response.get_json()
    assert [p["title"] for p in body] == ["Mine"]
    assert body[0]["skus"][0]["supply_price_fen"] == 600
    operator = make_user(Role.OPERATOR)
    everything = http.get("/api/v1/supplier/products", headers=bearer(operator)).get_json()
    assert sorted(p["title"] for p in everything) == ["Mine", "Theirs"]
    drafts = http.get("/api/v1/supplier/products?status=draft", headers=bearer(staff))
    assert drafts.get_json() == []


def test_product_endpoints_refuse_anonymous_and_buyers(http):
    product, sku = make_product()
    buyer_headers = bearer(make_user())
    before = db_snapshot()
    calls = [
        ("get", "/api/v1/supplier/products", None),
        ("post", "/api/v1/supplier/products", _new_product(1)),
        ("get", f"/api/v1/supplier/products/{product.id}", None),
        ("patch", f"/api/v1/supplier/products/{product.id}", {"title": "x"}),
        ("post", f"/api/v1/supplier/products/{product.id}/skus",
         {"code": "N", "price_fen": 10, "supply_price_fen": 1}),
        ("patch", f"/api/v1/supplier/skus/{sku.id}", {"price_fen": 10}),
        ("post", f"/api/v1/supplier/skus/{sku.id}/stock-adjustments", {"delta": 1}),
        ("put", f"/api/v1/supplier/skus/{sku.id}/stock", {"stock": 1}),
        ("get", "/api/v1/supplier/orders", None),
        ("get", "/api/v1/supplier/orders/1", None),
        ("post", "/api/v1/supplier/orders/1/shipment", {"carrier": "SF", "tracking_number": "1"}),
    ]
    for method, url, body in calls:
        assert_refused(getattr(http, method)(url, json=body), 401, before)
        assert_refused(getattr(http, method)(url, json=body, headers=buyer_headers), 403, before)


def test_supplier_creates_product_with_skus(http):
    supplier, staff = _staff()
    category = make_category()
    response = http.post("/api/v1/supplier/products", json=_new_product(category.id),
                         headers=bearer(staff))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["supplier_id"] == supplier.id
    assert body["skus"][0] | {"id": 0, "product_id": 0} == {
        "id": 0, "product_id": 0, "code": "LJ-250", "name": "250 g", "price_fen": 12800,
        "supply_price_fen": 8000, "stock": 20, "version": 1, "active": True,
    }
    assert db.session.query(AuditEntry).filter_by(action="product.created").count() == 1
    # On sale at once, to the public, without the supply price.
    public = http.get(f"/api/v1/products/{body['id']}").get_json()
    assert public["skus"][0]["price_fen"] == 12800


def test_supplier_cannot_create_for_another_supplier(http):
    _, staff = _staff()
    other = make_supplier()
    category = make_category()
    headers = bearer(staff)
    before = db_snapshot()
    response = http.post("/api/v1/supplier/products",
                         json=_new_product(category.id, supplier_id=other.id), headers=headers)
    assert_refused(response, 403, before)


def test_operator_creates_product_for_a_supplier(http):
    supplier = make_supplier()
    category = make_category()
    headers = bearer(make_user(Role.OPERATOR))
    before = db_snapshot()
    missing = http.post("/api/v1/supplier/products", json=_new_product(category.id),
                        headers=headers)
    assert_refused(missing, 422, before)
    response = http.post("/api/v1/supplier/products",
                         json=_new_product(category.id, supplier_id=supplier.id), headers=headers)
    assert response.status_code == 201
    assert response.get_json()["supplier_id"] == supplier.id


@pytest.mark.parametrize(
    "sku_change",
    [
        {"price_fen": 12.8},
        {"price_fen": "12800"},
        {"price_fen": 0},
        {"price_fen": -100},
        {"price_fen": 10**12},
        {"price_fen": True},
        {"supply_price_fen": 12801},
        {"supply_price_fen": -1},
        {"stock": -1},
        {"stock": 1.5},
        {"code": ""},
        {"unexpected": 1},
    ],
)
def test_bad_product_input_is_422_and_changes_nothing(http, sku_change):
    _, staff = _staff()
    category = make_category()
    body = _new_product(category.id)
    body["skus"][0].update(sku_change)
    headers = bearer(staff)
    before = db_snapshot()
    assert_refused(http.post("/api/v1/supplier/products", json=body, headers=headers), 422, before)


@pytest.mark.parametrize(
    "change",
    [{"skus": []}, {"title": ""}, {"category_id": 999999}, {"status": "sold"}, {"colour": "red"},
     {"category_id": "1"}],
)
def test_bad_product_fields_are_422(http, change):
    _, staff = _staff()
    category = make_category()
    headers = bearer(staff)
    before = db_snapshot()
    body = _new_product(category.id)
    body.update(change)
    response = http.post("/api/v1/supplier/products", json=body, headers=headers)
    assert_refused(response, 422, before)


def test_malformed_json_is_400_and_changes_nothing(http):
    _, staff = _staff()
    headers = bearer(staff)
    before = db_snapshot()
    response = http.post("/api/v1/supplier/products", data='{"title": ',
                         content_type="application/json", headers=headers)
    assert_refused(response, 400, before)


def test_another_suppliers_product_is_404(http):
    _, staff = _staff()
    theirs, sku = make_product()
    headers = bearer(staff)
    before = db_snapshot()
    for response in (
        http.get(f"/api/v1/supplier/products/{theirs.id}", headers=headers),
        http.patch(f"/api/v1/supplier/products/{theirs.id}", json={"title": "Mine now"},
                   headers=headers),
        http.post(f"/api/v1/supplier/products/{theirs.id}/skus",
                  json={"code": "X-1", "price_fen": 100, "supply_price_fen": 50}, headers=headers),
        http.patch(f"/api/v1/supplier/skus/{sku.id}", json={"price_fen": 1}, headers=headers),
        http.post(f"/api/v1/supplier/skus/{sku.id}/stock-adjustments", json={"delta": 5},
                  headers=headers),
        http.put(f"/api/v1/supplier/skus/{sku.id}/stock", json={"stock": 0}, headers=headers),
    ):
        assert_refused(response, 404, before)


def test_update_product_and_skus(http):
    supplier, staff = _staff()
    product, sku = make_product(supplier=supplier, price_fen=1000, supply_price_fen=600)
    headers = bearer(staff)
    updated = http.patch(f"/api/v1/supplier/products/{product.id}",
                         json={"title": "Renamed", "status": "inactive"}, headers=headers)
    assert updated.status_code == 200
    assert updated.get_json()["title"] == "Renamed"
    assert updated.get_json()["status"] == "inactive"
    added = http.post(f"/api/v1/supplier/products/{product.id}/skus",
                      json={"code": "BIG-1", "name": "big", "price_fen": 3000,
                            "supply_price_fen": 2000, "stock": 4}, headers=headers)
    assert added.status_code == 201
    assert added.get_json()["product_id"] == product.id
    repriced = http.patch(f"/api/v1/supplier/skus/{sku.id}",
                          json={"price_fen": 1500, "active": False}, headers=headers)
    assert repriced.status_code == 200
    assert repriced.get_json()["price_fen"] == 1500
    assert repriced.get_json()["active"] is False


def test_sku_refusals(http):
    supplier, staff = _staff()
    product, sku = make_product(supplier=supplier, price_fen=1000, supply_price_fen=600)
    headers = bearer(staff)
    before = db_snapshot()
    # Supply above the current price, judged together with what is stored.
    assert_refused(http.patch(f"/api/v1/supplier/skus/{sku.id}", json={"price_fen": 500},
                              headers=headers), 422, before)
    assert_refused(http.patch(f"/api/v1/supplier/skus/{sku.id}", json={}, headers=headers),
                   422, before)
    assert_refused(http.patch(f"/api/v1/supplier/skus/{sku.id}", json={"price_fen": 9.99},
                              headers=headers), 422, before)
    duplicate = http.post(f"/api/v1/supplier/products/{product.id}/skus",
                          json={"code": sku.code, "price_fen": 100, "supply_price_fen": 50},
                          headers=headers)
    assert_refused(duplicate, 409, before)
    assert_refused(http.patch("/api/v1/supplier/skus/999999", json={"price_fen": 5},
                              headers=headers), 404, before)


def test_stock_delta(http):
    supplier, staff = _staff()
    _, sku = make_product(supplier=supplier, stock=10)
    headers = bearer(staff)
    url = f"/api/v1/supplier/skus/{sku.id}/stock-adjustments"
    response = http.post(url, json={"delta": -4}, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["stock"] == 6
    assert http.post(url, json={"delta": 5}, headers=headers).get_json()["stock"] == 11
    before = db_snapshot()
    assert_refused(http.post(url, json={"delta": -12}, headers=headers), 409, before)
    for bad in (0, 1.5, "3", 10**12, None):
        assert_refused(http.post(url, json={"delta": bad}, headers=headers), 422, before)
    assert_refused(http.post(url, json={"delta": 1, "stock": 5}, headers=headers), 422, before)


def test_stock_set_with_optimistic_version(http):
    supplier, staff = _staff()
    _, sku = make_product(supplier=supplier, stock=10)
    headers = bearer(staff)
    url = f"/api/v1/supplier/skus/{sku.id}/stock"
    current = http.get(f"/api/v1/supplier/products/{sku.product_id}", headers=headers)
    version = current.get_json()["skus"][0]["version"]
    response = http.put(url, json={"stock": 50, "expected_version": version}, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["stock"] == 50
    assert response.get_json()["version"] == version + 1
    before = db_snapshot()
    stale = http.put(url, json={"stock": 1, "expected_version": version}, headers=headers)
    assert assert_refused(stale, 409, before)["status"] == "conflict"
    for bad in ({"stock": -1}, {"stock": 2.0}, {"stock": 1, "expected_version": 0}, {}):
        assert_refused(http.put(url, json=bad, headers=headers), 422, before)
    assert http.put(url, json={"stock": 7}, headers=headers).get_json()["stock"] == 7


def _order(buyer, *skus):
    order = checkout.checkout(db.session, settings_of(), buyer.id, [(s.id, 1) for s in skus],
                              ADDRESS)
    return order.id


def test_supplier_sees_only_paid_orders_with_own_goods_and_own_lines(http):
    supplier, staff = _staff()
    _, mine = make_product(supplier=supplier, supply_price_fen=600)
    _, theirs = make_product(supply_price_fen=300)
    buyer = make_user()
    mixed = _order(buyer, mine, theirs)
    unpaid = _order(buyer, mine)
    foreign = _order(buyer, theirs)
    pay_order(http.application, mixed)
    pay_order(http.application, foreign)
    headers = bearer(staff)
    listed = http.get("/api/v1/supplier/orders", headers=headers).get_json()
    assert [o["id"] for o in listed] == [mixed]
    assert [line["sku_id"] for line in listed[0]["lines"]] == [mine.id]
    assert listed[0]["lines"][0]["supply_cost_fen"] == 600
    assert "total_fen" not in listed[0]
    assert listed[0]["recipient"] == GOOD_ADDRESS["recipient"]
    detail = http.get(f"/api/v1/supplier/orders/{mixed}", headers=headers)
    assert detail.status_code == 200
    # The supplier ships, so the courier's number is whole here (masked only for buyers).
    assert listed[0]["phone"] == detail.get_json()["phone"] == GOOD_ADDRESS["phone"]
    before = db_snapshot()
    for order_id in (unpaid, foreign, 999999):
        assert_refused(http.get(f"/api/v1/supplier/orders/{order_id}", headers=headers), 404,
                       before)
        assert_refused(http.post(f"/api/v1/supplier/orders/{order_id}/shipment",
                                 json={"carrier": "SF", "tracking_number": "SF1"},
                                 headers=headers), 404, before)
    assert http.get("/api/v1/supplier/orders?status=shipped", headers=headers).get_json() == []


def test_ship_order_once_per_supplier(http):
    supplier, staff = _staff()
    _, mine = make_product(supplier=supplier)
    _, theirs = make_product()
    buyer = make_user()
    order_id = _order(buyer, mine, theirs)
    pay_order(http.application, order_id)
    headers = bearer(staff)
    url = f"/api/v1/supplier/orders/{order_id}/shipment"
    before = db_snapshot()
    for bad in ({"carrier": "", "tracking_number": "1"}, {"carrier": "SF"},
                {"carrier": "SF", "tracking_number": "x" * 65}):
        assert_refused(http.post(url, json=bad, headers=headers), 422, before)
    response = http.post(url, json={"carrier": "SF", "tracking_number": "SF100"}, headers=headers)
    assert response.status_code == 201
    body = response.get_json()
    # The other supplier has not shipped yet, so the order is still paid.
    assert body["status"] == OrderStatus.PAID
    assert body["shipments"] == [
        {"supplier_id": supplier.id, "carrier": "SF", "tracking_number": "SF100",
         "shipped_at": body["shipments"][0]["shipped_at"]}
    ]
    before = db_snapshot()
    again = http.post(url, json={"carrier": "SF", "tracking_number": "SF101"}, headers=headers)
    assert_refused(again, 409, before)


def test_supplier_role_without_a_company_is_403(http):
    staff = make_user(Role.SUPPLIER)
    headers = bearer(staff)
    before = db_snapshot()
    assert_refused(http.get("/api/v1/supplier/orders", headers=headers), 403, before)
    assert_refused(http.get("/api/v1/supplier/products", headers=headers), 403, before)


def test_stock_is_read_back_from_the_database(http):
    supplier, staff = _staff()
    _, sku = make_product(supplier=supplier, stock=3)
    http.post(f"/api/v1/supplier/skus/{sku.id}/stock-adjustments", json={"delta": 2},
              headers=bearer(staff))
    db.session.expire_all()
    assert db.session.get(Sku, sku.id).stock == 5
