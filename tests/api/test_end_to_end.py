"""One sale through HTTP: list, cart, checkout, payment, shipping, receipt (both databases)."""
from __future__ import annotations

from core.models import AuditEntry, OrderStatus, Role, Sku
from tests.api.conftest import GOOD_ADDRESS, bearer, mark_paid
from tests.support.factories import make_category, make_supplier, make_user
from webapp.extensions import db


def _stock(sku_id: int) -> int:
    db.session.expire_all()
    stock = db.session.get(Sku, sku_id).stock
    db.session.commit()
    return stock


def test_a_sale_from_listing_to_completion(http):
    supplier = make_supplier()
    category = make_category()
    staff = bearer(make_user(Role.SUPPLIER, supplier=supplier))
    buyer = bearer(make_user())

    listed = http.post("/api/v1/supplier/products", headers=staff, json={
        "title": "Dian Hong black tea", "category_id": category.id, "status": "active",
        "skus": [{"code": "DH-100", "name": "100 g", "price_fen": 6800,
                  "supply_price_fen": 4000, "stock": 10}],
    })
    assert listed.status_code == 201, listed.get_json()
    product_id = listed.get_json()["id"]
    sku_id = listed.get_json()["skus"][0]["id"]

    shelf = http.get(f"/api/v1/products?category_id={category.id}").get_json()
    assert [p["id"] for p in shelf] == [product_id]

    carted = http.post("/api/v1/cart/items", headers=buyer, json={"sku_id": sku_id, "quantity": 3})
    assert carted.status_code == 201
    assert carted.get_json()["total_fen"] == 3 * 6800
    address = http.post("/api/v1/addresses", headers=buyer, json=GOOD_ADDRESS).get_json()

    placed = http.post("/api/v1/orders", headers=buyer, json={"address_id": address["id"]})
    assert placed.status_code == 201, placed.get_json()
    order = placed.get_json()
    assert order["status"] == OrderStatus.PENDING_PAYMENT
    assert order["total_fen"] == 20400
    assert _stock(sku_id) == 7
    assert http.get("/api/v1/cart", headers=buyer).get_json()["lines"] == []

    # Unpaid: the supplier neither lists nor can ship it.
    assert http.get("/api/v1/supplier/orders", headers=staff).get_json() == []
    ship_url = f"/api/v1/supplier/orders/{order['id']}/shipment"
    shipment = {"carrier": "SF Express", "tracking_number": "SF1234567890"}
    assert http.post(ship_url, headers=staff, json=shipment).status_code == 404

    mark_paid(order["id"])
    seen = http.get("/api/v1/supplier/orders", headers=staff).get_json()
    assert [o["id"] for o in seen] == [order["id"]]
    assert seen[0]["lines"][0]["supply_cost_fen"] == 3 * 4000

    # Completing before shipping is refused.
    receipt_url = f"/api/v1/orders/{order['id']}/confirm-receipt"
    assert http.post(receipt_url, headers=buyer).status_code == 409

    shipped = http.post(ship_url, headers=staff, json=shipment)
    assert shipped.status_code == 201
    assert shipped.get_json()["status"] == OrderStatus.SHIPPED

    mine = http.get(f"/api/v1/orders/{order['id']}", headers=buyer).get_json()
    assert mine["status"] == OrderStatus.SHIPPED
    assert mine["shipments"][0]["tracking_number"] == "SF1234567890"

    done = http.post(receipt_url, headers=buyer)
    assert done.status_code == 200
    assert done.get_json()["status"] == OrderStatus.COMPLETED
    assert done.get_json()["completed_at"] is not None
    assert http.post(receipt_url, headers=buyer).status_code == 409
    assert _stock(sku_id) == 7

    actions = {a.action for a in db.session.query(AuditEntry)}
    db.session.commit()
    assert {"product.created", "order.created", "order.shipped_by_supplier",
            "order.completed"} <= actions
