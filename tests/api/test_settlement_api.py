"""Supplier settlement API: operators open, list, read and pay batches; suppliers read their own."""
from __future__ import annotations

import csv
import io

import pytest

from commissions import ledger
from commissions.plan_store import save_plan
from core.actors import Actor
from core.models import Order, Role
from shop import payments
from tests.support.api import assert_refused, bearer
from tests.support.db import db_snapshot, fresh
from tests.support.factories import make_supplier, make_user, place_order
from tests.support.money import assert_ledger_clean, complete
from tests.support.payments import signed_pay_notify
from tests.support.settings import gateway_of
from webapp.extensions import db

BASE = "/api/v1/operator/supplier-settlements"


@pytest.fixture
def world(any_app):
    """Two suppliers with completed orders under a plan without a return window."""
    operator = make_user(Role.OPERATOR)
    save_plan(db.session, Actor.of(operator), {"rates_bp": [1000, 500], "return_window_days": 0})
    acme, bolt = make_supplier(), make_supplier()
    orders = {}
    for name, supplier, lines in (("acme", acme, [(10_000, 1), (3_000, 2)]),
                                  ("bolt", bolt, [(2_001, 3)])):
        order = place_order(*lines, suppliers=[supplier] * len(lines))
        body = signed_pay_notify(any_app, order.number, order.total_fen)
        assert payments.apply_pay_notify(db.session, gateway_of(), body).applied
        complete(order)
        orders[name] = fresh(Order, order.id)
    return {
        "operator": bearer(operator),
        "acme": acme, "bolt": bolt, "orders": orders,
        "acme_staff": bearer(make_user(Role.SUPPLIER, supplier=acme)),
        "bolt_staff": bearer(make_user(Role.SUPPLIER, supplier=bolt)),
        "consumer": bearer(make_user()),
    }


def _open(http, world):
    response = http.post(BASE, headers=world["operator"])
    assert response.status_code == 200, response.get_json()
    return {b["supplier_id"]: b for b in response.get_json()}


def _rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


def test_operator_opens_lists_reads_and_pays_batches(http, world):
    batches = _open(http, world)
    acme, bolt = batches[world["acme"].id], batches[world["bolt"].id]
    assert (acme["amount_fen"], acme["status"]) == (8000, "open")  # 5 000 + 1 500 × 2
    assert (bolt["amount_fen"], bolt["status"]) == (3000, "open")  # 1 000 × 3
    assert http.post(BASE, headers=world["operator"]).get_json() == []  # twice: nothing new

    listed = http.get(BASE, headers=world["operator"])
    assert [b["id"] for b in listed.get_json()] == [bolt["id"], acme["id"]]  # newest first
    assert '"total": 2' in listed.headers["X-Pagination"]
    only = http.get(f"{BASE}?supplier_id={world['acme'].id}&status=open",
                    headers=world["operator"]).get_json()
    assert [b["id"] for b in only] == [acme["id"]]
    assert http.get(f"{BASE}?status=paid", headers=world["operator"]).get_json() == []

    detail = http.get(f"{BASE}/{acme['id']}", headers=world["operator"]).get_json()
    assert detail["amount_fen"] == 8000
    assert sorted(i["amount_fen"] for i in detail["items"]) == [3000, 5000]
    assert {i["order_number"] for i in detail["items"]} == {world["orders"]["acme"].number}

    rows = _rows(http.get(f"{BASE}/{acme['id']}/statement.csv", headers=world["operator"]))
    assert rows[0][0] == "order number" and rows[0][-1] == "amount in this batch"
    assert sorted(row[-1] for row in rows[1:-1]) == ["30.00", "50.00"]
    assert rows[-1][0] == "total" and rows[-1][-1] == "80.00"

    paid = http.post(f"{BASE}/{acme['id']}/paid", json={"payment_reference": "CMB-20240101-7"},
                     headers=world["operator"])
    assert paid.status_code == 200, paid.get_json()
    assert (paid.get_json()["status"], paid.get_json()["payment_reference"]) == (
        "paid", "CMB-20240101-7")
    assert paid.get_json()["paid_at"]
    db.session.expire_all()
    assert ledger.balance(db.session, ledger.SUPPLIER_PAYABLE, world["acme"].id) == 0
    assert ledger.balance(db.session, ledger.PAYOUT_CLEARING) == 8000
    assert_ledger_clean(*world["orders"].values())

    before = db_snapshot()
    body = assert_refused(http.post(f"{BASE}/{acme['id']}/paid", json={"payment_reference": "X"},
                                    headers=world["operator"]), 409, before)
    assert "already paid" in body["message"]
    assert_refused(http.post(f"{BASE}/{bolt['id']}/paid", json={}, headers=world["operator"]),
                   422, before)
    assert_refused(http.post(f"{BASE}/{bolt['id']}/paid", json={"payment_reference": " "},
                             headers=world["operator"]), 422, before)
    assert_refused(http.post(f"{BASE}/{bolt['id'] + 100}/paid",
                             json={"payment_reference": "X"}, headers=world["operator"]),
                   404, before)
    assert_refused(http.get(f"{BASE}/{bolt['id'] + 100}", headers=world["operator"]), 404, before)
    assert_ledger_clean(*world["orders"].values())


def test_suppliers_see_only_their_own_batches(http, world):
    batches = _open(http, world)
    acme, bolt = batches[world["acme"].id], batches[world["bolt"].id]
    own = http.get("/api/v1/supplier/settlements", headers=world["acme_staff"])
    assert [b["id"] for b in own.get_json()] == [acme["id"]]
    rows = _rows(http.get(f"/api/v1/supplier/settlements/{acme['id']}/statement.csv",
                          headers=world["acme_staff"]))
    assert rows[-1][-1] == "80.00"
    before = db_snapshot()
    assert_refused(http.get(f"/api/v1/supplier/settlements/{bolt['id']}/statement.csv",
                            headers=world["acme_staff"]), 404, before)
    # Supplier staff are not operators: the operator endpoints are closed to them.
    assert_refused(http.get(f"{BASE}/{acme['id']}/statement.csv",
                            headers=world["acme_staff"]), 403, before)
    assert http.get("/api/v1/supplier/settlements?status=paid",
                    headers=world["bolt_staff"]).get_json() == []


def test_settlement_endpoints_refuse_anonymous_and_consumers(http, world):
    batch = next(iter(_open(http, world).values()))
    before = db_snapshot()
    calls = [
        ("post", BASE, None),
        ("get", BASE, None),
        ("get", f"{BASE}/{batch['id']}", None),
        ("post", f"{BASE}/{batch['id']}/paid", {"payment_reference": "X"}),
        ("get", f"{BASE}/{batch['id']}/statement.csv", None),
        ("get", "/api/v1/supplier/settlements", None),
        ("get", f"/api/v1/supplier/settlements/{batch['id']}/statement.csv", None),
    ]
    for method, url, body in calls:
        assert_refused(getattr(http, method)(url, json=body), 401, before)
        assert_refused(getattr(http, method)(url, json=body, headers=world["consumer"]), 403,
                       before)
    for method, url, _ in calls[:5]:  # suppliers may not open, list all, or pay
        assert_refused(getattr(http, method)(url, json={"payment_reference": "X"},
                                             headers=world["bolt_staff"]), 403, before)


def test_settlement_paths_are_documented(http):
    paths = http.get("/api/v1/openapi.json").get_json()["paths"]
    expected = {
        BASE: {"get", "post"},
        BASE + "/{settlement_id}": {"get"},
        BASE + "/{settlement_id}/paid": {"post"},
        BASE + "/{settlement_id}/statement.csv": {"get"},
        "/api/v1/supplier/settlements": {"get"},
        "/api/v1/supplier/settlements/{settlement_id}/statement.csv": {"get"},
    }
    for path, methods in expected.items():
        for method in methods:
            operation = paths[path][method]
            assert operation["security"] == [{"bearerAuth": []}]
            assert "401" in operation["responses"] and "403" in operation["responses"]
    csv_doc = paths[BASE + "/{settlement_id}/statement.csv"]["get"]["responses"]["200"]
    assert "text/csv" in csv_doc["content"]
