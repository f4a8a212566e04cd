"""Operator API: order oversight, suppliers, categories, users and audited role changes."""
from __future__ import annotations

from datetime import timedelta

from core.clock import utcnow
from core.models import (
    AuditEntry,
    Refund,
    RefundLine,
    Role,
    Supplier,
    User,
)
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

OPERATOR_ENDPOINTS = [
    ("get", "/api/v1/operator/orders", None),
    ("get", "/api/v1/operator/orders/1", None),
    ("post", "/api/v1/operator/orders/1/cancel", None),
    ("get", "/api/v1/operator/suppliers", None),
    ("post", "/api/v1/operator/suppliers", {"name": "ACME"}),
    ("post", "/api/v1/operator/suppliers/1/deactivate", None),
    ("post", "/api/v1/operator/suppliers/1/activate", None),
    ("post", "/api/v1/operator/categories", {"name": "Tea"}),
    ("get", "/api/v1/operator/users", None),
    ("put", "/api/v1/operator/users/1/roles/operator", {}),
    ("delete", "/api/v1/operator/users/1/roles/operator", None),
]


def test_operator_endpoints_refuse_anonymous_buyers_and_suppliers(http):
    supplier = make_supplier()
    buyer_headers = bearer(make_user())
    supplier_headers = bearer(make_user(Role.SUPPLIER, supplier=supplier))
    before = db_snapshot()
    for method, url, body in OPERATOR_ENDPOINTS:
        assert_refused(getattr(http, method)(url, json=body), 401, before)
        assert_refused(getattr(http, method)(url, json=body, headers=buyer_headers), 403, before)
        assert_refused(getattr(http, method)(url, json=body, headers=supplier_headers), 403,
                       before)


def _order(buyer, sku, when=None):
    order = checkout.checkout(db.session, settings_of(), buyer.id, [(sku.id, 1)], ADDRESS, now=when)
    return order.id


def test_all_orders_with_filters(http):
    alice, bob = make_user(), make_user()
    north, south = make_supplier(), make_supplier()
    _, tea = make_product(supplier=north, stock=50)
    _, rice = make_product(supplier=south, stock=50)
    long_ago = utcnow() - timedelta(days=30)
    old = _order(alice, tea, long_ago)
    paid = _order(alice, rice)
    bobs = _order(bob, tea)
    pay_order(http.application, paid)
    headers = bearer(make_user(Role.OPERATOR))

    def ids(query=""):
        response = http.get("/api/v1/operator/orders" + query, headers=headers)
        assert response.status_code == 200, response.get_json()
        return [o["id"] for o in response.get_json()]

    assert ids() == [bobs, paid, old]
    assert ids("?status=paid") == [paid]
    assert ids(f"?buyer_id={alice.id}") == [paid, old]
    assert ids(f"?supplier_id={north.id}") == [bobs, old]
    since = (utcnow() - timedelta(days=1)).isoformat()
    assert set(ids("?" + "created_from=" + since.replace("+", "%2B"))) == {paid, bobs}
    cutoff = (long_ago + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert ids("?created_to=" + cutoff) == [old]
    listed = http.get("/api/v1/operator/orders?page_size=1", headers=headers).get_json()
    assert listed[0]["lines"][0]["unit_supply_price_fen"] == 600
    assert listed[0]["buyer_id"] == bob.id
    for bad in ("?status=lost", "?buyer_id=x", "?created_from=yesterday",
                f"?created_from={since.replace('+', '%2B')}&created_to=2000-01-01T00:00:00"):
        response = http.get("/api/v1/operator/orders" + bad, headers=headers)
        assert response.status_code == 422, bad


def test_order_dossier_has_payments_and_refunds(http):
    buyer = make_user()
    _, sku = make_product(price_fen=1000)
    order_id = _order(buyer, sku)
    order = pay_order(http.application, order_id, transaction_id="4200000001")
    refund = Refund(order_id=order_id, out_refund_no="R" + order.number, amount_fen=400,
                    reason="damaged", status="succeeded")
    refund.lines = [RefundLine(order_line_id=order.lines[0].id, quantity=0, amount_fen=400)]
    db.session.add(refund)
    db.session.commit()
    headers = bearer(make_user(Role.OPERATOR))
    response = http.get(f"/api/v1/operator/orders/{order_id}", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["order"]["id"] == order_id
    assert body["order"]["lines"][0]["supply_cost_fen"] == 600
    assert [(p["amount_fen"], p["transaction_id"]) for p in body["payments"]] == [
        (1000, "4200000001")
    ]
    assert body["refunds"][0]["amount_fen"] == 400
    assert body["refunds"][0]["lines"] == [
        {"order_line_id": order.lines[0].id, "quantity": 0, "amount_fen": 400}
    ]
    before = db_snapshot()
    assert_refused(http.get("/api/v1/operator/orders/999999", headers=headers), 404, before)


def test_operator_cancels_any_unpaid_order(http):
    buyer = make_user()
    _, sku = make_product(stock=2)
    pending = _order(buyer, sku)
    paid = _order(buyer, sku)
    pay_order(http.application, paid)
    headers = bearer(make_user(Role.OPERATOR))
    response = http.post(f"/api/v1/operator/orders/{pending}/cancel", headers=headers)
    assert response.status_code == 200
    assert response.get_json()["status"] == "cancelled"
    before = db_snapshot()
    assert_refused(http.post(f"/api/v1/operator/orders/{paid}/cancel", headers=headers), 409,
                   before)


def test_suppliers_create_list_deactivate(http):
    operator = make_user(Role.OPERATOR)
    headers = bearer(operator)
    created = http.post("/api/v1/operator/suppliers", json={"name": " Tea Farm ", "contact": "Li"},
                        headers=headers)
    assert created.status_code == 201
    supplier = created.get_json()
    assert (supplier["name"], supplier["active"]) == ("Tea Farm", True)
    before = db_snapshot()
    for bad, status in (({"name": "Tea Farm"}, 409), ({"name": ""}, 422), ({}, 422),
                        ({"name": "X", "rating": 5}, 422), ({"name": "y" * 101}, 422)):
        assert_refused(http.post("/api/v1/operator/suppliers", json=bad, headers=headers),
                       status, before)
    make_product(supplier=db.session.get(Supplier, supplier["id"]))
    assert len(http.get("/api/v1/products").get_json()) == 1
    off = http.post(f"/api/v1/operator/suppliers/{supplier['id']}/deactivate", headers=headers)
    assert off.status_code == 200 and off.get_json()["active"] is False
    # Its goods leave the shop at once.
    assert http.get("/api/v1/products").get_json() == []
    listed = http.get("/api/v1/operator/suppliers", headers=headers).get_json()
    assert {s["name"]: s["active"] for s in listed}["Tea Farm"] is False
    on = http.post(f"/api/v1/operator/suppliers/{supplier['id']}/activate", headers=headers)
    assert on.get_json()["active"] is True
    actions = [a.action for a in db.session.query(AuditEntry).filter_by(subject_type="supplier")]
    assert actions == ["supplier.created", "supplier.deactivated", "supplier.activated"]
    before = db_snapshot()
    assert_refused(http.post("/api/v1/operator/suppliers/999999/deactivate", headers=headers),
                   404, before)


def test_categories_create(http):
    headers = bearer(make_user(Role.OPERATOR))
    parent = http.post("/api/v1/operator/categories", json={"name": "Tea"}, headers=headers)
    assert parent.status_code == 201
    child = http.post("/api/v1/operator/categories",
                      json={"name": "Green tea", "parent_id": parent.get_json()["id"],
                            "sort_order": 2}, headers=headers)
    assert child.status_code == 201
    assert child.get_json()["parent_id"] == parent.get_json()["id"]
    names = [c["name"] for c in http.get("/api/v1/categories").get_json()]
    assert names == ["Tea", "Green tea"]
    before = db_snapshot()
    for bad, status in (({"name": "Tea"}, 409), ({"name": "X", "parent_id": 999999}, 422),
                        ({"name": "X", "sort_order": 1.5}, 422), ({"name": ""}, 422)):
        assert_refused(http.post("/api/v1/operator/categories", json=bad, headers=headers),
                       status, before)


def test_users_with_roles(http):
    operator = make_user(Role.OPERATOR)
    supplier = make_supplier()
    staff = make_user(Role.SUPPLIER, supplier=supplier)
    make_user()
    headers = bearer(operator)
    listed = http.get("/api/v1/operator/users", headers=headers).get_json()
    assert {u["id"]: u["roles"] for u in listed}[staff.id] == ["supplier"]
    only = http.get("/api/v1/operator/users?role=supplier", headers=headers).get_json()
    assert [(u["id"], u["supplier_id"]) for u in only] == [(staff.id, supplier.id)]
    assert http.get("/api/v1/operator/users?role=king", headers=headers).status_code == 422


def test_grant_and_revoke_roles_are_audited(http):
    operator = make_user(Role.OPERATOR)
    user = make_user()
    supplier = make_supplier()
    headers = bearer(operator)
    url = f"/api/v1/operator/users/{user.id}/roles"
    before = db_snapshot()
    assert_refused(http.put(url + "/supplier", json={}, headers=headers), 422, before)
    assert_refused(http.put(url + "/supplier", json={"supplier_id": 999999}, headers=headers),
                   422, before)
    assert_refused(http.put(url + "/operator", json={"supplier_id": supplier.id},
                            headers=headers), 422, before)
    assert_refused(http.put("/api/v1/operator/users/999999/roles/operator", json={},
                            headers=headers), 404, before)
    assert http.put(url + "/distributor", json={}, headers=headers).status_code == 404
    granted = http.put(url + "/supplier", json={"supplier_id": supplier.id}, headers=headers)
    assert granted.status_code == 200
    assert granted.get_json()["roles"] == ["consumer", "supplier"]
    assert granted.get_json()["supplier_id"] == supplier.id
    # Granting again changes nothing and writes no second audit row.
    again = http.put(url + "/supplier", json={}, headers=headers)
    assert again.status_code == 200
    # The new supplier staff can use the supplier API straight away.
    assert http.get("/api/v1/supplier/products", headers=bearer(user)).status_code == 200
    revoked = http.delete(url + "/supplier", headers=headers)
    assert revoked.get_json()["roles"] == ["consumer"]
    assert revoked.get_json()["supplier_id"] is None
    audit = [
        (a.action, a.actor_id, a.details.get("role"))
        for a in db.session.query(AuditEntry).filter(AuditEntry.action.like("user.role_%"))
    ]
    assert audit == [
        ("user.role_granted", operator.id, "supplier"),
        ("user.role_revoked", operator.id, "supplier"),
    ]
    db.session.expire_all()
    assert db.session.get(User, user.id).role_names == ["consumer"]


def test_operator_cannot_revoke_own_operator_role(http):
    operator = make_user(Role.OPERATOR)
    headers = bearer(operator)
    before = db_snapshot()
    response = http.delete(f"/api/v1/operator/users/{operator.id}/roles/operator",
                           headers=headers)
    assert_refused(response, 409, before)
    other = make_user(Role.OPERATOR)
    assert http.delete(f"/api/v1/operator/users/{other.id}/roles/operator",
                       headers=headers).get_json()["roles"] == []


def test_lists_use_a_constant_number_of_queries(app, client):
    from sqlalchemy import event

    category = make_category()
    buyer = make_user()
    headers = bearer(make_user(Role.OPERATOR))

    def count(url):
        statements = []

        def record(*args):
            statements.append(args[2])

        event.listen(db.engine, "before_cursor_execute", record)
        try:
            assert client.get(url, headers=headers).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        return len(statements)

    def grow():
        _, sku = make_product(category=category, stock=10)
        _order(buyer, sku)
        make_user()

    grow()
    few = {url: count(url) for url in ("/api/v1/products", "/api/v1/operator/orders",
                                       "/api/v1/operator/users", "/api/v1/supplier/products")}
    for _ in range(5):
        grow()
    many = {url: count(url) for url in few}
    assert many == few
