"""Withdrawals through the real services, on SQLite and PostgreSQL.

Every transition moves exactly the money ARCHITECTURE.md says, every refusal
leaves every row of every table as it was, a debt blocks withdrawal, two
concurrent requests cannot spend the same money (PostgreSQL, threads), and
``ledger check`` is clean after every step.
"""
from __future__ import annotations

import csv
import io
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from commissions import ledger
from commissions import withdrawals as wd
from commissions.earnings import EarningsSummary
from commissions.ledger import Leg
from core.actors import Actor
from core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from core.models import AuditEntry, Distributor, User, Withdrawal
from shop.ledger_checks import check_ledger
from tests.support.db import db_snapshot
from tests.support.factories import make_distributor
from tests.support.money import assert_ledger_clean, refund
from tests.support.payments import install_fake_gateway
from tests.support.stories import Funded, fund, summary
from webapp.extensions import db


@pytest.fixture
def funded(any_app) -> Funded:
    install_fake_gateway(any_app)
    return fund(any_app)


def actions(withdrawal_id: int) -> list[str]:
    return list(db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.subject_type == "withdrawal",
                                        AuditEntry.subject_id == str(withdrawal_id))
        .order_by(AuditEntry.id)))


def test_request_reserves_the_money(funded):
    made = wd.request_withdrawal(db.session, funded.me, 3_000)
    assert made.status == "requested" and made.channel == "wechat"
    assert made.number.isalnum() and len(made.number) <= 32
    assert made.openid == funded.alice.openid
    assert summary(funded.alice) == EarningsSummary(0, 2_000, 3_000, 0, 0)
    assert actions(made.id) == ["withdrawal.requested"]
    assert_ledger_clean(funded.order)


@pytest.mark.parametrize(("amount", "error"), [
    (0, InvalidInput), (-100, InvalidInput), (150.5, InvalidInput), ("300", InvalidInput),
    (True, InvalidInput), (None, InvalidInput), (99, InvalidInput), (5_001, Conflict),
    (10**15, InvalidInput),
])
def test_bad_amounts_change_nothing(funded, amount, error):
    before = db_snapshot()
    with pytest.raises(error):
        wd.request_withdrawal(db.session, funded.me, amount)
    assert db_snapshot() == before


def test_the_whole_balance_can_be_withdrawn_and_then_nothing(funded):
    wd.request_withdrawal(db.session, funded.me, 5_000)
    before = db_snapshot()
    with pytest.raises(Conflict):
        wd.request_withdrawal(db.session, funded.me, 100)
    assert db_snapshot() == before
    assert_ledger_clean(funded.order)


def test_minimum_is_a_setting(funded):
    with pytest.raises(InvalidInput):
        wd.request_withdrawal(db.session, funded.me, 400, min_fen=500)
    assert wd.request_withdrawal(db.session, funded.me, 500, min_fen=500).amount_fen == 500


@pytest.mark.parametrize("status", ["frozen", "revoked", "pending", "rejected"])
def test_only_active_distributors_withdraw(funded, status):
    db.session.get(Distributor, funded.alice.id).status = status
    db.session.commit()
    before = db_snapshot()
    with pytest.raises(Forbidden):
        wd.request_withdrawal(db.session, funded.me, 1_000)
    assert db_snapshot() == before


def test_a_consumer_cannot_withdraw(funded):
    with pytest.raises(Forbidden):
        wd.request_withdrawal(db.session, Actor.of(funded.buyer), 1_000)


def test_wechat_channel_needs_an_openid(funded):
    user = db.session.get(User, funded.alice.id)
    user.openid = None
    db.session.commit()
    before = db_snapshot()
    with pytest.raises(InvalidInput):
        wd.request_withdrawal(db.session, funded.me, 1_000, channel="wechat")
    with pytest.raises(InvalidInput):
        wd.request_withdrawal(db.session, funded.me, 1_000, channel="alipay")
    assert db_snapshot() == before
    # Without an openid the default channel is the manual one.
    assert wd.request_withdrawal(db.session, funded.me, 1_000).channel == "manual"


def test_a_debt_blocks_withdrawal(any_app):
    install_fake_gateway(any_app)
    funded = fund(any_app)
    made = wd.request_withdrawal(db.session, funded.me, 3_000)
    # The order goes back after settlement: clawback 5 000 of an available 2 000.
    refund(any_app, funded.operator, funded.order)
    assert summary(funded.alice) == EarningsSummary(0, 0, 3_000, 0, 3_000)
    assert_ledger_clean(funded.order)
    before = db_snapshot()
    with pytest.raises(Conflict, match="owe"):
        wd.request_withdrawal(db.session, funded.me, 100)
    assert db_snapshot() == before
    # The request made before the refund is still the operator's to decide.
    wd.reject_withdrawal(db.session, funded.operator, made.id, "account under review")
    assert summary(funded.alice) == EarningsSummary(0, 0, 0, 0, 0)
    assert_ledger_clean(funded.order)


def test_cancel_returns_the_money_once(funded):
    made = wd.request_withdrawal(db.session, funded.me, 2_000)
    other = make_distributor()
    with pytest.raises(NotFound):
        wd.cancel_withdrawal(db.session, Actor.of(other), made.id)
    done = wd.cancel_withdrawal(db.session, funded.me, made.id)
    assert done.status == "cancelled" and done.finished_by == funded.alice.id
    assert summary(funded.alice) == EarningsSummary(0, 5_000, 0, 0, 0)
    assert_ledger_clean(funded.order)
    before = db_snapshot()
    with pytest.raises(Conflict):
        wd.cancel_withdrawal(db.session, funded.me, made.id)
    with pytest.raises(NotFound):
        wd.cancel_withdrawal(db.session, funded.me, 999_999)
    assert db_snapshot() == before
    assert actions(made.id) == ["withdrawal.requested", "withdrawal.cancelled"]


def test_reject_needs_a_reason_and_returns_the_money(funded):
    made = wd.request_withdrawal(db.session, funded.me, 2_000)
    before = db_snapshot()
    with pytest.raises(InvalidInput):
        wd.reject_withdrawal(db.session, funded.operator, made.id, "  ")
    with pytest.raises(Forbidden):
        wd.reject_withdrawal(db.session, funded.me, made.id, "mine")
    assert db_snapshot() == before
    done = wd.reject_withdrawal(db.session, funded.operator, made.id, "identity unclear")
    assert (done.status, done.failure_reason) == ("rejected", "identity unclear")
    assert done.decided_by == funded.operator.user_id
    assert summary(funded.alice) == EarningsSummary(0, 5_000, 0, 0, 0)
    assert_ledger_clean(funded.order)
    with pytest.raises(Conflict):
        wd.approve_withdrawal(db.session, funded.operator, made.id)


def test_approve_then_the_distributor_can_no_longer_cancel(funded):
    made = wd.request_withdrawal(db.session, funded.me, 2_000)
    with pytest.raises(Forbidden):
        wd.approve_withdrawal(db.session, funded.me, made.id)
    done = wd.approve_withdrawal(db.session, funded.operator, made.id)
    assert done.status == "approved" and done.decided_at is not None
    assert summary(funded.alice) == EarningsSummary(0, 3_000, 2_000, 0, 0)
    assert_ledger_clean(funded.order)
    before = db_snapshot()
    for attempt in (lambda: wd.cancel_withdrawal(db.session, funded.me, made.id),
                    lambda: wd.approve_withdrawal(db.session, funded.operator, made.id),
                    lambda: wd.reject_withdrawal(db.session, funded.operator, made.id, "late")):
        with pytest.raises(Conflict):
            attempt()
    assert db_snapshot() == before


def test_manual_payout_paid_and_failed(funded):
    paid = wd.request_withdrawal(db.session, funded.me, 2_000, channel="manual")
    failed = wd.request_withdrawal(db.session, funded.me, 1_000, channel="manual")
    by_wechat = wd.request_withdrawal(db.session, funded.me, 500)
    for made in (paid, failed, by_wechat):
        wd.approve_withdrawal(db.session, funded.operator, made.id)
    exported = list(csv.reader(io.StringIO(wd.bank_export_csv(db.session, funded.operator))))
    assert exported[0] == list(wd.BANK_EXPORT_HEADER)
    assert [(row[0], row[3]) for row in exported[1:]] == [(paid.number, "20.00"),
                                                          (failed.number, "10.00")]
    assert_ledger_clean(funded.order)

    before = db_snapshot()
    with pytest.raises(InvalidInput):
        wd.mark_paid(db.session, funded.operator, paid.id, "")
    with pytest.raises(Conflict, match="manual"):
        wd.mark_paid(db.session, funded.operator, by_wechat.id, "BANK-1")
    with pytest.raises(Conflict, match="manual"):
        wd.mark_failed(db.session, funded.operator, by_wechat.id, "no")
    with pytest.raises(Forbidden):
        wd.mark_paid(db.session, funded.me, paid.id, "BANK-1")
    assert db_snapshot() == before

    done = wd.mark_paid(db.session, funded.operator, paid.id, "BANK-20261127-1")
    assert (done.status, done.reference) == ("succeeded", "BANK-20261127-1")
    assert summary(funded.alice) == EarningsSummary(0, 1_500, 1_500, 2_000, 0)
    assert_ledger_clean(funded.order)
    gone = wd.mark_failed(db.session, funded.operator, failed.id, "account closed")
    assert (gone.status, gone.failure_reason) == ("failed", "account closed")
    assert summary(funded.alice) == EarningsSummary(0, 2_500, 500, 2_000, 0)
    assert ledger.balance(db.session, ledger.PAYOUT_CLEARING) == 2_000
    assert_ledger_clean(funded.order)
    with pytest.raises(Conflict):
        wd.mark_paid(db.session, funded.operator, paid.id, "again")
    with pytest.raises(Conflict):
        wd.mark_failed(db.session, funded.operator, failed.id, "again")
    assert actions(paid.id) == ["withdrawal.requested", "withdrawal.approved",
                                "withdrawal.succeeded"]
    # Each money step is booked under its own key, once.
    keys = set(db.session.scalars(select(ledger.LedgerTransaction.idempotency_key)))
    assert {f"withdrawal.requested:{paid.id}", f"withdrawal.succeeded:{paid.id}",
            f"withdrawal.failed:{failed.id}"} <= keys


def test_checks_catch_withdrawals_that_disagree_with_the_ledger(funded):
    made = wd.request_withdrawal(db.session, funded.me, 2_000)
    # Money moved out of available with no withdrawal behind it.
    ledger.post(db.session, "tamper", "test", 1, [
        Leg(ledger.DISTRIBUTOR_AVAILABLE, funded.alice.id, -100),
        Leg(ledger.PLATFORM, ledger.PLATFORM_OWNER, 100),
    ], key="tamper:1")
    db.session.commit()
    found = check_ledger(db.session)
    assert found["commission lines agree with balances"]
    db.session.rollback()
    # A withdrawal whose money never reached withdrawing.
    row = db.session.get(Withdrawal, made.id)
    row.amount_fen = 2_500
    db.session.commit()
    assert check_ledger(db.session)["withdrawing agrees with open withdrawals"]
    db.session.rollback()


def test_concurrent_requests_cannot_spend_the_same_money(pg_app):
    install_fake_gateway(pg_app)
    funded = fund(pg_app)
    actor = funded.me
    barrier = threading.Barrier(4)

    def ask(_: int) -> str:
        with pg_app.app_context():
            barrier.wait()
            try:
                wd.request_withdrawal(db.session, actor, 2_000)
                return "ok"
            except DomainError as exc:
                return type(exc).__name__
            finally:
                db.session.remove()

    with ThreadPoolExecutor(4) as pool:
        outcomes = sorted(pool.map(ask, range(4)))
    # 5 000 available: two requests of 2 000 fit, the other two are refused (a Conflict
    # whose class says why: the balance is too low).
    assert outcomes == ["BalanceTooLow", "BalanceTooLow", "ok", "ok"]
    assert issubclass(wd.BalanceTooLow, Conflict)
    assert summary(funded.alice) == EarningsSummary(0, 1_000, 4_000, 0, 0)
    assert db.session.scalar(select(func.count()).select_from(Withdrawal)) == 2
    db.session.rollback()
    assert_ledger_clean(funded.order)
