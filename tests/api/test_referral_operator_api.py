"""Operator referral API: settings and their guardrails, distributor decisions, tiers, the tree.

Guardrail and tree-change tests run on SQLite and on PostgreSQL (``http`` is ``any_app``).
"""
from __future__ import annotations

import json

import pytest

from core.models import DistributorTier, ReferralSettings, Role
from tests.support.api import assert_refused, bearer
from tests.support.db import db_snapshot
from tests.support.factories import link, make_distributor, make_user
from tests.support.payments import paid_order
from tests.support.referral import audit_rows, count, invite_code, upline_of
from webapp.extensions import db

SETTINGS = "/api/v1/operator/referral-settings"
DEFAULTS = {
    "eligibility": "manual",
    "eligibility_spend_fen": 0,
    "binding_mode": "first_touch",
    "binding_days": None,
    "levels": 2,
    "three_levels_acknowledged": False,
    "inactive_upline": "skip",
}


@pytest.fixture
def operator():
    return make_user(Role.OPERATOR)


# -- settings and guardrails ------------------------------------------------------------


def test_settings_default_then_change_audited(http, operator):
    headers = bearer(operator)
    assert http.get(SETTINGS, headers=headers).get_json() == DEFAULTS
    changed = http.put(SETTINGS, json={"binding_mode": "first_touch_expiring",
                                       "binding_days": 30}, headers=headers)
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json() == {**DEFAULTS, "binding_mode": "first_touch_expiring",
                                  "binding_days": 30}
    # Fields left out keep their values.
    three = http.put(SETTINGS, json={"levels": 3, "three_levels_acknowledged": True},
                     headers=headers)
    assert three.status_code == 200, three.get_json()
    assert three.get_json()["binding_days"] == 30
    assert http.get(SETTINGS, headers=headers).get_json()["levels"] == 3
    audit = audit_rows("referral.settings_changed")
    assert [a.actor_id for a in audit] == [operator.id, operator.id]
    assert audit[1].details["before"]["levels"] == 2
    assert audit[1].details["after"]["levels"] == 3


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"levels": 4}, "at most 3 levels"),
        ({"levels": 4, "three_levels_acknowledged": True}, "at most 3 levels"),
        ({"levels": 3}, "acknowledgement"),
        ({"levels": 0}, "at least 1"),
        ({"entry_fee_fen": 100}, "never cost money"),
        ({"levels": 2, "membership_price": 9900}, "never cost money"),
        ({"deposit_fen": 1}, "never cost money"),
        ({"recruit_bonus_fen": 500}, "unknown settings"),
        ({"levels": "2"}, ""),
        ({"levels": 2.0}, ""),
        ({"three_levels_acknowledged": "yes"}, ""),
        ({"binding_mode": "forever"}, ""),
        ({"binding_mode": "first_touch_expiring"}, "binding_days"),
        ({"eligibility": "spend"}, "eligibility_spend_fen"),
        ({}, ""),
    ],
)
def test_guardrails_refuse_settings_with_422_and_change_nothing(http, operator, body, words):
    headers = bearer(operator)
    before = db_snapshot()
    refused = assert_refused(http.put(SETTINGS, json=body, headers=headers), 422, before)
    assert words in json.dumps(refused, ensure_ascii=False)
    assert count(ReferralSettings) == 0
    assert audit_rows("referral.settings_changed") == []


def test_three_levels_cannot_lose_their_acknowledgement(http, operator):
    headers = bearer(operator)
    assert http.put(SETTINGS, json={"levels": 3, "three_levels_acknowledged": True},
                    headers=headers).status_code == 200
    before = db_snapshot()
    refused = assert_refused(
        http.put(SETTINGS, json={"three_levels_acknowledged": False}, headers=headers),
        422, before,
    )
    assert "acknowledgement" in refused["message"]
    assert http.put(SETTINGS, json={"levels": 2, "three_levels_acknowledged": False},
                    headers=headers).status_code == 200


# -- distributors -----------------------------------------------------------------------


def test_distributor_list_filter_and_detail(http, operator):
    headers = bearer(operator)
    pending = [make_distributor("pending") for _ in range(3)]
    active = make_distributor()
    listed = http.get("/api/v1/operator/distributors?status=pending&page_size=2",
                      headers=headers)
    assert listed.status_code == 200
    assert json.loads(listed.headers["X-Pagination"])["total"] == 3
    assert len(listed.get_json()) == 2
    assert {d["status"] for d in listed.get_json()} == {"pending"}
    everyone = http.get("/api/v1/operator/distributors?page_size=100", headers=headers)
    assert {d["user_id"] for d in everyone.get_json()} == {u.id for u in [*pending, active]}
    detail = http.get(f"/api/v1/operator/distributors/{active.id}", headers=headers).get_json()
    assert detail["nickname"] == active.nickname
    assert detail["invite_code"] == invite_code(active)
    assert detail["share_url"] == f"http://chatshop.test/r/{detail['invite_code']}"
    before = db_snapshot()
    assert_refused(http.get("/api/v1/operator/distributors?status=boss", headers=headers),
                   422, before)
    assert_refused(http.get(f"/api/v1/operator/distributors/{operator.id}", headers=headers),
                   404, before)
    assert_refused(http.get("/api/v1/operator/distributors/999999", headers=headers), 404,
                   before)


def test_distributor_decisions_follow_the_lifecycle_and_are_audited(http, operator):
    headers = bearer(operator)
    user = make_distributor("pending")
    url = f"/api/v1/operator/distributors/{user.id}"

    def decide(action, reason=""):
        return http.post(f"{url}/{action}", json={"reason": reason}, headers=headers)

    before = db_snapshot()
    assert_refused(decide("freeze", "too early"), 409, before)  # pending: nothing to freeze
    assert decide("approve").get_json()["status"] == "active"
    before = db_snapshot()
    assert_refused(decide("freeze"), 422, before)  # a reason is required
    assert_refused(decide("freeze", "x" * 201), 422, before)
    frozen = decide("freeze", "complaint under review")
    assert frozen.status_code == 200
    assert (frozen.get_json()["status"], frozen.get_json()["status_reason"]) == (
        "frozen", "complaint under review")
    assert frozen.get_json()["share_url"] is None
    before = db_snapshot()
    assert_refused(decide("freeze", "again"), 409, before)
    assert decide("unfreeze").get_json()["status"] == "active"
    assert decide("revoke", "fraud").get_json()["status"] == "revoked"
    assert decide("reinstate", "cleared").get_json()["status"] == "active"
    actions = [a.action for a in audit_rows("distributor.approved", user)
               + audit_rows("distributor.freeze", user) + audit_rows("distributor.revoke", user)]
    assert actions.count("distributor.approved") == 3  # approve, unfreeze, reinstate
    assert {"distributor.freeze", "distributor.revoke"} <= set(actions)
    before = db_snapshot()
    assert_refused(http.post("/api/v1/operator/distributors/999999/approve", json={},
                             headers=headers), 404, before)
    assert http.post(f"{url}/promote", json={}, headers=headers).status_code == 404
    assert db_snapshot() == before


def test_a_frozen_distributor_cannot_gain_people(http, operator):
    alice = make_distributor()
    assert http.post(f"/api/v1/operator/distributors/{alice.id}/freeze",
                     json={"reason": "review"}, headers=bearer(operator)).status_code == 200
    headers = bearer(make_user())
    before = db_snapshot()
    body = assert_refused(http.post("/api/v1/me/upline",
                                    json={"invite_code": invite_code(alice)}, headers=headers),
                          409, before)
    assert body["errors"]["reason"] == "distributor_inactive"


# -- tiers ------------------------------------------------------------------------------


def test_tiers_create_list_change_and_assign(http, operator):
    headers = bearer(operator)
    assert http.get("/api/v1/operator/distributor-tiers", headers=headers).get_json() == []
    silver = http.post("/api/v1/operator/distributor-tiers", headers=headers, json={
        "code": "silver", "name": "银牌", "rank": 1, "min_own_sales_fen": 100_000,
    })
    assert silver.status_code == 201, silver.get_json()
    gold = http.post("/api/v1/operator/distributor-tiers", headers=headers, json={
        "code": "gold", "name": "金牌", "rank": 2, "min_team_sales_fen": 1_000_000,
        "min_completed_orders": 3,
    }).get_json()
    listed = http.get("/api/v1/operator/distributor-tiers", headers=headers).get_json()
    assert [t["code"] for t in listed] == ["silver", "gold"]
    assert listed[1]["min_team_sales_fen"] == 1_000_000
    renamed = http.patch(f"/api/v1/operator/distributor-tiers/{gold['id']}",
                         json={"name": "Gold"}, headers=headers)
    assert renamed.status_code == 200
    assert (renamed.get_json()["name"], renamed.get_json()["rank"]) == ("Gold", 2)

    alice = make_distributor()
    url = f"/api/v1/operator/distributors/{alice.id}/tier"
    up = http.put(url, json={"tier_id": gold["id"], "reason": "top seller"}, headers=headers)
    assert up.status_code == 200, up.get_json()
    assert up.get_json()["tier"] == {"id": gold["id"], "code": "gold", "name": "Gold", "rank": 2}
    down = http.put(url, json={"tier_id": None, "reason": "complaint"}, headers=headers)
    assert down.get_json()["tier"] is None
    history = audit_rows("distributor.tier_set", alice)
    assert [(a.details["before"], a.details["after"], a.details["reason"]) for a in history] == [
        (None, "gold", "top seller"), ("gold", None, "complaint")]


def test_tier_refusals_change_nothing(http, operator):
    headers = bearer(operator)
    tiers = "/api/v1/operator/distributor-tiers"
    assert http.post(tiers, json={"code": "silver", "name": "S", "rank": 1},
                     headers=headers).status_code == 201
    alice = make_distributor()
    before = db_snapshot()
    for body, status, words in [
        ({"code": "t2", "name": "T", "rank": 2, "min_team_size": 10}, 422, "people"),
        ({"code": "t2", "name": "T", "rank": 2, "min_recruits": 5}, 422, "people"),
        ({"code": "t2", "name": "T", "rank": 2, "min_direct_members": 5}, 422, "people"),
        ({"code": "t2", "name": "T", "rank": 2, "min_vibes": 5}, 422, "unknown tier criterion"),
        ({"code": "t2", "name": "T", "rank": 2, "min_own_sales_fen": -1}, 422, ""),
        ({"code": "t2", "name": "T", "rank": 2, "min_own_sales_fen": 1.5}, 422, ""),
        ({"code": "t2", "name": "T"}, 422, "rank"),
        ({"code": "silver", "name": "Again", "rank": 2}, 409, "code or rank"),
        ({"code": "t2", "name": "Same rank", "rank": 1}, 409, "code or rank"),
    ]:
        refused = assert_refused(http.post(tiers, json=body, headers=headers), status, before)
        assert words in json.dumps(refused, ensure_ascii=False), body
    tier_id = db.session.query(DistributorTier.id).scalar()
    db.session.commit()
    assert_refused(http.patch(f"{tiers}/{tier_id}", json={}, headers=headers), 422, before)
    assert_refused(http.patch(f"{tiers}/{tier_id}", json={"min_team_size": 3},
                              headers=headers), 422, before)
    assert_refused(http.patch(f"{tiers}/999999", json={"name": "X"}, headers=headers), 404,
                   before)
    url = f"/api/v1/operator/distributors/{alice.id}/tier"
    assert_refused(http.put(url, json={"tier_id": tier_id}, headers=headers), 422, before)
    assert_refused(http.put(url, json={"tier_id": tier_id, "reason": " "}, headers=headers),
                   422, before)
    assert_refused(http.put(url, json={"tier_id": 999999, "reason": "r"}, headers=headers),
                   404, before)
    assert_refused(http.put(f"/api/v1/operator/distributors/{operator.id}/tier",
                            json={"tier_id": tier_id, "reason": "r"}, headers=headers),
                   404, before)


# -- the tree ---------------------------------------------------------------------------


def test_user_referral_view_shows_chain_depth_downline_and_team(http, operator):
    top = make_distributor()
    mid = make_distributor(upline=top)
    low = make_distributor(upline=mid)
    buyers = [make_user() for _ in range(3)]
    for buyer in buyers:
        link(buyer, low)
    paid_order(http.application, buyers[0], (1000, 1))
    headers = bearer(operator)
    view = http.get(f"/api/v1/operator/users/{low.id}/referral?page_size=2", headers=headers)
    assert view.status_code == 200, view.get_json()
    body = view.get_json()
    assert (body["user_id"], body["nickname"]) == (low.id, low.nickname)
    assert body["upline"]["upline_id"] == mid.id
    assert body["upline_chain"]["depth"] == 2
    assert [(m["hops"], m["user_id"], m["distributor_status"])
            for m in body["upline_chain"]["members"]] == [(1, mid.id, "active"),
                                                         (2, top.id, "active")]
    assert body["distributor"]["user_id"] == low.id
    assert (body["team"]["direct_count"], body["team"]["team_size"]) == (3, 3)
    assert body["team"]["levels"][0]["level"] == 1
    assert (body["downline"]["total"], body["downline"]["page_size"]) == (3, 2)
    assert len(body["downline"]["members"]) == 2
    short = http.get(f"/api/v1/operator/users/{buyers[0].id}/referral?chain_limit=1",
                     headers=headers).get_json()
    assert short["upline_chain"]["depth"] == 3
    assert [m["user_id"] for m in short["upline_chain"]["members"]] == [low.id]
    assert short["distributor"] is None
    before = db_snapshot()
    assert_refused(http.get("/api/v1/operator/users/999999/referral", headers=headers), 404,
                   before)
    assert_refused(http.get(f"/api/v1/operator/users/{low.id}/referral?page_size=1000",
                            headers=headers), 422, before)


def test_operator_moves_a_subtree_audited(http, operator):
    top, other = make_distributor(), make_distributor()
    mid = make_distributor(upline=top)
    buyer = make_user()
    link(buyer, mid)
    headers = bearer(operator)
    moved = http.put(f"/api/v1/operator/users/{mid.id}/upline",
                     json={"upline_id": other.id, "reason": "region change"}, headers=headers)
    assert moved.status_code == 200, moved.get_json()
    body = moved.get_json()
    assert (body["changed"], body["upline_id"], body["source"]) == (True, other.id, "operator")
    assert upline_of(mid) == other.id
    assert upline_of(buyer) == mid.id  # the team moves with them
    chain = http.get(f"/api/v1/operator/users/{buyer.id}/referral", headers=headers).get_json()
    assert [m["user_id"] for m in chain["upline_chain"]["members"]] == [mid.id, other.id]
    entry = audit_rows("referral.bound", mid)[-1]
    assert (entry.actor_id, entry.details["previous_upline_id"], entry.details["upline_id"],
            entry.details["reason"]) == (operator.id, top.id, other.id, "region change")

    unbound = http.put(f"/api/v1/operator/users/{mid.id}/upline",
                       json={"upline_id": None, "reason": "left the programme"},
                       headers=headers)
    assert unbound.status_code == 200
    assert (unbound.get_json()["changed"], unbound.get_json()["bound"]) == (True, False)
    assert upline_of(mid) is None

    history = http.get(f"/api/v1/operator/users/{mid.id}/binding-history", headers=headers)
    assert history.status_code == 200
    assert json.loads(history.headers["X-Pagination"])["total"] == 2
    rows = history.get_json()
    assert [(r["previous_upline_id"], r["upline_id"], r["reason"], r["actor_id"])
            for r in rows] == [(other.id, None, "left the programme", operator.id),
                               (top.id, other.id, "region change", operator.id)]
    assert rows[1]["source"] == "operator"


def test_operator_move_refusals_change_nothing(http, operator):
    top = make_distributor()
    mid = make_distributor(upline=top)
    low = make_distributor(upline=mid)
    frozen = make_distributor("frozen", with_role=True)
    consumer = make_user()
    headers = bearer(operator)

    def move(user_id, body):
        return http.put(f"/api/v1/operator/users/{user_id}/upline", json=body, headers=headers)

    before = db_snapshot()
    for user_id, body, status, reason in [
        (top.id, {"upline_id": low.id, "reason": "r"}, 409, "cycle"),
        (mid.id, {"upline_id": low.id, "reason": "r"}, 409, "cycle"),
        (top.id, {"upline_id": top.id, "reason": "r"}, 409, "self"),
        (consumer.id, {"upline_id": frozen.id, "reason": "r"}, 409, "distributor_inactive"),
        (consumer.id, {"upline_id": operator.id, "reason": "r"}, 409, "not_distributor"),
        (999999, {"upline_id": top.id, "reason": "r"}, 404, None),
        (consumer.id, {"upline_id": 999999, "reason": "r"}, 404, None),
        (consumer.id, {"upline_id": top.id}, 422, None),
        (consumer.id, {"upline_id": top.id, "reason": "  "}, 422, None),
        (consumer.id, {"reason": "r"}, 422, None),
        (consumer.id, {"upline_id": "top", "reason": "r"}, 422, None),
    ]:
        refused = assert_refused(move(user_id, body), status, before)
        if reason is not None:
            assert refused["errors"]["reason"] == reason, (user_id, body)
    assert upline_of(top) is None
    assert upline_of(mid) == top.id
    before = db_snapshot()
    assert_refused(http.get("/api/v1/operator/users/999999/binding-history", headers=headers),
                   404, before)
    assert http.get(f"/api/v1/operator/users/{consumer.id}/binding-history",
                    headers=headers).get_json() == []
