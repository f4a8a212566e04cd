"""Issue 9 §2: every bad input to the REST API is a 4xx with the usual error body and
changes nothing; the reproductions of the issue first, then the supplier refund view
and the CSV exports."""
from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from commissions.plan_store import active_plan, save_plan
from core.actors import Actor
from core.bounds import MAX_ID, MAX_JSON_DEPTH, MAX_RETURN_WINDOW_DAYS
from core.errors import InvalidInput
from core.models import (
    CommissionLine,
    CommissionPlanVersion,
    Order,
    OrderStatus,
    Role,
    Supplier,
    User,
    Withdrawal,
)
from shop import checkout, payments
from tests.support.api import assert_refused, bearer
from tests.support.db import db_snapshot
from tests.support.factories import (
    GOOD_ADDRESS,
    link,
    make_category,
    make_distributor,
    make_product,
    make_supplier,
    make_user,
)
from tests.support.money import complete, refund
from tests.support.payments import ADDRESS, install_fake_gateway, paid_order, signed_pay_notify
from tests.support.settings import gateway_of, settings_of
from webapp.extensions import db

PLAN_URL = "/api/v1/operator/commission-plan/versions"
HUGE_WINDOWS = [10**30, 2**31, 2**63 - 1, MAX_RETURN_WINDOW_DAYS + 1, -1]


def _operator() -> User:
    return make_user(Role.OPERATOR)


def _plan_count() -> int:
    count = db.session.scalar(select(func.count()).select_from(CommissionPlanVersion))
    db.session.commit()
    return count or 0


# -- integer settings: the commission plan's return window ---------------------------------


@pytest.mark.parametrize("days", HUGE_WINDOWS)
def test_plan_with_a_return_window_out_of_bounds_is_422(http, days):
    headers = bearer(_operator())
    before = db_snapshot()
    body = assert_refused(http.post(PLAN_URL, json={"rules": {
        "rates_bp": [1000, 500], "return_window_days": days}}, headers=headers), 422, before)
    problems = body["errors"]["problems"]
    assert any("return_window_days" in problem for problem in problems), problems
    assert body["message"]
    assert _plan_count() == 0


def test_plan_at_the_longest_window_is_accepted(http):
    made = http.post(PLAN_URL, json={"rules": {
        "rates_bp": [1000, 500], "return_window_days": MAX_RETURN_WINDOW_DAYS}},
        headers=bearer(_operator()))
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["rules"]["return_window_days"] == MAX_RETURN_WINDOW_DAYS


@pytest.mark.parametrize("days", [10**30, 2**63 - 1])
def test_the_service_refuses_the_window_too(app, days):
    """A CLI or any other caller of the service cannot store it either."""
    with pytest.raises(InvalidInput):
        save_plan(db.session, Actor.of(_operator()), {"rates_bp": [1000, 500],
                                                      "return_window_days": days})
    db.session.rollback()
    assert _plan_count() == 0


@pytest.mark.parametrize("rules", [
    {"rates_bp": [10**30, 0]},
    {"rates_bp": [1000, 500], "cap_bp": 2**63},
    {"rates_bp": [1000, 500], "levels": 2**63},
    {"rates_bp": [1000, 500], "product_rates_bp": {str(2**63): [10, 10]}},
    {"rates_bp": [1000, 500], "category_rates_bp": {str(MAX_ID + 1): [10, 10]}},
    {"rates_bp": [1000, 500], "tier_rates_bp": {"x" * 33: [10, 10]}},
])
def test_other_plan_numbers_out_of_bounds_are_422(http, rules):
    headers = bearer(_operator())
    before = db_snapshot()
    assert_refused(http.post(PLAN_URL, json={"rules": rules}, headers=headers), 422, before)


def test_a_poisoned_plan_saved_earlier_no_longer_breaks_payment_or_receipt(app):
    """A version stored before the bound (2**31 days) is read as the longest window:
    the pay notify and the receipt confirmation work and the commission matures."""
    install_fake_gateway(app)
    operator = _operator()
    db.session.add(CommissionPlanVersion(
        version=1, rules={"rates_bp": [1000, 500], "return_window_days": 2**31}, note="old",
        created_by=operator.id))
    db.session.commit()
    assert active_plan(db.session).plan.return_window_days == MAX_RETURN_WINDOW_DAYS
    db.session.rollback()
    alice = make_distributor()
    buyer = make_user()
    link(buyer, alice)
    order = paid_order(app, buyer, (10_000, 1))
    assert order.status == OrderStatus.PAID
    complete(order)
    line = db.session.scalars(select(CommissionLine).where(
        CommissionLine.order_id == order.id)).one()
    assert line.return_window_days == MAX_RETURN_WINDOW_DAYS
    completed = db.session.get(Order, order.id).completed_at
    assert line.matures_at == completed + timedelta(days=MAX_RETURN_WINDOW_DAYS)


def test_a_commission_line_with_a_huge_stored_window_still_completes(app):
    """Lines written before the bound may hold up to 2**31 - 1 days; confirming receipt
    matures them after the longest window instead of answering 500."""
    install_fake_gateway(app)
    save_plan(db.session, Actor.of(_operator()), {"rates_bp": [1000, 500]})
    alice = make_distributor()
    buyer = make_user()
    link(buyer, alice)
    order = paid_order(app, buyer, (10_000, 1))
    db.session.execute(update(CommissionLine).where(CommissionLine.order_id == order.id)
                       .values(return_window_days=2**31 - 1))
    db.session.commit()
    complete(order)
    line = db.session.scalars(select(CommissionLine).where(
        CommissionLine.order_id == order.id)).one()
    assert db.session.get(Order, order.id).status == OrderStatus.COMPLETED
    assert line.matures_at is not None


def test_an_order_too_large_for_the_amount_columns_is_422(http):
    """1 M yuan x 50 would overflow the 32-bit total: refused, stock left as it was."""
    _, sku = make_product(price_fen=100_000_000, supply_price_fen=1, stock=100)
    headers = bearer(make_user())
    before = db_snapshot()
    assert_refused(http.post("/api/v1/orders", json={
        "items": [{"sku_id": sku.id, "quantity": 50}], "address": GOOD_ADDRESS},
        headers=headers), 422, before)


# -- referral settings and tiers -----------------------------------------------------------


@pytest.mark.parametrize("change", [
    {"binding_mode": "first_touch_expiring", "binding_days": 2**63},
    {"binding_mode": "first_touch_expiring", "binding_days": 3651},
    {"eligibility": "spend", "eligibility_spend_fen": 2**31},
    {"levels": 2**63},
])
def test_referral_settings_out_of_bounds_are_422(http, change):
    headers = bearer(_operator())
    before = db_snapshot()
    assert_refused(http.put("/api/v1/operator/referral-settings", json=change,
                            headers=headers), 422, before)


def test_referral_settings_service_refuses_a_spend_beyond_the_column(app):
    from referral.settings import change_rules

    with pytest.raises(InvalidInput):
        change_rules(db.session, Actor.of(_operator()),
                     {"eligibility": "spend", "eligibility_spend_fen": 2**31})


@pytest.mark.parametrize("tier", [
    {"code": "gold", "name": "Gold", "rank": 1, "min_own_sales_fen": 10**15},
    {"code": "gold", "name": "Gold", "rank": 1, "min_completed_orders": 2**31},
    {"code": "gold", "name": "Gold", "rank": 2**63},
])
def test_tier_thresholds_out_of_bounds_are_422(http, tier):
    headers = bearer(_operator())
    before = db_snapshot()
    assert_refused(http.post("/api/v1/operator/distributor-tiers", json=tier, headers=headers),
                   422, before)


def test_tier_service_refuses_a_threshold_beyond_the_column(app):
    from referral.distributors import save_tier

    with pytest.raises(InvalidInput):
        save_tier(db.session, Actor.of(_operator()), {
            "code": "gold", "name": "Gold", "rank": 1, "min_team_sales_fen": 2**40})


# -- pages, id filters and path ids --------------------------------------------------------


def _everyone() -> dict[str, str]:
    supplier = make_supplier()
    user = make_user(Role.OPERATOR, Role.SUPPLIER, Role.DISTRIBUTOR, Role.CONSUMER,
                     supplier=supplier)
    return bearer(user)


def _paginated_lists(http) -> list[str]:
    spec = http.get("/api/v1/openapi.json").get_json()
    found = []
    for path, operations in spec["paths"].items():
        get = operations.get("get") or {}
        if any(p.get("name") == "page" and p.get("in") == "query"
               for p in get.get("parameters", [])):
            found.append(path.replace("{", "").replace("}", "").replace("user_id", "1"))
    return found


def test_every_paginated_list_documents_and_enforces_a_page_bound(http):
    headers = _everyone()
    paths = _paginated_lists(http)
    assert len(paths) >= 13, paths
    spec = http.get("/api/v1/openapi.json").get_json()
    pages = [p for ops in spec["paths"].values() for p in (ops.get("get") or {}).get(
        "parameters", []) if p.get("name") == "page"]
    assert all(p["schema"].get("maximum") for p in pages)
    before = db_snapshot()
    for path in paths:
        for query in (f"page={2**63}", "page=100001", f"page_size={2**63}", "page=0"):
            body = assert_refused(http.get(f"{path}?{query}", headers=headers), 422, before)
            assert "query" in body["errors"], (path, body)


def test_anonymous_product_list_with_a_huge_page_is_422(http):
    before = db_snapshot()
    body = assert_refused(http.get("/api/v1/products?page=9223372036854775808"), 422, before)
    assert "page" in body["errors"]["query"]
    assert http.get("/api/v1/products?page=100000").status_code == 200


@pytest.mark.parametrize("query", [
    f"distributor_id={2**63}", f"distributor_id={MAX_ID + 1}", "distributor_id=0",
    "distributor_id=-1",
])
def test_withdrawal_list_id_filter_out_of_bounds_is_422(http, query):
    headers = bearer(_operator())
    before = db_snapshot()
    body = assert_refused(http.get(f"/api/v1/operator/withdrawals?{query}", headers=headers),
                          422, before)
    assert "distributor_id" in body["errors"]["query"]


@pytest.mark.parametrize("path", [
    "/api/v1/operator/orders?buyer_id=9223372036854775808",
    "/api/v1/operator/orders?supplier_id=99999999999999999999",
    "/api/v1/operator/supplier-settlements?supplier_id=9223372036854775808",
    "/api/v1/products?category_id=9223372036854775808",
])
def test_other_id_filters_out_of_bounds_are_422(http, path):
    headers = bearer(_operator())
    before = db_snapshot()
    assert_refused(http.get(path, headers=headers), 422, before)


@pytest.mark.parametrize("order_id", ["99999999999999999999", str(2**63), str(MAX_ID + 1)])
def test_path_ids_beyond_the_column_are_404(http, order_id):
    headers = _everyone()
    before = db_snapshot()
    for path in (f"/api/v1/orders/{order_id}", f"/api/v1/orders/{order_id}/refunds",
                 f"/api/v1/supplier/orders/{order_id}"):
        assert_refused(http.get(path, headers=headers), 404, before)
    assert_refused(http.post(f"/api/v1/orders/{order_id}/confirm-receipt", headers=headers),
                   404, before)


# -- text that cannot be stored ------------------------------------------------------------

BAD_TEXTS = ["\ud800", "a\udfffb", "nul\x00here"]


def _refused_text(http, method, url, body, headers, field):
    before = db_snapshot()
    answer = assert_refused(getattr(http, method)(url, json=body, headers=headers), 422, before)
    assert field in json.dumps(answer["errors"]), answer
    assert "Traceback" not in json.dumps(answer)
    return answer


@pytest.mark.parametrize("bad", BAD_TEXTS)
def test_unstorable_text_in_a_product_name_is_422(http, bad):
    supplier = make_supplier()
    staff = make_user(Role.SUPPLIER, supplier=supplier)
    category = make_category()
    body = {"title": f"tea {bad}", "category_id": category.id, "status": "active",
            "skus": [{"code": "T1", "name": "250 g", "price_fen": 100, "supply_price_fen": 50}]}
    _refused_text(http, "post", "/api/v1/supplier/products", body, bearer(staff), "title")
    body = {**body, "title": "tea", "skus": [{**body["skus"][0], "name": bad}]}
    _refused_text(http, "post", "/api/v1/supplier/products", body, bearer(staff), "name")


@pytest.mark.parametrize("bad", BAD_TEXTS)
def test_unstorable_text_in_an_address_recipient_is_422(http, bad):
    _refused_text(http, "post", "/api/v1/addresses", {**GOOD_ADDRESS, "recipient": bad},
                  bearer(make_user()), "recipient")


@pytest.mark.parametrize("bad", BAD_TEXTS)
def test_unstorable_text_in_a_refund_reason_is_422(any_app, http, bad):
    install_fake_gateway(any_app)
    order = paid_order(any_app, make_user(), (1_000, 1))
    _refused_text(http, "post", f"/api/v1/orders/{order.id}/refunds", {"reason": bad},
                  bearer(_operator()), "reason")


@pytest.mark.parametrize("bad", BAD_TEXTS)
def test_unstorable_text_in_a_distributor_decision_is_422(http, bad):
    applicant = make_distributor("pending")
    _refused_text(http, "post", f"/api/v1/operator/distributors/{applicant.id}/reject",
                  {"reason": bad}, bearer(_operator()), "reason")


def test_unstorable_text_in_a_key_or_a_raw_rule_is_422(http):
    headers = bearer(_operator())
    _refused_text(http, "post", PLAN_URL, {"rules": {
        "rates_bp": [1000, 500], "tier_rates_bp": {"\ud800": [10, 10]}}}, headers, "rules")
    _refused_text(http, "put", "/api/v1/operator/referral-settings",
                  {"binding_mode": "last\x00touch"}, headers, "binding_mode")


@pytest.mark.parametrize("query", ["q=%00", "q=tea%00", "category_id=1%00"])
def test_nul_in_a_query_is_422(http, query):
    before = db_snapshot()
    body = assert_refused(http.get(f"/api/v1/products?{query}"), 422, before)
    assert "query" in body["errors"]


# -- JSON nesting --------------------------------------------------------------------------


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("text", [
    _nested(100_000),
    '{"sku_id": 1, "quantity": 1, "x": ' + _nested(100_000) + "}",
    "[" * (1024 * 1024 - 10),  # as large as a body may be, all of it nesting
    _nested(MAX_JSON_DEPTH + 1),
    '{"sku_id": ' + "1" * 5000 + ', "quantity": 1}',  # beyond Python's int parsing limit
])
def test_deep_or_unreadable_json_is_400(http, text):
    headers = bearer(make_user())
    before = db_snapshot()
    body = assert_refused(http.post("/api/v1/cart/items", data=text,
                                    content_type="application/json", headers=headers),
                          400, before)
    assert body["message"]


def test_deep_json_on_another_body_endpoint_is_400(http):
    headers = bearer(_operator())
    before = db_snapshot()
    assert_refused(http.post(PLAN_URL, data='{"rules": ' + _nested(100_000) + "}",
                             content_type="application/json", headers=headers), 400, before)


def test_json_at_the_depth_limit_still_reaches_the_schema(http):
    headers = bearer(make_user())
    before = db_snapshot()
    body = {"sku_id": 1, "quantity": 1, "note": json.loads(_nested(MAX_JSON_DEPTH - 1))}
    answer = assert_refused(http.post("/api/v1/cart/items", json=body, headers=headers), 422,
                            before)
    assert "note" in answer["errors"]["json"]  # an unknown field: the schema said so


# -- a supplier reads only its own refund lines ----------------------------------------------


def test_supplier_sees_only_its_own_refund_lines_on_a_mixed_order(any_app, http):
    install_fake_gateway(any_app)
    operator = Actor.of(_operator())
    buyer = make_user()
    order = paid_order(any_app, buyer, (1_000, 2), (3_000, 2))
    mine, theirs = sorted(order.lines, key=lambda line: line.id)
    staff = make_user(Role.SUPPLIER, supplier=db.session.get(Supplier, mine.supplier_id))
    refund(any_app, operator, order, [(theirs.id, 1, None)], reason="their broken vase")
    order = db.session.get(Order, order.id)
    refund(any_app, operator, order, [(mine.id, 1, None), (theirs.id, 0, 500)],
           reason="mixed parcel")

    seen = http.get(f"/api/v1/orders/{order.id}/refunds", headers=bearer(staff))
    assert seen.status_code == 200, seen.get_json()
    refunds = seen.get_json()
    assert len(refunds) == 1
    assert refunds[0]["reason"] == "mixed parcel"
    assert [line["order_line_id"] for line in refunds[0]["lines"]] == [mine.id]
    assert refunds[0]["amount_fen"] == 1_000
    assert "their broken vase" not in seen.get_data(as_text=True)

    everything = http.get(f"/api/v1/orders/{order.id}/refunds", headers=bearer(buyer))
    assert [r["amount_fen"] for r in everything.get_json()] == [3_000, 1_500]
    other = make_user(Role.SUPPLIER, supplier=db.session.get(Supplier, theirs.supplier_id))
    theirs_seen = http.get(f"/api/v1/orders/{order.id}/refunds", headers=bearer(other))
    assert [r["amount_fen"] for r in theirs_seen.get_json()] == [3_000, 500]
    stranger = bearer(make_user(Role.SUPPLIER, supplier=make_supplier()))
    before = db_snapshot()
    assert_refused(http.get(f"/api/v1/orders/{order.id}/refunds", headers=stranger), 404, before)


# -- CSV exports -----------------------------------------------------------------------------


def _csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


def test_bank_export_neutralises_nicknames(any_app, http):
    from tests.support.stories import fund

    install_fake_gateway(any_app)
    funded = fund(any_app)
    alice = db.session.get(User, funded.alice.id)
    alice.nickname = '=HYPERLINK("http://evil.example","x")'
    db.session.commit()
    made = http.post("/api/v1/distributor/withdrawals", json={"amount_fen": 1_000,
                                                               "channel": "manual"},
                     headers=bearer(alice)).get_json()
    operator = bearer(db.session.get(User, funded.operator.user_id))
    assert http.post(f"/api/v1/operator/withdrawals/{made['id']}/approve",
                     headers=operator).status_code == 200
    rows = _csv_rows(http.get("/api/v1/operator/withdrawals/bank-export.csv", headers=operator))
    header, row = rows[0], rows[1]
    assert row[header.index("nickname")] == "'" + alice.nickname
    assert row[header.index("amount_yuan")] == "10.00"
    assert db.session.scalar(select(func.count()).select_from(Withdrawal)) == 1


def test_report_export_neutralises_supplier_names_and_keeps_numbers(any_app, http):
    install_fake_gateway(any_app)
    operator = _operator()
    supplier = make_supplier("-2+3+cmd|' /C calc'!A0")
    buyer = make_user()
    _, sku = make_product(supplier, price_fen=1_000, supply_price_fen=600)
    order = checkout.checkout(db.session, settings_of(), buyer.id, [(sku.id, 1)], ADDRESS)
    db.session.commit()
    assert payments.apply_pay_notify(
        db.session, gateway_of(), signed_pay_notify(any_app, order.number, order.total_fen)).applied
    rows = _csv_rows(http.get("/api/v1/operator/reports/supplier-payables.csv",
                              headers=bearer(operator)))
    header, row = rows[0], rows[1]
    assert row[header.index("supplier_name")] == "'" + supplier.name
    assert row[header.index("closing_yuan")] == "6.00"
    assert row[header.index("closing_fen")] == "600"
