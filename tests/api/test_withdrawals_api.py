"""Withdrawal API: distributors request, list and cancel; operators list, approve, reject and
record manual payouts. Every refusal is a clear 4xx with nothing changed."""
from __future__ import annotations

import csv
import io

import pytest
from rq import Queue

from core.models import Distributor, User
from tests.support.api import assert_refused, bearer
from tests.support.db import db_snapshot
from tests.support.factories import make_distributor, make_user
from tests.support.money import assert_ledger_clean
from tests.support.payments import install_fake_gateway
from tests.support.stories import fund
from webapp.extensions import db
from webapp.redis_conn import get_redis

MINE = "/api/v1/distributor/withdrawals"
ALL = "/api/v1/operator/withdrawals"


@pytest.fixture
def world(any_app):
    install_fake_gateway(any_app)
    funded = fund(any_app)
    return {
        "funded": funded,
        "alice": bearer(funded.alice),
        "operator": bearer(db.session.get(User, funded.operator.user_id)),
        "other": bearer(make_distributor()),
        "consumer": bearer(make_user()),
    }


def _ask(http, world, amount, **extra):
    return http.post(MINE, json={"amount_fen": amount, **extra}, headers=world["alice"])


def _earnings(http, world):
    return http.get("/api/v1/distributor/earnings", headers=world["alice"]).get_json()


def test_request_list_cancel(http, world):
    made = _ask(http, world, 3_000)
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert (body["amount_fen"], body["status"], body["channel"]) == (3_000, "requested", "wechat")
    assert "openid" not in body
    earnings = _earnings(http, world)
    assert (earnings["available_fen"], earnings["withdrawing_fen"]) == (2_000, 3_000)

    listed = http.get(MINE, headers=world["alice"])
    assert [w["id"] for w in listed.get_json()] == [body["id"]]
    assert http.get(MINE, headers=world["other"]).get_json() == []
    assert http.get(f"{MINE}/{body['id']}", headers=world["alice"]).status_code == 200
    before = db_snapshot()
    assert_refused(http.get(f"{MINE}/{body['id']}", headers=world["other"]), 404, before)
    assert_refused(http.post(f"{MINE}/{body['id']}/cancel", headers=world["other"]), 404, before)

    cancelled = http.post(f"{MINE}/{body['id']}/cancel", headers=world["alice"])
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert _earnings(http, world)["available_fen"] == 5_000
    before = db_snapshot()
    assert_refused(http.post(f"{MINE}/{body['id']}/cancel", headers=world["alice"]), 409, before)
    assert_ledger_clean(world["funded"].order)


@pytest.mark.parametrize(("payload", "status"), [
    ({"amount_fen": 0}, 422), ({"amount_fen": -1}, 422), ({"amount_fen": 1.5}, 422),
    ({"amount_fen": "100"}, 422), ({}, 422), ({"amount_fen": 99}, 422),
    ({"amount_fen": 5_001}, 409), ({"amount_fen": 200, "channel": "alipay"}, 422),
])
def test_bad_requests_change_nothing(http, world, payload, status):
    before = db_snapshot()
    assert_refused(http.post(MINE, json=payload, headers=world["alice"]), status, before)


def test_who_may_withdraw(http, world):
    before = db_snapshot()
    assert_refused(http.post(MINE, json={"amount_fen": 200}), 401, before)
    assert_refused(http.post(MINE, json={"amount_fen": 200}, headers=world["consumer"]), 403,
                   before)
    db.session.get(Distributor, world["funded"].alice.id).status = "frozen"
    db.session.commit()
    before = db_snapshot()
    assert_refused(_ask(http, world, 200), 403, before)


def test_operator_approves_rejects_and_settles_manual_payouts(http, world):
    wechat = _ask(http, world, 1_000).get_json()
    manual = _ask(http, world, 2_000, channel="manual").get_json()
    rejected = _ask(http, world, 500).get_json()

    before = db_snapshot()
    assert_refused(http.get(ALL, headers=world["alice"]), 403, before)
    assert_refused(http.post(f"{ALL}/{wechat['id']}/approve", headers=world["alice"]), 403,
                   before)
    assert_refused(http.post(f"{ALL}/{rejected['id']}/reject", json={},
                             headers=world["operator"]), 422, before)
    assert_refused(http.post(f"{ALL}/999999/approve", headers=world["operator"]), 404, before)

    listed = http.get(ALL, query_string={"status": "requested"}, headers=world["operator"])
    assert sorted(w["id"] for w in listed.get_json()) == sorted(
        [wechat["id"], manual["id"], rejected["id"]])

    done = http.post(f"{ALL}/{rejected['id']}/reject", json={"reason": "duplicate"},
                     headers=world["operator"])
    assert done.get_json()["status"] == "rejected"
    approved = http.post(f"{ALL}/{wechat['id']}/approve", headers=world["operator"])
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"
    # The WeChat payout is a job with a deterministic id.
    assert Queue("payments", connection=get_redis()).job_ids == [
        f"withdrawal-payout-{wechat['id']}"]
    assert http.post(f"{ALL}/{manual['id']}/approve",
                     headers=world["operator"]).status_code == 200
    assert Queue("payments", connection=get_redis()).count == 1  # manual: no job

    export = http.get(f"{ALL}/bank-export.csv", headers=world["operator"])
    assert export.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(export.data.decode("utf-8-sig"))))
    assert [row[0] for row in rows[1:]] == [manual["number"]]

    before = db_snapshot()
    assert_refused(http.post(f"{ALL}/{wechat['id']}/mark-paid", json={"reference": "B1"},
                             headers=world["operator"]), 409, before)
    assert_refused(http.post(f"{ALL}/{manual['id']}/mark-paid", json={"reference": ""},
                             headers=world["operator"]), 422, before)
    paid = http.post(f"{ALL}/{manual['id']}/mark-paid", json={"reference": "BANK-77"},
                     headers=world["operator"])
    assert paid.get_json()["status"] == "succeeded"
    assert paid.get_json()["reference"] == "BANK-77"
    earnings = _earnings(http, world)
    assert (earnings["available_fen"], earnings["withdrawing_fen"],
            earnings["withdrawn_fen"]) == (2_000, 1_000, 2_000)
    assert_ledger_clean(world["funded"].order)
    before = db_snapshot()
    assert_refused(http.post(f"{ALL}/{manual['id']}/mark-failed", json={"reason": "x"},
                             headers=world["operator"]), 409, before)


def test_manual_failure_returns_the_money(http, world):
    made = _ask(http, world, 2_000, channel="manual").get_json()
    http.post(f"{ALL}/{made['id']}/approve", headers=world["operator"])
    failed = http.post(f"{ALL}/{made['id']}/mark-failed", json={"reason": "account closed"},
                       headers=world["operator"])
    assert failed.get_json()["status"] == "failed"
    assert _earnings(http, world)["available_fen"] == 5_000
    assert_ledger_clean(world["funded"].order)


def test_openapi_documents_the_routes(http):
    paths = http.get("/api/v1/openapi.json").get_json()["paths"]
    for path in (MINE, MINE + "/{withdrawal_id}/cancel", ALL,
                 ALL + "/{withdrawal_id}/approve", ALL + "/{withdrawal_id}/reject",
                 ALL + "/{withdrawal_id}/mark-paid", ALL + "/{withdrawal_id}/mark-failed"):
        assert path in paths
