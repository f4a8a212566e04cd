"""Earnings, operator reports and the commission plan through the REST API.

The money comes from the story of tests/commissions/test_earnings_reports.py
(real payments, refunds before and after settlement, settlement, payouts),
whose figures are computed by hand there.
"""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from core.bounds import MAX_PAGE
from core.models import CommissionLine, Distributor, LineSplit, Role, Supplier, User
from tests.support.api import assert_refused, bearer
from tests.support.db import db_snapshot
from tests.support.factories import link, make_distributor, make_user
from tests.support.payments import install_fake_gateway, paid_order
from tests.support.stories import Story, money_story
from webapp.extensions import db

REPORTS = ["pnl", "commissions-by-level", "top-distributors", "supplier-payables"]
PLAN = "/api/v1/operator/commission-plan"
OPERATOR_GETS = ([f"/api/v1/operator/reports/{name}" for name in REPORTS]
                 + [f"/api/v1/operator/reports/{name}.csv" for name in REPORTS]
                 + [PLAN, f"{PLAN}/versions"])
PNL_HEADER = (
    "since,until,orders,gross_paid_yuan,gross_paid_fen,refunds_yuan,refunds_fen,"
    "net_paid_yuan,net_paid_fen,supplier_cost_yuan,supplier_cost_fen,"
    "commissions_gross_yuan,commissions_gross_fen,commissions_reversed_yuan,"
    "commissions_reversed_fen,commissions_yuan,commissions_fen,platform_revenue_yuan,"
    "platform_revenue_fen"
)


@pytest.fixture
def story(any_app) -> Story:
    return money_story(any_app)


def _get(http, path, who: User | dict[str, str] | None, **query):
    """GET as ``who`` (a user gets a fresh token; pass headers to write nothing more)."""
    headers = bearer(who) if isinstance(who, User) else (who or {})
    return http.get(path, headers=headers, query_string=query)


# -- distributor earnings -----------------------------------------------------------------


def test_distributors_see_their_own_earnings(http, story):
    response = _get(http, "/api/v1/distributor/earnings", story.alice)
    assert response.status_code == 200
    assert response.get_json() == {"pending_fen": 150, "available_fen": 0,
                                   "withdrawing_fen": 100, "withdrawn_fen": 300,
                                   "debt_fen": 400}
    # Same URL, another caller: their own figures; there is no way to name someone else.
    assert _get(http, "/api/v1/distributor/earnings", story.top).get_json() == {
        "pending_fen": 375, "available_fen": 0, "withdrawing_fen": 0, "withdrawn_fen": 0,
        "debt_fen": 0}
    foreign = _get(http, "/api/v1/distributor/earnings", story.bob,
                   distributor_id=story.alice.id)
    assert foreign.get_json()["pending_fen"] == 600  # bob's own: the parameter means nothing


def test_statement_lines_page_newest_first(http, story):
    first, _, third = story.orders
    response = _get(http, "/api/v1/distributor/earnings/lines", story.alice, page_size=2)
    assert response.status_code == 200
    assert json.loads(response.headers["X-Pagination"])["total"] == 3
    lines = response.get_json()
    assert [(ln["kind"], ln["order_number"], ln["amount_fen"], ln["net_fen"], ln["status"])
            for ln in lines] == [("clawback", first.number, -400, -400, "available"),
                                 ("commission", third.number, 150, 150, "pending")]
    last = _get(http, "/api/v1/distributor/earnings/lines", story.alice, page=2,
                page_size=2).get_json()
    assert len(last) == 1
    row = last[0]
    assert (row["level"], row["amount_fen"], row["reversed_fen"], row["clawed_back_fen"],
            row["net_fen"]) == (1, 500, 500, 400, 400)
    assert isinstance(row["amount_fen"], int) and row["settled_at"] and row["matures_at"]
    assert lines[0]["clawback_of"] == row["id"]
    beyond = _get(http, "/api/v1/distributor/earnings/lines", story.alice, page=MAX_PAGE)
    assert beyond.status_code == 200 and beyond.get_json() == []
    # Past the last page allowed at all: refused (issue 9), not an empty page.
    assert _get(http, "/api/v1/distributor/earnings/lines", story.alice,
                page=MAX_PAGE + 1).status_code == 422


def test_earnings_need_a_token_and_a_distributor_account(http, story):
    callers = [bearer(story.buyer), bearer(make_distributor("pending")),
               bearer(story.operator)]  # a consumer, an applicant, an operator
    before = db_snapshot()
    for path in ("/api/v1/distributor/earnings", "/api/v1/distributor/earnings/lines"):
        assert_refused(_get(http, path, None), 401, before)
        for headers in callers:
            assert_refused(_get(http, path, headers), 403, before)


@pytest.mark.parametrize("status", ["frozen", "revoked"])
def test_frozen_and_revoked_distributors_still_see_what_they_are_owed(http, story, status):
    db.session.get(Distributor, story.alice.id).status = status
    db.session.commit()
    response = _get(http, "/api/v1/distributor/earnings", story.alice)
    assert response.status_code == 200
    assert response.get_json()["debt_fen"] == 400


# -- operator reports ---------------------------------------------------------------------


def test_reports_as_json(http, story):
    ops = story.operator
    pnl = _get(http, "/api/v1/operator/reports/pnl", ops)
    assert pnl.status_code == 200
    assert pnl.get_json() == {
        "since": None, "until": None, "orders": 3, "gross_paid_fen": 25_000,
        "refunds_fen": 10_000, "net_paid_fen": 15_000, "supplier_cost_fen": 7_500,
        "commissions_gross_fen": 1_875, "commissions_reversed_fen": 750,
        "commissions_fen": 1_125, "platform_revenue_fen": 6_375}
    later = _get(http, "/api/v1/operator/reports/pnl", ops,
                 since=story.middle.isoformat()).get_json()
    assert (later["orders"], later["gross_paid_fen"], later["platform_revenue_fen"]) == (
        1, 3_000, 1_275)
    assert later["since"].startswith(story.middle.strftime("%Y-%m-%dT%H:%M:%S"))

    levels = _get(http, "/api/v1/operator/reports/commissions-by-level", ops).get_json()
    assert [(lv["level"], lv["gross_fen"], lv["reversed_fen"], lv["net_fen"])
            for lv in levels["levels"]] == [(1, 1_250, 500, 750), (2, 625, 250, 375)]

    top = _get(http, "/api/v1/operator/reports/top-distributors", ops, limit=2).get_json()
    assert [(t["rank"], t["distributor_id"], t["net_fen"]) for t in top["distributors"]] == [
        (1, story.bob.id, 600), (2, story.top.id, 375)]

    payables = _get(http, "/api/v1/operator/reports/supplier-payables", ops,
                    since=story.middle.isoformat()).get_json()
    s1, s2, s3 = story.suppliers
    assert [(p["supplier_id"], p["opening_fen"], p["change_fen"], p["closing_fen"])
            for p in payables["suppliers"]] == [
        (s2, 6_000, 0, 6_000), (s3, 0, 1_500, 1_500), (s1, 4_000, -4_000, 0)]
    assert all(p["supplier_name"] for p in payables["suppliers"])


def test_pnl_csv_by_hand_in_both_spellings(http, story):
    ops = story.operator
    response = _get(http, "/api/v1/operator/reports/pnl.csv", ops)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="pnl_open_open.csv"')
    raw = response.get_data()
    assert raw.startswith("\ufeff".encode())
    assert raw.decode("utf-8-sig").splitlines() == [
        PNL_HEADER,
        ",,3,250.00,25000,100.00,10000,150.00,15000,75.00,7500,18.75,1875,7.50,750,"
        "11.25,1125,63.75,6375",
    ]
    same = _get(http, "/api/v1/operator/reports/pnl", ops, format="csv")
    assert same.mimetype == "text/csv" and same.get_data() == raw


def test_csv_exports_name_people_safely(http, story):
    ops = story.operator
    db.session.get(User, story.bob.id).nickname = "=1+2"
    db.session.get(Supplier, story.suppliers[1]).name = "@SUM(A1:A9)"
    db.session.commit()
    top = _get(http, "/api/v1/operator/reports/top-distributors.csv", ops, limit=1)
    assert top.get_data().decode("utf-8-sig").splitlines() == [
        "since,until,rank,distributor_id,nickname,orders,lines,gross_yuan,gross_fen,"
        "reversed_yuan,reversed_fen,net_yuan,net_fen",
        f",,1,{story.bob.id},'=1+2,1,1,6.00,600,0.00,0,6.00,600",
    ]
    until = story.middle.isoformat()
    payables = _get(http, "/api/v1/operator/reports/supplier-payables", ops, until=until,
                    format="csv")
    lines = payables.get_data().decode("utf-8-sig").splitlines()
    assert lines[0].startswith("since,until,supplier_id,supplier_name,opening_yuan")
    assert f",{until},{story.suppliers[1]},'@SUM(A1:A9),0.00,0,60.00,6000,60.00,6000" in lines
    levels = _get(http, "/api/v1/operator/reports/commissions-by-level.csv", ops)
    assert levels.get_data().decode("utf-8-sig").splitlines()[1:] == [
        ",,1,3,2,12.50,1250,5.00,500,7.50,750,7.50,750,0.00,0",
        ",,2,3,1,6.25,625,2.50,250,3.75,375,3.75,375,0.00,0",
    ]


@pytest.mark.parametrize("query", [
    {"since": "2024-02-01T00:00:00Z", "until": "2024-02-01T00:00:00Z"},
    {"since": "2024-02-02", "until": "2024-02-01"},
    {"since": "yesterday"},
    {"format": "xml"},
    {"limit": 0},
    {"limit": 101},
])
def test_bad_report_queries_are_422(http, story, query):
    path = "/api/v1/operator/reports/top-distributors"
    assert _get(http, path, story.operator, **query).status_code == 422


def test_operator_endpoints_refuse_everyone_else(http, story):
    consumer, distributor = bearer(story.buyer), bearer(story.alice)
    before = db_snapshot()
    for path in OPERATOR_GETS:
        assert_refused(_get(http, path, None), 401, before)
        assert_refused(_get(http, path, consumer), 403, before)
        assert_refused(_get(http, path, distributor), 403, before)
        assert_refused(_get(http, path, consumer, format="csv"), 403, before)
    body = {"rules": {"rates_bp": [100, 50]}}
    assert_refused(http.post(f"{PLAN}/versions", json=body), 401, before)
    for headers in (consumer, distributor):
        assert_refused(http.post(f"{PLAN}/versions", json=body, headers=headers), 403, before)


def test_openapi_documents_the_new_paths_with_integer_fen(http):
    spec = http.get("/api/v1/openapi.json").get_json()
    for path in ["/api/v1/distributor/earnings", "/api/v1/distributor/earnings/lines",
                 *OPERATOR_GETS]:
        operation = spec["paths"][path]["get"]
        assert operation["security"] == [{"bearerAuth": []}], path
        assert "401" in operation["responses"], path
    assert "text/csv" in spec["paths"]["/api/v1/operator/reports/pnl.csv"]["get"][
        "responses"]["200"]["content"]
    summary = spec["components"]["schemas"]["EarningsSummary"]["properties"]
    assert {field["type"] for field in summary.values()} == {"integer"}


# -- commission plan ----------------------------------------------------------------------


@pytest.fixture
def operator(any_app) -> User:
    install_fake_gateway(any_app)
    return make_user(Role.OPERATOR)


def test_the_default_plan_until_one_is_saved(http, operator):
    response = _get(http, "/api/v1/operator/commission-plan", operator)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["version"], body["version_id"], body["is_default"]) == (0, None, True)
    assert body["rules"]["rates_bp"] == [1000, 500] and body["rules"]["levels"] == 2
    versions = _get(http, "/api/v1/operator/commission-plan/versions", operator)
    assert versions.get_json() == []
    assert json.loads(versions.headers["X-Pagination"])["total"] == 0


@pytest.mark.parametrize(("rules", "says"), [
    ({"rates_bp": [6000, 5000]}, "over the cap"),
    ({"rates_bp": [1000, 500], "cap_bp": 1200}, "over the cap"),
    ({"rates_bp": [100, 100, 100, 100], "levels": 4}, "levels must be 1, 2 or 3"),
    ({"rates_bp": [100, 100, 100], "levels": 3}, "three_levels_acknowledged"),
    ({"rates_bp": [-100, 50]}, "level 1"),
    ({"rates_bp": [10.5, 50]}, "whole number"),
    ({"rates_bp": ["100", 50]}, "whole number"),
    ({"rates_bp": [100, 50], "return_window_days": -1}, "return_window_days"),
    ({"rates_bp": [100]}, "one rate per level"),
    ({"rates_bp": [100, 50], "tier_rates_bp": {"gold": [9000, 2000]}}, "over the cap"),
    ({"rates_bp": [100, 50], "bonus": 1}, "unknown plan setting: bonus"),
    ({"levels": 2}, "rates_bp is required"),
])
def test_plans_that_break_the_rules_are_422_with_the_problems(http, operator, rules, says):
    headers = bearer(operator)
    before = db_snapshot()
    response = http.post(f"{PLAN}/versions", json={"rules": rules}, headers=headers)
    body = assert_refused(response, 422, before)
    problems = body["errors"]["problems"]
    assert isinstance(problems, list) and any(says in p for p in problems), problems


def test_every_problem_is_listed_at_once(http, operator):
    response = http.post("/api/v1/operator/commission-plan/versions", headers=bearer(operator),
                         json={"rules": {"rates_bp": [-1, 1.5], "cap_bp": 20_000}})
    assert response.status_code == 422
    assert len(response.get_json()["errors"]["problems"]) == 3


def test_malformed_bodies_are_422(http, operator):
    headers = bearer(operator)
    before = db_snapshot()
    for body in ({}, {"rules": [1000, 500]}, {"rules": {"rates_bp": [1, 1]}, "note": "x" * 201}):
        assert_refused(http.post(f"{PLAN}/versions", json=body, headers=headers), 422, before)


def test_saving_makes_version_n_plus_1_and_paid_orders_keep_theirs(http, any_app, operator):
    path = "/api/v1/operator/commission-plan/versions"
    first = http.post(path, headers=bearer(operator), json={
        "rules": {"rates_bp": [1000, 500], "return_window_days": 7}, "note": "launch"})
    assert first.status_code == 201
    v1 = first.get_json()
    assert (v1["version"], v1["is_default"], v1["note"], v1["created_by"]) == (
        1, False, "launch", operator.id)
    assert v1["rules"]["cap_bp"] == 10_000  # defaults filled in and stored

    alice = make_distributor()
    buyer = make_user()
    link(buyer, alice)
    old = paid_order(any_app, buyer, (10_000, 1))  # margin 5 000 -> alice 10 % = 500

    second = http.post(path, headers=bearer(operator),
                       json={"rules": {"rates_bp": [2000, 500]}, "note": "summer"})
    assert second.status_code == 201
    v2 = second.get_json()
    assert v2["version"] == 2
    new = paid_order(any_app, buyer, (10_000, 1))  # 20 % = 1 000

    db.session.expire_all()
    assert db.session.get(LineSplit, old.lines[0].id).plan_version_id == v1["version_id"]
    assert db.session.get(LineSplit, new.lines[0].id).plan_version_id == v2["version_id"]
    amounts = dict(db.session.execute(
        select(CommissionLine.order_id, CommissionLine.amount_fen)).all())
    assert amounts == {old.id: 500, new.id: 1_000}
    db.session.commit()

    current = _get(http, "/api/v1/operator/commission-plan", operator).get_json()
    assert (current["version"], current["version_id"]) == (2, v2["version_id"])
    assert current["rules"]["rates_bp"] == [2000, 500]
    page = _get(http, "/api/v1/operator/commission-plan/versions", operator, page_size=1)
    assert [v["version"] for v in page.get_json()] == [2]
    assert json.loads(page.headers["X-Pagination"])["total"] == 2
    rest = _get(http, "/api/v1/operator/commission-plan/versions", operator, page=2,
                page_size=1).get_json()
    assert [(v["version"], v["note"]) for v in rest] == [(1, "launch")]
