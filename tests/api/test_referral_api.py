"""Referral API for consumers and distributors: applying, binding by invite code, team views.

Binding and refusal tests run on SQLite and on PostgreSQL (``http`` is ``any_app``).
"""
from __future__ import annotations

import json

import pytest

from core.models import Distributor, Order, Role
from tests.support.api import assert_refused, bearer
from tests.support.db import db_snapshot
from tests.support.factories import APPROVED, link, make_distributor, make_supplier, make_user
from tests.support.payments import paid_order
from tests.support.referral import audit_rows, invite_code, upline_of
from webapp.extensions import db

DISTRIBUTOR_ENDPOINTS = [
    ("get", "/api/v1/distributor/team", None),
    ("get", "/api/v1/distributor/team/members", None),
]
OPERATOR_ENDPOINTS = [
    ("get", "/api/v1/operator/referral-settings", None),
    ("put", "/api/v1/operator/referral-settings", {"levels": 1}),
    ("get", "/api/v1/operator/distributors", None),
    ("get", "/api/v1/operator/distributors/1", None),
    ("post", "/api/v1/operator/distributors/1/approve", {}),
    ("post", "/api/v1/operator/distributors/1/freeze", {"reason": "x"}),
    ("put", "/api/v1/operator/distributors/1/tier", {"tier_id": None, "reason": "x"}),
    ("get", "/api/v1/operator/distributor-tiers", None),
    ("post", "/api/v1/operator/distributor-tiers", {"code": "t", "name": "T", "rank": 1}),
    ("patch", "/api/v1/operator/distributor-tiers/1", {"name": "T"}),
    ("get", "/api/v1/operator/users/1/referral", None),
    ("put", "/api/v1/operator/users/1/upline", {"upline_id": None, "reason": "x"}),
    ("get", "/api/v1/operator/users/1/binding-history", None),
]
CONSUMER_ENDPOINTS = [
    ("get", "/api/v1/me/distributor", None),
    ("post", "/api/v1/me/distributor", None),
    ("get", "/api/v1/me/upline", None),
    ("post", "/api/v1/me/upline", {"invite_code": "ABCDEFGH"}),
]


def _call(http, method, url, body, headers=None):
    return getattr(http, method)(url, json=body, headers=headers or {})


def test_every_referral_endpoint_needs_a_token(http):
    before = db_snapshot()
    for method, url, body in CONSUMER_ENDPOINTS + DISTRIBUTOR_ENDPOINTS + OPERATOR_ENDPOINTS:
        response = _call(http, method, url, body)
        assert_refused(response, 401, before)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_consumers_and_suppliers_cannot_call_operator_or_distributor_endpoints(http):
    consumer = bearer(make_user())
    supplier = bearer(make_user(Role.SUPPLIER, supplier=make_supplier()))
    before = db_snapshot()
    for method, url, body in OPERATOR_ENDPOINTS:
        assert_refused(_call(http, method, url, body, consumer), 403, before)
        assert_refused(_call(http, method, url, body, supplier), 403, before)
    for method, url, body in DISTRIBUTOR_ENDPOINTS:
        body_json = assert_refused(_call(http, method, url, body, consumer), 403, before)
        assert "distributor" in body_json["message"]


def test_distributors_cannot_call_operator_endpoints(client):
    headers = bearer(make_distributor())
    before = db_snapshot()
    for method, url, body in OPERATOR_ENDPOINTS:
        assert_refused(_call(client, method, url, body, headers), 403, before)


@pytest.mark.parametrize("status", ["pending", "rejected", "revoked"])
def test_team_views_need_an_active_or_frozen_record_not_just_the_role(client, status):
    # A revoked distributor keeps the role row; the record is what counts.
    headers = bearer(make_distributor(status, with_role=status in APPROVED))
    before = db_snapshot()
    for method, url, body in DISTRIBUTOR_ENDPOINTS:
        assert_refused(_call(client, method, url, body, headers), 403, before)


def test_the_distributor_role_without_a_record_is_not_enough(client):
    headers = bearer(make_user(Role.CONSUMER, Role.DISTRIBUTOR))
    before = db_snapshot()
    for method, url, body in DISTRIBUTOR_ENDPOINTS:
        assert_refused(_call(client, method, url, body, headers), 403, before)


# -- applying ---------------------------------------------------------------------------


def test_apply_then_my_status_and_share_link(http):
    user = make_user()
    operator = make_user(Role.OPERATOR)
    headers = bearer(user)
    before = db_snapshot()
    assert_refused(http.get("/api/v1/me/distributor", headers=headers), 404, before)

    applied = http.post("/api/v1/me/distributor", headers=headers)
    assert applied.status_code == 201, applied.get_json()
    body = applied.get_json()
    assert body["status"] == "pending"
    assert body["user_id"] == user.id
    assert len(body["invite_code"]) == 8
    assert body["share_url"] is None  # nobody can bind under a pending applicant
    assert body["tier"] is None

    # Applying again while pending changes nothing and says so with 200.
    before = db_snapshot()
    again = http.post("/api/v1/me/distributor", headers=headers)
    assert again.status_code == 200
    assert again.get_json() == body
    assert db_snapshot() == before

    approved = http.post(f"/api/v1/operator/distributors/{user.id}/approve", json={},
                         headers=bearer(operator))
    assert approved.status_code == 200, approved.get_json()
    mine = http.get("/api/v1/me/distributor", headers=headers).get_json()
    assert mine["status"] == "active"
    assert mine["invite_code"] == body["invite_code"]
    assert mine["share_url"] == f"http://chatshop.test/r/{body['invite_code']}"
    assert mine["decided_by"] == operator.id
    assert [a.action for a in audit_rows("distributor.applied", user)] == ["distributor.applied"]
    assert len(audit_rows("distributor.approved", user)) == 1


def test_apply_with_everyone_eligible_is_active_at_once(http):
    operator = bearer(make_user(Role.OPERATOR))
    assert http.put("/api/v1/operator/referral-settings", json={"eligibility": "everyone"},
                    headers=operator).status_code == 200
    user = make_user()
    applied = http.post("/api/v1/me/distributor", headers=bearer(user))
    assert applied.status_code == 201
    assert applied.get_json()["status"] == "active"
    assert applied.get_json()["share_url"].endswith("/r/" + applied.get_json()["invite_code"])


def test_rejected_may_apply_again_revoked_may_not(http):
    rejected, revoked = make_distributor("rejected"), make_distributor("revoked", with_role=True)
    reapplied = http.post("/api/v1/me/distributor", headers=bearer(rejected))
    assert reapplied.status_code == 201
    assert reapplied.get_json()["status"] == "pending"
    headers = bearer(revoked)
    before = db_snapshot()
    body = assert_refused(http.post("/api/v1/me/distributor", headers=headers), 409, before)
    assert "revoked" in body["message"]


# -- binding by invite code -------------------------------------------------------------


def test_bind_by_invite_code_once_and_first_touch_keeps(http):
    alice, bob = make_distributor(), make_distributor()
    carol = make_user()
    headers = bearer(carol)
    assert http.get("/api/v1/me/upline", headers=headers).get_json() == {
        "bound": False, "upline_id": None, "nickname": None, "source": None,
        "bound_at": None, "expires_at": None,
    }
    # Typed loosely: lower case, a space and a hyphen are forgiven.
    code = invite_code(alice)
    typed = f" {code[:4].lower()}-{code[4:]} "
    bound = http.post("/api/v1/me/upline", json={"invite_code": typed}, headers=headers)
    assert bound.status_code == 200, bound.get_json()
    body = bound.get_json()
    assert body["changed"] is True
    assert body["rule"] == "new"
    assert (body["bound"], body["upline_id"], body["nickname"], body["source"]) == (
        True, alice.id, alice.nickname, "invite_code")
    assert upline_of(carol) == alice.id
    mine = http.get("/api/v1/me/upline", headers=headers).get_json()
    assert mine["upline_id"] == alice.id and mine["bound"] is True

    # The same code again binds once: one audit row, nothing else written.
    before = db_snapshot()
    again = http.post("/api/v1/me/upline", json={"invite_code": code}, headers=headers)
    assert again.status_code == 200
    assert (again.get_json()["changed"], again.get_json()["rule"]) == (False, "already bound")
    assert db_snapshot() == before

    # Another distributor's code: first touch (the default) keeps Alice.
    other = http.post("/api/v1/me/upline", json={"invite_code": invite_code(bob)},
                      headers=headers)
    assert other.status_code == 200
    assert (other.get_json()["changed"], other.get_json()["upline_id"]) == (False, alice.id)
    assert db_snapshot() == before
    history = audit_rows("referral.bound", carol)
    assert len(history) == 1
    assert history[0].details["source"] == "invite_code"
    assert history[0].details["upline_id"] == alice.id


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"invite_code": "abc"}, 422),
        ({"invite_code": "ABCDEFG!"}, 422),
        ({"invite_code": "ABCD0OIL"}, 422),  # letters that codes never use
        ({"invite_code": "x" * 100}, 422),
        ({"invite_code": 12345678}, 422),
        ({}, 422),
        ({"invite_code": "ABCDEFGH", "upline_id": 1}, 422),
    ],
)
def test_malformed_invite_codes_are_422_and_change_nothing(http, body, status):
    make_distributor()
    headers = bearer(make_user())
    before = db_snapshot()
    assert_refused(http.post("/api/v1/me/upline", json=body, headers=headers), status, before)


def test_unknown_invite_code_is_404_and_changes_nothing(http):
    make_distributor()
    headers = bearer(make_user())
    before = db_snapshot()
    body = assert_refused(
        http.post("/api/v1/me/upline", json={"invite_code": "ZZZZZZZZ"}, headers=headers),
        404, before,
    )
    assert "invite code" in body["message"]


def test_refused_bindings_are_409_with_the_reason_and_change_nothing(http):
    alice = make_distributor()
    frozen, pending, revoked = (make_distributor(s, with_role=s in APPROVED)
                                for s in ("frozen", "pending", "revoked"))
    # Bob is a distributor under Alice: Alice binding under Bob would be a loop.
    bob = make_distributor(upline=alice)
    consumer = make_user()
    cases = [
        (alice, alice, "self"),
        (consumer, frozen, "distributor_inactive"),
        (consumer, pending, "distributor_inactive"),
        (consumer, revoked, "distributor_inactive"),
        (alice, bob, "cycle"),
    ]
    for who, target, reason in cases:
        headers = bearer(who)
        before = db_snapshot()
        body = assert_refused(
            http.post("/api/v1/me/upline", json={"invite_code": invite_code(target)},
                      headers=headers),
            409, before,
        )
        assert body["status"] == "binding_refused"
        assert body["errors"]["reason"] == reason, (who, target)
        assert body["message"]
    assert upline_of(alice) is None
    assert upline_of(consumer) is None


# -- the distributor's team -------------------------------------------------------------


def test_team_stats_and_members_of_my_own_team_only(http):
    alice, bob = make_distributor(), make_distributor()
    ann = make_user()
    link(ann, alice)
    amy = make_distributor(upline=alice)  # a distributor in Alice's team, with her own
    link(make_user(), amy)
    link(make_user(), bob)  # Bob's: never in Alice's figures
    ann_order = paid_order(http.application, ann, (1200, 1)).id
    total = db.session.get(Order, ann_order).total_fen
    db.session.commit()

    team = http.get("/api/v1/distributor/team", headers=bearer(alice))
    assert team.status_code == 200, team.get_json()
    assert team.get_json() == {
        "direct_count": 2, "team_size": 3, "team_sales_fen": total,
        "levels": [{"level": 1, "sales_fen": total, "orders": 1}],
        "since": None, "until": None,
    }
    bobs = http.get("/api/v1/distributor/team", headers=bearer(bob)).get_json()
    assert (bobs["direct_count"], bobs["team_size"], bobs["team_sales_fen"]) == (1, 1, 0)

    members = http.get("/api/v1/distributor/team/members?page_size=1", headers=bearer(alice))
    assert members.status_code == 200
    assert json.loads(members.headers["X-Pagination"])["total"] == 2
    page = members.get_json()
    assert len(page) == 1
    everyone = http.get("/api/v1/distributor/team/members", headers=bearer(alice)).get_json()
    by_id = {m["user_id"]: m for m in everyone}
    assert set(by_id) == {ann.id, amy.id}
    assert by_id[amy.id]["distributor_status"] == "active"
    assert by_id[amy.id]["direct_count"] == 1
    assert by_id[ann.id]["distributor_status"] is None
    # No way to name someone else's team: an extra parameter changes nothing.
    sneaky = http.get(f"/api/v1/distributor/team/members?distributor_id={bob.id}",
                      headers=bearer(alice)).get_json()
    assert {m["user_id"] for m in sneaky} == {ann.id, amy.id}


def test_team_sales_by_period(http):
    alice = make_distributor()
    ann = make_user()
    link(ann, alice)
    paid_order(http.application, ann, (1000, 1))
    headers = bearer(alice)
    later = http.get("/api/v1/distributor/team?since=2999-01-01T00:00:00Z", headers=headers)
    assert later.status_code == 200
    assert later.get_json()["team_sales_fen"] == 0
    assert later.get_json()["since"].startswith("2999-01-01T00:00:00")
    earlier = http.get("/api/v1/distributor/team?until=2000-01-01T00:00:00", headers=headers)
    assert earlier.get_json()["team_sales_fen"] == 0  # naive times are UTC
    window = http.get(
        "/api/v1/distributor/team?since=2000-01-01T00:00:00%2B08:00&until=2999-01-01T00:00:00Z",
        headers=headers,
    ).get_json()
    assert window["team_sales_fen"] > 0
    before = db_snapshot()
    assert_refused(http.get("/api/v1/distributor/team?since=2020-01-02T00:00:00Z"
                            "&until=2020-01-01T00:00:00Z", headers=headers), 422, before)
    assert_refused(http.get("/api/v1/distributor/team?since=yesterday", headers=headers),
                   422, before)


def test_a_frozen_distributor_may_still_see_their_team(client):
    alice = make_distributor("frozen", with_role=True)
    link(make_user(), alice)
    team = client.get("/api/v1/distributor/team", headers=bearer(alice))
    assert team.status_code == 200
    assert team.get_json()["direct_count"] == 1
    assert client.get("/api/v1/distributor/team/members",
                      headers=bearer(alice)).status_code == 200


# -- roles endpoint: distributorship is not a grantable role ----------------------------


def test_operator_cannot_grant_or_revoke_the_distributor_role_directly(http):
    operator = bearer(make_user(Role.OPERATOR))
    consumer, distributor = make_user(), make_distributor()
    before = db_snapshot()
    for user in (consumer, distributor):
        url = f"/api/v1/operator/users/{user.id}/roles/distributor"
        assert_refused(http.put(url, json={}, headers=operator), 404, before)
        assert_refused(http.delete(url, headers=operator), 404, before)
    assert db.session.get(Distributor, consumer.id) is None
    db.session.commit()


# -- OpenAPI ----------------------------------------------------------------------------


def test_openapi_document_lists_the_referral_paths(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    expected = {
        "/api/v1/me/distributor": {"get", "post"},
        "/api/v1/me/upline": {"get", "post"},
        "/api/v1/distributor/team": {"get"},
        "/api/v1/distributor/team/members": {"get"},
        "/api/v1/operator/referral-settings": {"get", "put"},
        "/api/v1/operator/distributors": {"get"},
        "/api/v1/operator/distributors/{user_id}": {"get"},
        "/api/v1/operator/distributors/{user_id}/{action}": {"post"},
        "/api/v1/operator/distributors/{user_id}/tier": {"put"},
        "/api/v1/operator/distributor-tiers": {"get", "post"},
        "/api/v1/operator/distributor-tiers/{tier_id}": {"patch"},
        "/api/v1/operator/users/{user_id}/referral": {"get"},
        "/api/v1/operator/users/{user_id}/upline": {"put"},
        "/api/v1/operator/users/{user_id}/binding-history": {"get"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), path
        for method in methods:
            operation = paths[path][method]
            assert operation["security"] == [{"bearerAuth": []}], (method, path)
            assert "401" in operation["responses"], (method, path)
            if "/operator/" in path or "/distributor/" in path:
                assert "403" in operation["responses"], (method, path)
    actions = paths["/api/v1/operator/distributors/{user_id}/{action}"]["parameters"]
    assert {"approve", "reject", "freeze", "unfreeze", "revoke", "reinstate"} == set(
        next(p for p in actions if p["name"] == "action")["schema"]["enum"])
    assert {"200", "201", "409"} <= set(paths["/api/v1/me/distributor"]["post"]["responses"])
    assert {"404", "409", "422"} <= set(paths["/api/v1/me/upline"]["post"]["responses"])
    schemas = spec["components"]["schemas"]
    assert schemas["Tier"]["properties"]["min_team_sales_fen"]["type"] == "integer"
    assert schemas["TeamStats"]["properties"]["team_sales_fen"]["type"] == "integer"
    assert schemas["ReferralSettingsUpdate"]["properties"]["levels"]["maximum"] == 3
