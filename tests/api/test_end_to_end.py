"""One sale through HTTP: list, cart, checkout, payment, shipping, receipt (both databases).

Payment is WeChat's signed notify through the real service, so the test also sees
what paying books: the balanced ledger with its accounts and the attribution chain.
"""
from __future__ import annotations

from sqlalchemy import select

from commissions import ledger
from commissions.plan_store import save_plan
from core.actors import Actor
from core.models import (
    AuditEntry,
    LedgerAccount,
    Order,
    OrderReferral,
    OrderStatus,
    Role,
    Sku,
)
from tests.support.api import bearer
from tests.support.factories import (
    GOOD_ADDRESS,
    link,
    make_category,
    make_distributor,
    make_supplier,
    make_user,
)
from tests.support.money import assert_ledger_clean
from tests.support.payments import pay_order
from webapp.extensions import db

PLAN = {"rates_bp": [1000, 500], "levels": 2, "base": "margin", "return_window_days": 7}


def _stock(sku_id: int) -> int:
    db.session.expire_all()
    stock = db.session.get(Sku, sku_id).stock
    db.session.commit()
    return stock


def _ledger() -> dict[tuple[str, int], int]:
    """Every ledger account's balance by (kind, owner), zero balances left out."""
    db.session.expire_all()
    found = {(a.kind, a.owner_id): a.balance_fen
             for a in db.session.scalars(select(LedgerAccount)) if a.balance_fen}
    db.session.commit()
    return found


def _assert_payment_booked(order_id: int, supplier_id: int, alice_id: int, top_id: int) -> None:
    """The payment of 3 x 6 800 (supply 3 x 4 000) is booked and attributed as the plan says."""
    # Margin 20 400 - 12 000 = 8 400: Alice 10 % = 840, Top 5 % = 420, the platform the rest.
    balances = _ledger()
    assert balances == {
        (ledger.CLEARING, ledger.PLATFORM_OWNER): -20_400,
        (ledger.SUPPLIER_PAYABLE, supplier_id): 12_000,
        (ledger.DISTRIBUTOR_PENDING, alice_id): 840,
        (ledger.DISTRIBUTOR_PENDING, top_id): 420,
        (ledger.PLATFORM, ledger.PLATFORM_OWNER): 7_140,
    }
    assert sum(balances.values()) == 0  # double entry: the books balance
    order = db.session.get(Order, order_id)
    assert order is not None
    assert [(m["level"], m["distributor_id"]) for m in order.attribution["members"]] == [
        (1, alice_id), (2, top_id)]
    rows = db.session.execute(
        select(OrderReferral.level, OrderReferral.distributor_id)
        .where(OrderReferral.order_id == order_id).order_by(OrderReferral.level)
    ).all()
    assert [tuple(r) for r in rows] == [(1, alice_id), (2, top_id)]
    db.session.commit()
    assert_ledger_clean(order)


def test_a_sale_from_listing_to_completion(http):
    supplier = make_supplier()
    category = make_category()
    staff = bearer(make_user(Role.SUPPLIER, supplier=supplier))
    # The buyer is Alice's customer; Alice is in Top's team: a two-level chain earns.
    top = make_distributor()
    alice = make_distributor(upline=top)
    customer = make_user()
    link(customer, alice)
    save_plan(db.session, Actor.of(make_user(Role.OPERATOR)), PLAN, "end to end")
    buyer = bearer(customer)

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

    paid = pay_order(http.application, order["id"])
    assert paid.status == OrderStatus.PAID and paid.paid_at is not None
    _assert_payment_booked(order["id"], supplier.id, alice.id, top.id)
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
