"""Buyer API: cart, addresses, checkout (prices from the database) and own orders."""
from __future__ import annotations

import pytest

from core.models import Order, OrderStatus, ProductStatus, Role, Sku
from tests.support.api import assert_refused, bearer
from tests.support.db import db_snapshot
from tests.support.factories import GOOD_ADDRESS, make_product, make_user, save_address
from webapp.extensions import db


def _stock(sku_id: int) -> int:
    db.session.expire_all()
    stock = db.session.get(Sku, sku_id).stock
    db.session.commit()
    return stock


BUYER_ENDPOINTS = [
    ("get", "/api/v1/cart", None),
    ("delete", "/api/v1/cart", None),
    ("post", "/api/v1/cart/items", {"sku_id": 1, "quantity": 1}),
    ("put", "/api/v1/cart/items/1", {"quantity": 1}),
    ("get", "/api/v1/addresses", None),
    ("post", "/api/v1/addresses", GOOD_ADDRESS),
    ("delete", "/api/v1/addresses/1", None),
    ("put", "/api/v1/addresses/1/default", None),
    ("get", "/api/v1/orders", None),
    ("post", "/api/v1/orders", {"items": [{"sku_id": 1, "quantity": 1}], "address_id": 1}),
    ("get", "/api/v1/orders/1", None),
    ("post", "/api/v1/orders/1/cancel", None),
    ("post", "/api/v1/orders/1/confirm-receipt", None),
]


def test_buyer_endpoints_need_a_token(http):
    make_product()
    before = db_snapshot()
    for method, url, body in BUYER_ENDPOINTS:
        assert_refused(getattr(http, method)(url, json=body), 401, before)


# --- cart -----------------------------------------------------------------


def test_cart_add_set_and_clear(http):
    buyer = make_user()
    _, tea = make_product(price_fen=1990, stock=5)
    _, cup = make_product(price_fen=500, supply_price_fen=300, stock=2)
    headers = bearer(buyer)
    assert http.get("/api/v1/cart", headers=headers).get_json() == {"lines": [], "total_fen": 0}
    added = http.post("/api/v1/cart/items", json={"sku_id": tea.id, "quantity": 2},
                      headers=headers)
    assert added.status_code == 201
    http.post("/api/v1/cart/items", json={"sku_id": tea.id, "quantity": 1}, headers=headers)
    http.post("/api/v1/cart/items", json={"sku_id": cup.id, "quantity": 2}, headers=headers)
    db.session.get(Sku, cup.id).stock = 1  # sold to someone else since
    db.session.commit()
    cart = http.get("/api/v1/cart", headers=headers).get_json()
    assert [(ln["sku_id"], ln["quantity"], ln["amount_fen"], ln["available"])
            for ln in cart["lines"]] == [(tea.id, 3, 5970, True), (cup.id, 2, 1000, False)]
    assert cart["total_fen"] == 5970  # what checkout would charge: the short cup is left out
    cart = http.put(f"/api/v1/cart/items/{cup.id}", json={"quantity": 0},
                    headers=headers).get_json()
    assert [ln["sku_id"] for ln in cart["lines"]] == [tea.id]
    cart = http.put(f"/api/v1/cart/items/{tea.id}", json={"quantity": 4},
                    headers=headers).get_json()
    assert cart["total_fen"] == 4 * 1990
    assert http.delete("/api/v1/cart", headers=headers).status_code == 204
    assert http.get("/api/v1/cart", headers=headers).get_json()["lines"] == []


def test_cart_refuses_more_than_the_stock_left_and_says_how_much(http):
    buyer = make_user()
    _, sku = make_product(stock=120)
    headers = bearer(buyer)
    added = http.post("/api/v1/cart/items", json={"sku_id": sku.id, "quantity": 120},
                      headers=headers)
    assert added.status_code == 201
    before = db_snapshot()
    body = assert_refused(
        http.post("/api/v1/cart/items", json={"sku_id": sku.id, "quantity": 1}, headers=headers),
        409, before)
    assert "only 120" in body["message"] and "120 already in the cart" in body["message"]
    body = assert_refused(
        http.put(f"/api/v1/cart/items/{sku.id}", json={"quantity": 121}, headers=headers),
        409, before)
    assert "only 120" in body["message"]
    cart = http.get("/api/v1/cart", headers=headers).get_json()
    assert [(ln["quantity"], ln["available"]) for ln in cart["lines"]] == [(120, True)]
    assert cart["total_fen"] == 120 * 1000


@pytest.mark.parametrize("quantity", [0, -1, 1.5, "2", True, None, 10**6, 10**40])
def test_cart_refuses_bad_quantities(http, quantity):
    buyer = make_user()
    _, sku = make_product()
    headers = bearer(buyer)
    http.post("/api/v1/cart/items", json={"sku_id": sku.id, "quantity": 1}, headers=headers)
    before = db_snapshot()
    add = http.post("/api/v1/cart/items", json={"sku_id": sku.id, "quantity": quantity},
                    headers=headers)
    assert_refused(add, 422, before)
    if quantity != 0:
        put = http.put(f"/api/v1/cart/items/{sku.id}", json={"quantity": quantity},
                       headers=headers)
        assert_refused(put, 422, before)


def test_cart_refuses_over_the_configured_line_limit(http):
    buyer = make_user()
    _, sku = make_product()
    headers = bearer(buyer)
    before = db_snapshot()
    response = http.post("/api/v1/cart/items", json={"sku_id": sku.id, "quantity": 1000},
                         headers=headers)
    assert_refused(response, 422, before)


def test_cart_unknown_or_unsold_sku_is_404(http):
    buyer = make_user()
    _, draft = make_product(status=ProductStatus.DRAFT)
    headers = bearer(buyer)
    before = db_snapshot()
    for sku_id in (999999, draft.id):
        response = http.post("/api/v1/cart/items", json={"sku_id": sku_id, "quantity": 1},
                             headers=headers)
        assert_refused(response, 404, before)
    assert_refused(http.put("/api/v1/cart/items/999999", json={"quantity": 1}, headers=headers),
                   404, before)


def test_cart_bad_bodies(http):
    buyer = make_user()
    _, sku = make_product()
    headers = bearer(buyer)
    before = db_snapshot()
    assert_refused(http.post("/api/v1/cart/items", data="[1,", content_type="application/json",
                             headers=headers), 400, before)
    assert_refused(http.post("/api/v1/cart/items", json={"sku_id": sku.id, "quantity": 1,
                                                         "price_fen": 1}, headers=headers),
                   422, before)
    assert_refused(http.post("/api/v1/cart/items", json=[sku.id, 1], headers=headers), 422,
                   before)
    assert_refused(http.post("/api/v1/cart/items", json={"sku_id": "abc", "quantity": 1},
                             headers=headers), 422, before)


def test_carts_are_private(http):
    alice, bob = make_user(), make_user()
    _, sku = make_product()
    http.post("/api/v1/cart/items", json={"sku_id": sku.id, "quantity": 2}, headers=bearer(alice))
    assert http.get("/api/v1/cart", headers=bearer(bob)).get_json()["lines"] == []
    headers = bearer(bob)
    before = db_snapshot()
    assert_refused(http.put(f"/api/v1/cart/items/{sku.id}", json={"quantity": 1},
                            headers=headers), 404, before)


# --- addresses ------------------------------------------------------------


def test_addresses_create_list_default_delete(http):
    buyer = make_user()
    headers = bearer(buyer)
    first = http.post("/api/v1/addresses", json=GOOD_ADDRESS, headers=headers)
    assert first.status_code == 201
    assert first.get_json()["is_default"] is True
    second = http.post("/api/v1/addresses",
                       json={**GOOD_ADDRESS, "phone": "+86 139 0000 0000", "detail": "南京路 1 号"},
                       headers=headers).get_json()
    assert second["phone"] == "13900000000"
    assert second["is_default"] is False
    made = http.put(f"/api/v1/addresses/{second['id']}/default", headers=headers)
    assert made.status_code == 200 and made.get_json()["is_default"] is True
    listed = http.get("/api/v1/addresses", headers=headers).get_json()
    assert [(a["id"], a["is_default"]) for a in listed] == [
        (second["id"], True), (first.get_json()["id"], False)
    ]
    assert http.delete(f"/api/v1/addresses/{second['id']}", headers=headers).status_code == 204
    listed = http.get("/api/v1/addresses", headers=headers).get_json()
    assert [(a["id"], a["is_default"]) for a in listed] == [(first.get_json()["id"], True)]


@pytest.mark.parametrize(
    "change",
    [
        {"phone": "12345"},
        {"recipient": ""},
        {"recipient": "x" * 33},
        {"detail": "abc"},
        {"detail": "line\x01break street"},
        {"phone": 13800138000},
        {"city": "上海"},
        {"is_default": "yes please"},
    ],
)
def test_address_validation_is_422(http, change):
    headers = bearer(make_user())
    before = db_snapshot()
    response = http.post("/api/v1/addresses", json={**GOOD_ADDRESS, **change}, headers=headers)
    assert_refused(response, 422, before)


def test_someone_elses_address_is_404(http):
    owner, other = make_user(), make_user()
    address = save_address(owner)
    headers = bearer(other)
    before = db_snapshot()
    assert_refused(http.delete(f"/api/v1/addresses/{address.id}", headers=headers), 404, before)
    assert_refused(http.put(f"/api/v1/addresses/{address.id}/default", headers=headers), 404,
                   before)
    assert http.get("/api/v1/addresses", headers=headers).get_json() == []


# --- checkout -------------------------------------------------------------


def test_checkout_items_with_inline_address(http):
    buyer = make_user()
    _, sku = make_product(price_fen=1990, supply_price_fen=1200, stock=5)
    response = http.post(
        "/api/v1/orders",
        json={"items": [{"sku_id": sku.id, "quantity": 2}], "address": GOOD_ADDRESS,
              "note": "leave at the door"},
        headers=bearer(buyer),
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == OrderStatus.PENDING_PAYMENT
    assert body["total_fen"] == 3980
    assert body["buyer_note"] == "leave at the door"
    assert body["recipient"] == GOOD_ADDRESS["recipient"]
    assert body["phone"] == "138****8000"  # masked for the buyer, as in the chat and H5
    listed = http.get("/api/v1/orders", headers=bearer(buyer)).get_json()
    assert [o["phone"] for o in listed] == ["138****8000"]
    assert body["lines"][0]["unit_price_fen"] == 1990
    assert "unit_supply_price_fen" not in body["lines"][0]
    assert _stock(sku.id) == 3


def test_checkout_ignores_a_client_sent_price(any_app):
    http = any_app.test_client()
    buyer = make_user()
    _, sku = make_product(price_fen=1990, stock=5)
    address = save_address(buyer)
    response = http.post(
        "/api/v1/orders",
        json={"items": [{"sku_id": sku.id, "quantity": 1, "price_fen": 1,
                         "unit_price_fen": 1}], "address_id": address.id},
        headers=bearer(buyer),
    )
    assert response.status_code == 201
    assert response.get_json()["total_fen"] == 1990
    db.session.expire_all()
    order = db.session.get(Order, response.get_json()["id"])
    assert (order.total_fen, order.lines[0].unit_price_fen) == (1990, 1990)
    db.session.commit()


def test_checkout_from_the_cart_empties_it(http):
    buyer = make_user()
    _, sku = make_product(price_fen=700, stock=5)
    address = save_address(buyer)
    headers = bearer(buyer)
    http.post("/api/v1/cart/items", json={"sku_id": sku.id, "quantity": 3}, headers=headers)
    response = http.post("/api/v1/orders", json={"address_id": address.id}, headers=headers)
    assert response.status_code == 201
    assert response.get_json()["total_fen"] == 2100
    assert http.get("/api/v1/cart", headers=headers).get_json()["lines"] == []
    assert _stock(sku.id) == 2
    before = db_snapshot()
    empty = http.post("/api/v1/orders", json={"address_id": address.id}, headers=headers)
    assert_refused(empty, 422, before)


@pytest.mark.parametrize("quantity", [0, -3, 2.5, "1", True, None, 10**6, 10**30])
def test_checkout_refuses_bad_quantities(http, quantity):
    buyer = make_user()
    _, sku = make_product(stock=5)
    headers = bearer(buyer)
    before = db_snapshot()
    response = http.post("/api/v1/orders", json={
        "items": [{"sku_id": sku.id, "quantity": quantity}], "address": GOOD_ADDRESS,
    }, headers=headers)
    assert_refused(response, 422, before)


def test_checkout_refusals_change_nothing(http):
    buyer = make_user()
    _, plenty = make_product(stock=100)
    _, scarce = make_product(stock=1)
    someone = make_user()
    their_address = save_address(someone)
    headers = bearer(buyer)
    http.post("/api/v1/cart/items", json={"sku_id": plenty.id, "quantity": 1}, headers=headers)
    before = db_snapshot()
    cases = [
        ({"items": [{"sku_id": plenty.id, "quantity": 1}, {"sku_id": scarce.id, "quantity": 2}],
          "address": GOOD_ADDRESS}, 409),
        ({"items": [{"sku_id": 999999, "quantity": 1}], "address": GOOD_ADDRESS}, 404),
        ({"items": [{"sku_id": plenty.id, "quantity": 1}], "address_id": their_address.id}, 404),
        ({"items": [{"sku_id": plenty.id, "quantity": 1}]}, 422),
        ({"items": [{"sku_id": plenty.id, "quantity": 1}], "address": GOOD_ADDRESS,
          "address_id": their_address.id}, 422),
        ({"items": [{"sku_id": plenty.id, "quantity": 1}],
          "address": {**GOOD_ADDRESS, "phone": "110"}}, 422),
        ({"items": [], "address": GOOD_ADDRESS}, 422),
        ({"items": [{"sku_id": plenty.id}], "address": GOOD_ADDRESS}, 422),
        ({"items": [{"sku_id": plenty.id, "quantity": 1}], "address": GOOD_ADDRESS,
          "coupon": "FREE"}, 422),
        ({"items": [{"sku_id": plenty.id, "quantity": 1, "discount_fen": 500}],
          "address": GOOD_ADDRESS}, 422),
        ({"items": [{"sku_id": plenty.id, "quantity": 1}], "address": GOOD_ADDRESS,
          "note": "x" * 201}, 422),
        ({"items": [{"sku_id": plenty.id, "quantity": 600}, {"sku_id": plenty.id,
                                                              "quantity": 600}],
          "address": GOOD_ADDRESS}, 422),
    ]
    for body, status in cases:
        assert_refused(http.post("/api/v1/orders", json=body, headers=headers), status, before)
    assert_refused(http.post("/api/v1/orders", data="{", content_type="application/json",
                             headers=headers), 400, before)
    out = http.post("/api/v1/orders", json=cases[0][0], headers=headers).get_json()
    assert out["status"] == "out_of_stock"
    assert out["errors"] == {"sku_id": scarce.id}


# --- own orders -----------------------------------------------------------


def _place(http, headers, sku, quantity=1):
    response = http.post("/api/v1/orders", json={
        "items": [{"sku_id": sku.id, "quantity": quantity}], "address": GOOD_ADDRESS,
    }, headers=headers)
    assert response.status_code == 201
    return response.get_json()["id"]


def test_own_orders_list_and_detail(http):
    buyer, other = make_user(), make_user()
    _, sku = make_product(stock=10)
    mine = [_place(http, bearer(buyer), sku) for _ in range(3)]
    theirs = _place(http, bearer(other), sku)
    headers = bearer(buyer)
    listed = http.get("/api/v1/orders?page_size=2", headers=headers)
    assert [o["id"] for o in listed.get_json()] == [mine[2], mine[1]]
    assert http.get(f"/api/v1/orders/{mine[0]}", headers=headers).get_json()["id"] == mine[0]
    before = db_snapshot()
    assert_refused(http.get(f"/api/v1/orders/{theirs}", headers=headers), 404, before)
    assert http.get("/api/v1/orders?status=paid", headers=headers).get_json() == []
    assert http.get("/api/v1/orders?status=lost", headers=headers).status_code == 422


def test_operators_and_suppliers_see_only_their_own_purchases_here(http):
    buyer = make_user()
    _, sku = make_product(stock=10)
    order_id = _place(http, bearer(buyer), sku)
    operator = make_user(Role.OPERATOR)
    headers = bearer(operator)
    assert http.get("/api/v1/orders", headers=headers).get_json() == []
    before = db_snapshot()
    assert_refused(http.get(f"/api/v1/orders/{order_id}", headers=headers), 404, before)
    assert_refused(http.post(f"/api/v1/orders/{order_id}/cancel", headers=headers), 404, before)


def test_cancel_unpaid_order_releases_stock(http):
    buyer = make_user()
    _, sku = make_product(stock=5)
    headers = bearer(buyer)
    order_id = _place(http, headers, sku, 2)
    assert _stock(sku.id) == 3
    other_headers = bearer(make_user())
    before = db_snapshot()
    assert_refused(http.post(f"/api/v1/orders/{order_id}/cancel", headers=other_headers), 404,
                   before)
    response = http.post(f"/api/v1/orders/{order_id}/cancel", headers=headers)
    assert response.status_code == 200
    assert response.get_json()["status"] == OrderStatus.CANCELLED
    assert _stock(sku.id) == 5
    before = db_snapshot()
    assert_refused(http.post(f"/api/v1/orders/{order_id}/cancel", headers=headers), 409, before)
    assert_refused(http.post(f"/api/v1/orders/{order_id}/confirm-receipt", headers=headers), 409,
                   before)


def test_confirm_receipt_needs_a_shipped_order(http):
    buyer = make_user()
    _, sku = make_product()
    headers = bearer(buyer)
    order_id = _place(http, headers, sku)
    before = db_snapshot()
    response = http.post(f"/api/v1/orders/{order_id}/confirm-receipt", headers=headers)
    assert assert_refused(response, 409, before)["status"] == "conflict"
