"""Supplier settlement through the real services, on SQLite and PostgreSQL.

Batches equal hand-computed supply cost, lines inside their return window wait,
opening twice opens nothing, a refund after a batch is netted into the next one,
paying posts to the ledger once, and ``ledger check`` is clean after every step.
"""
from __future__ import annotations

import csv
import io
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from commissions import ledger
from commissions.plan_store import save_plan
from commissions.supplier_settlement import (
    STATEMENT_HEADER,
    mark_paid,
    open_settlements,
    statement_csv,
)
from core.actors import Actor
from core.clock import utcnow
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.models import (
    AuditEntry,
    LineSplit,
    Order,
    OrderStatus,
    Role,
    Supplier,
    SupplierSettlement,
    SupplierSettlementItem,
)
from core.money import format_yuan
from shop import refunds
from tests.support.db import fresh
from tests.support.factories import make_supplier, make_user
from tests.support.money import assert_ledger_clean, complete, refund
from tests.support.payments import install_fake_gateway, paid_order, refund_notify
from tests.support.settings import gateway_of
from webapp.extensions import db


@pytest.fixture
def shop(any_app):
    install_fake_gateway(any_app)
    return any_app


def after(days: int):
    """A moment ``days`` from now (return windows are whole days)."""
    return utcnow() + timedelta(days=days)


def items_of(batch_id: int) -> dict[int, int]:
    """order line id -> amount of the batch's items."""
    db.session.expire_all()
    rows = db.session.execute(
        select(SupplierSettlementItem.order_line_id, SupplierSettlementItem.amount_fen)
        .where(SupplierSettlementItem.settlement_id == batch_id)
    ).all()
    db.session.rollback()
    return dict(rows)


def payable(supplier: Supplier) -> int:
    db.session.expire_all()
    return ledger.balance(db.session, ledger.SUPPLIER_PAYABLE, supplier.id)


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_yuan_is_exact_integer_formatting():
    assert [format_yuan(f) for f in (0, 5, 99, 100, 1005, -1, -1005, 123_456_789)] == [
        "0.00", "0.05", "0.99", "1.00", "10.05", "-0.01", "-10.05", "1234567.89"]


def test_batches_hold_matured_supply_cost_per_supplier_once(shop):
    ops = Actor.of(make_user(Role.OPERATOR))
    acme, bolt = make_supplier(), make_supplier()
    # Acme: 10 000 ×1 (supply 5 000) and 3 000 ×2 (supply 1 500 × 2 = 3 000) -> 8 000.
    a1 = paid_order(shop, None, (10_000, 1), (3_000, 2), suppliers=[acme, acme])
    # Bolt: 2 001 ×3 (supply 1 000 × 3) -> 3 000.
    b1 = paid_order(shop, None, (2_001, 3), suppliers=[bolt])
    # Paid, never completed: not in any batch.
    waiting = paid_order(shop, None, (500, 1), suppliers=[acme])
    complete(a1)
    complete(b1)
    assert_ledger_clean(a1, b1, waiting)

    # The default plan's 7-day return window has not passed yet.
    assert open_settlements(db.session, ops, now=after(6)) == []
    batches = open_settlements(db.session, ops, now=after(8))
    assert [(b.supplier_id, b.amount_fen, b.status) for b in batches] == [
        (acme.id, 8000, "open"), (bolt.id, 3000, "open")]
    assert items_of(batches[0].id) == {a1.lines[0].id: 5000, a1.lines[1].id: 3000}
    assert items_of(batches[1].id) == {b1.lines[0].id: 3000}
    assert open_settlements(db.session, ops, now=after(8)) == []  # twice: nothing new
    splits = db.session.scalars(select(LineSplit).order_by(LineSplit.order_line_id)).all()
    assert [(s.supplier_fen, s.supplier_settled_fen) for s in splits] == [
        (5000, 5000), (3000, 3000), (3000, 3000), (250, 0)]
    # Opening moves no money: the payable stays until the batch is paid.
    assert payable(acme) == 8250 and payable(bolt) == 3000
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "supplier_settlement.opened")) == 2
    assert_ledger_clean(a1, b1, waiting)

    # A plan with a 3-day window: lines paid under it mature sooner than older ones.
    save_plan(db.session, ops, {"rates_bp": [1000, 500], "return_window_days": 3})
    quick = paid_order(shop, None, (800, 1), suppliers=[acme])
    complete(quick)
    complete(waiting)
    (early,) = open_settlements(db.session, ops, now=after(4))
    assert (early.supplier_id, early.amount_fen) == (acme.id, 400)
    assert items_of(early.id) == {quick.lines[0].id: 400}
    (late,) = open_settlements(db.session, ops, now=after(8))
    assert items_of(late.id) == {waiting.lines[0].id: 250}
    assert_ledger_clean(a1, b1, waiting, quick)


def test_refund_after_a_batch_is_netted_into_the_next_one(shop):
    ops = Actor.of(make_user(Role.OPERATOR))
    acme = make_supplier()
    # Supplier 5 000, platform 5 000 (no distributors).
    first = paid_order(shop, None, (10_000, 1), suppliers=[acme])
    complete(first)
    (one,) = open_settlements(db.session, ops, now=after(8))
    assert one.amount_fen == 5000
    paid_one = mark_paid(db.session, ops, one.id, "  BANK-0001 ")
    assert (paid_one.status, paid_one.payment_reference, paid_one.paid_by) == (
        "paid", "BANK-0001", ops.user_id)
    assert payable(acme) == 0
    assert ledger.balance(db.session, ledger.PAYOUT_CLEARING) == 5000
    assert_ledger_clean(first)

    # 2 000 back after the batch was paid: the supplier's share of it (1 000) is owed back.
    refund(shop, ops, first, [(first.lines[0].id, 0, 2000)])
    assert payable(acme) == -1000
    assert open_settlements(db.session, ops, now=after(8)) == []  # -1 000 alone: waits
    assert_ledger_clean(first)

    second = paid_order(shop, None, (4_000, 1), suppliers=[acme])  # supply 2 000
    complete(second)
    (two,) = open_settlements(db.session, ops, now=after(8))
    assert two.amount_fen == 2000 - 1000
    assert items_of(two.id) == {first.lines[0].id: -1000, second.lines[0].id: 2000}
    split = db.session.get(LineSplit, first.lines[0].id)
    assert (split.supplier_fen, split.reversed_supplier_fen, split.supplier_settled_fen) == (
        5000, 1000, 4000)
    assert_ledger_clean(first, second)

    rows = parse(statement_csv(db.session, ops, two.id))
    assert rows[0] == list(STATEMENT_HEADER)
    body = {row[0]: row[3:] for row in rows[1:-1]}
    assert body[first.number][2:] == ["1", "50.00", "50.00", "10.00", "50.00", "-10.00"]
    assert body[second.number][2:] == ["1", "20.00", "20.00", "0.00", "0.00", "20.00"]
    assert rows[-1] == ["total", "", "", "", "", "2", "", "70.00", "10.00", "50.00", "10.00"]
    # The first batch's statement still reads as it did when it was paid.
    rows = parse(statement_csv(db.session, ops, one.id))
    assert rows[1][6:] == ["50.00", "50.00", "0.00", "0.00", "50.00"]
    assert rows[-1][-1] == "50.00"

    mark_paid(db.session, ops, two.id, "BANK-0002")
    assert payable(acme) == 0
    assert ledger.balance(db.session, ledger.PAYOUT_CLEARING) == 6000
    assert_ledger_clean(first, second)
    with pytest.raises(Conflict):
        mark_paid(db.session, ops, two.id, "BANK-0002")
    assert ledger.balance(db.session, ledger.PAYOUT_CLEARING) == 6000
    assert_ledger_clean(first, second)


def test_an_order_being_refunded_waits_for_the_outcome(shop):
    ops = Actor.of(make_user(Role.OPERATOR))
    acme = make_supplier()
    order = paid_order(shop, None, (6_000, 1), suppliers=[acme])  # supply 3 000
    complete(order)
    pending = refunds.request_refund(db.session, gateway_of(), ops, order.id,
                                     [(order.lines[0].id, 0, 600)], reason="dent")
    assert fresh(Order, order.id).status == OrderStatus.REFUNDING
    assert open_settlements(db.session, ops, now=after(8)) == []
    current = fresh(Order, order.id)
    body = refund_notify(shop, pending.out_refund_no, current.number, 600, current.total_fen)
    db.session.commit()
    assert refunds.apply_refund_notify(db.session, gateway_of(), body).applied
    (batch,) = open_settlements(db.session, ops, now=after(8))
    assert batch.amount_fen == 3000 - 300
    assert_ledger_clean(order)


def test_paying_is_refused_clearly_and_changes_nothing(shop):
    ops = Actor.of(make_user(Role.OPERATOR))
    acme = make_supplier()
    order = paid_order(shop, None, (1_000, 1), suppliers=[acme])
    complete(order)
    staff = Actor.of(make_user(Role.SUPPLIER, supplier=acme))
    with pytest.raises(Forbidden):
        open_settlements(db.session, staff, now=after(8))
    (batch,) = open_settlements(db.session, ops, now=after(8))
    for actor, ident, reference, error in (
        (staff, batch.id, "X", Forbidden),
        (Actor.of(make_user()), batch.id, "X", Forbidden),
        (ops, batch.id, "   ", InvalidInput),
        (ops, batch.id, "x" * 65, InvalidInput),
        (ops, batch.id + 1000, "X", NotFound),
    ):
        with pytest.raises(error):
            mark_paid(db.session, actor, ident, reference)
    assert fresh(SupplierSettlement, batch.id).status == "open"
    assert ledger.balance(db.session, ledger.PAYOUT_CLEARING) == 0
    mark_paid(db.session, ops, batch.id, "X")
    with pytest.raises(Conflict):
        mark_paid(db.session, ops, batch.id, "Y")
    row = fresh(SupplierSettlement, batch.id)
    assert (row.status, row.payment_reference) == ("paid", "X")
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "supplier_settlement.paid")) == 1
    assert_ledger_clean(order)


def test_statements_are_for_operators_and_the_batch_supplier_only(shop):
    ops = Actor.of(make_user(Role.OPERATOR))
    acme, bolt = make_supplier(), make_supplier()
    order = paid_order(shop, None, (1_234, 3), suppliers=[acme])  # supply 617 × 3 = 1 851
    complete(order)
    (batch,) = open_settlements(db.session, ops, now=after(8))
    own = Actor.of(make_user(Role.SUPPLIER, supplier=acme))
    other = Actor.of(make_user(Role.SUPPLIER, supplier=bolt))
    text = statement_csv(db.session, own, batch.id)
    assert text == statement_csv(db.session, ops, batch.id)
    header, line, total = parse(text)
    assert line[0] == order.number and line[5:] == [
        "3", "6.17", "18.51", "0.00", "0.00", "18.51"]
    assert line[1] and line[2]  # paid and completed times
    assert total[-1] == format_yuan(batch.amount_fen) == "18.51"
    with pytest.raises(NotFound):
        statement_csv(db.session, other, batch.id)
    with pytest.raises(Forbidden):
        statement_csv(db.session, Actor.of(make_user()), batch.id)
    with pytest.raises(NotFound):
        statement_csv(db.session, ops, batch.id + 1000)


def test_a_formula_in_a_product_title_is_neutralised(shop):
    ops = Actor.of(make_user(Role.OPERATOR))
    acme = make_supplier()
    order = paid_order(shop, None, (1_000, 1), suppliers=[acme])
    line = db.session.get(Order, order.id).lines[0]
    line.title = "=HYPERLINK(\"http://evil\")"
    db.session.commit()
    complete(order)
    (batch,) = open_settlements(db.session, ops, now=after(8))
    row = parse(statement_csv(db.session, ops, batch.id))[1]
    assert row[3] == "'=HYPERLINK(\"http://evil\")"


@pytest.mark.parametrize("backend", ["app", "pg_app"])
def test_two_operators_opening_at_once_put_each_line_in_one_batch(backend, request):
    app = request.getfixturevalue(backend)
    ops = Actor.of(make_user(Role.OPERATOR))
    suppliers = [make_supplier() for _ in range(4)]
    orders = [paid_order(app, None, (1_000 + 2 * k, 1), (3_000, 2), suppliers=[s, s])
              for s in suppliers for k in range(3)]
    for order in orders:
        complete(order)
    expected = {line.id: line.supply_cost_fen for order in orders for line in order.lines}
    moment = after(8)
    start = threading.Barrier(2, timeout=30)

    def attempt(_: int) -> list[int]:
        with app.app_context():
            try:
                start.wait()
                return [b.id for b in open_settlements(db.session, ops, now=moment)]
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(attempt, range(2)))
    db.session.rollback()  # a fresh snapshot: see what the threads committed
    # The second run waits for the first one's row locks, then finds every line taken.
    assert sorted(len(ids) for ids in outcomes) == [0, len(suppliers)]
    items = db.session.execute(select(SupplierSettlementItem.order_line_id,
                                      SupplierSettlementItem.amount_fen)).all()
    assert sorted(line for line, _ in items) == sorted(expected)  # each line exactly once
    assert dict(items) == expected
    totals = db.session.execute(
        select(SupplierSettlement.supplier_id, SupplierSettlement.amount_fen)).all()
    assert len(totals) == len(suppliers)
    assert sum(amount for _, amount in totals) == sum(expected.values())
    assert_ledger_clean(*orders)


def test_two_operators_paying_at_once_pay_once(pg_app):
    ops = Actor.of(make_user(Role.OPERATOR))
    order = paid_order(pg_app, None, (2_000, 1), suppliers=[make_supplier()])
    complete(order)
    (batch,) = open_settlements(db.session, ops, now=after(8))
    start = threading.Barrier(3, timeout=30)

    def attempt(reference: str) -> str:
        with pg_app.app_context():
            try:
                start.wait()
                return mark_paid(db.session, ops, batch.id, reference).status
            except Conflict:
                return "conflict"
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=3) as pool:
        outcomes = list(pool.map(attempt, ["A", "B", "C"]))
    assert sorted(outcomes) == ["conflict", "conflict", "paid"]
    db.session.rollback()
    assert ledger.balance(db.session, ledger.PAYOUT_CLEARING) == 1000
    assert_ledger_clean(order)
