"""The money scenario of issue 5, end to end through the services, on SQLite and PostgreSQL.

Payments, partial and full refunds before and after settlement, a tier change
and a plan edit half-way; ``ledger check`` and the replay after every step,
and balances equal to values computed by hand.
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from commissions import ledger
from commissions.plan_store import save_plan
from core.actors import Actor
from core.models import CommissionLine, DistributorTier, LineSplit, Role
from referral.distributors import set_tier
from tests.support.factories import link, make_distributor, make_user
from tests.support.money import assert_ledger_clean, balances, complete, refund, settle_after
from tests.support.payments import install_fake_gateway, paid_order
from webapp.extensions import db

PLAN_V1 = {"rates_bp": [1000, 500], "levels": 2, "base": "margin", "return_window_days": 7}
PLAN_V2 = {**PLAN_V1, "tier_rates_bp": {"gold": [2000, 800]}}


@pytest.fixture
def shop(any_app):
    install_fake_gateway(any_app)
    return any_app


def test_money_is_exact_through_refunds_settlement_tier_and_plan_changes(shop):
    ops = Actor.of(make_user(Role.OPERATOR))
    v1 = save_plan(db.session, ops, PLAN_V1, "launch")
    top = make_distributor()
    alice = make_distributor(upline=top)
    buyer = make_user()
    link(buyer, alice)
    a, t = alice.id, top.id

    # Order 1: 10 000 paid, supply 5 000, margin 5 000 -> alice 10 % = 500, top 5 % = 250.
    first = paid_order(shop, buyer, (10_000, 1))
    assert balances(a) == (500, 0) and balances(t) == (250, 0)
    split = db.session.get(LineSplit, first.lines[0].id)
    assert (split.supplier_fen, split.commission_fen, split.platform_fen) == (5000, 750, 4250)
    assert split.plan_version_id == v1.id
    assert_ledger_clean(first)

    # 2 000 back before settlement: 20 % of every share (alice 100, top 50).
    refund(shop, ops, first, [(first.lines[0].id, 0, 2000)])
    assert balances(a) == (400, 0) and balances(t) == (200, 0)
    assert_ledger_clean(first)

    # Completed, nothing matures inside the 7-day window; after it, settled once.
    complete(first)
    assert settle_after(6) == 0
    assert settle_after(8) == 2
    assert settle_after(8) == 0  # settling twice moves nothing more
    assert balances(a) == (0, 400) and balances(t) == (0, 200)
    assert_ledger_clean(first)

    # Plan edit and tier change half-way: only orders paid from now on feel them.
    v2 = save_plan(db.session, ops, PLAN_V2, "gold tier")
    gold = DistributorTier(code="gold", name="Gold", rank=10)
    db.session.add(gold)
    db.session.commit()
    set_tier(db.session, ops, a, gold.id, "top seller")
    # Order 2: 5 000 paid, margin 2 500 -> alice (gold) 20 % = 500, top default 5 % = 125.
    second = paid_order(shop, buyer, (5_000, 1))
    assert balances(a) == (500, 400) and balances(t) == (125, 200)
    assert db.session.get(LineSplit, second.lines[0].id).plan_version_id == v2.id
    assert_ledger_clean(first, second)

    # The rest of order 1 comes back after settlement: clawed back from available.
    refund(shop, ops, first)
    assert balances(a) == (500, 0) and balances(t) == (125, 0)
    clawbacks = db.session.scalars(
        select(CommissionLine.amount_fen).where(CommissionLine.kind == "clawback")
        .order_by(CommissionLine.distributor_id)
    ).all()
    assert sorted(clawbacks) == [-400, -200]
    assert_ledger_clean(first, second)

    complete(second)
    assert settle_after(8) == 2
    assert balances(a) == (0, 500) and balances(t) == (0, 125)
    # Everything accounted for: WeChat holds 15 000 - 10 000 refunded = 5 000, owed as
    # alice 500 + top 125 + supplier 2 500 + platform 1 875.
    db.session.expire_all()
    assert ledger.balance(db.session, ledger.CLEARING) == -5000
    assert ledger.balance(db.session, ledger.PLATFORM) == 1875
    supplier = second.lines[0].supplier_id
    assert ledger.balance(db.session, ledger.SUPPLIER_PAYABLE, supplier) == 2500
    assert ledger.balance(db.session, ledger.SUPPLIER_PAYABLE, first.lines[0].supplier_id) == 0
    assert_ledger_clean(first, second)


def test_odd_amounts_and_many_partial_refunds_reverse_exactly(shop):
    ops = Actor.of(make_user(Role.OPERATOR))
    save_plan(db.session, ops, PLAN_V1)
    top = make_distributor()
    alice = make_distributor(upline=top)
    buyer = make_user()
    link(buyer, alice)
    order = paid_order(shop, buyer, (9_999, 3), (7, 1))
    line_a, line_b = order.lines
    for parts in ([(line_a.id, 0, 1)], [(line_a.id, 0, 3333)], [(line_b.id, 0, 5)]):
        refund(shop, ops, order, parts)
        assert_ledger_clean(order)
    complete(order)
    assert settle_after(8) >= 1
    refund(shop, ops, order, [(line_a.id, 0, 10_000)])  # after settlement: a clawback
    assert_ledger_clean(order)
    refund(shop, ops, order)  # the rest
    assert balances(alice.id) == (0, 0) and balances(top.id) == (0, 0)
    db.session.expire_all()
    assert ledger.balance(db.session, ledger.PLATFORM) == 0
    assert ledger.balance(db.session, ledger.CLEARING) == 0
    assert_ledger_clean(order)
