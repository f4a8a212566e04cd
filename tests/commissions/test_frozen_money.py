"""Issue 9 §3: no money frozen for good, on SQLite and PostgreSQL.

A shipped order refunded in part can still be confirmed received or
auto-completed, so its commission matures and its supply cost reaches a
settlement batch; ``ledger check`` reports an order holding money that no
transition can release; a batch job skips an order whose data makes it fail
and completes the others.
"""
from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from commissions.plan_store import save_plan
from commissions.supplier_settlement import open_settlements
from core.actors import Actor
from core.clock import utcnow
from core.errors import Conflict
from core.models import (
    CommissionLine,
    CommissionPlanVersion,
    LineSplit,
    Order,
    OrderStatus,
    Role,
    SupplierSettlementItem,
    User,
)
from shop import orders, payments
from shop.ledger_checks import stranded_orders
from tests.support.cli import ChatshopRunner
from tests.support.db import fresh
from tests.support.factories import link, make_distributor, make_supplier, make_user, place_order
from tests.support.money import assert_ledger_clean, balances, refund, settle_after
from tests.support.payments import install_fake_gateway, signed_pay_notify
from tests.support.settings import gateway_of, settings_of
from webapp.extensions import db

PLAN = {"rates_bp": [1000, 500], "levels": 2, "base": "margin", "return_window_days": 7}
HUGE_WINDOW = 2**31 - 1  # fits an INTEGER column, far past what a date can hold


@pytest.fixture
def shop(any_app):
    install_fake_gateway(any_app)
    return any_app


@pytest.fixture
def ops():
    return Actor.of(make_user(Role.OPERATOR))


def _chain_buyer() -> tuple[User, User, User]:
    """A buyer bound under alice, who is under top."""
    top = make_distributor()
    alice = make_distributor(upline=top)
    buyer = make_user()
    link(buyer, alice)
    return buyer, alice, top


def _order(app, buyer, supplier, *lines):
    """A paid order of ``supplier``'s goods (place_order makes one product per line)."""
    order = place_order(*lines, suppliers=[supplier] * len(lines), buyer=buyer)
    body = signed_pay_notify(app, order.number, order.total_fen)
    assert payments.apply_pay_notify(db.session, gateway_of(), body).applied
    return fresh(Order, order.id)


def _ship(order_id: int, supplier) -> None:
    staff = make_user(Role.SUPPLIER, supplier=supplier)
    orders.ship_order(db.session, Actor.of(staff), order_id, "SF", f"SF{order_id}")


def _supply_owed(order_id: int) -> int:
    """The order's supplier share net of refunds, read from its line splits."""
    db.session.expire_all()
    rows = db.session.execute(
        select(LineSplit.supplier_fen - LineSplit.reversed_supplier_fen)
        .where(LineSplit.order_id == order_id)
    ).scalars().all()
    db.session.rollback()
    return sum(rows)


def _fail_completing(monkeypatch, bad_id: int) -> None:
    """Make completing order ``bad_id`` raise (a bad row), the others complete as usual."""
    start = orders.start_return_window

    def failing_for_one(session, order_id, completed_at):
        if order_id == bad_id:
            raise RuntimeError("simulated bad row")
        start(session, order_id, completed_at)

    monkeypatch.setattr(orders, "start_return_window", failing_for_one)


def _batched(order_id: int) -> int:
    db.session.expire_all()
    rows = db.session.scalars(
        select(SupplierSettlementItem.amount_fen)
        .where(SupplierSettlementItem.order_id == order_id)
    ).all()
    db.session.rollback()
    return sum(rows)


def test_shipped_order_refunded_by_one_fen_completes_and_settles(shop, ops):
    save_plan(db.session, ops, PLAN)
    buyer, alice, top = _chain_buyer()
    supplier = make_supplier()
    order = _order(shop, buyer, supplier, (10_000, 1), (3_000, 2))
    _ship(order.id, supplier)
    assert fresh(Order, order.id).status == OrderStatus.SHIPPED

    refund(shop, ops, order, [(order.lines[0].id, 0, 1)], reason="one fen back")
    after_refund = fresh(Order, order.id)
    assert after_refund.status == OrderStatus.PARTIALLY_REFUNDED
    assert after_refund.shipped_at is not None and after_refund.refunded_fen == 1
    pending_alice, pending_top = balances(alice.id)[0], balances(top.id)[0]
    assert pending_alice > 0 and pending_top > 0
    assert_ledger_clean(order)  # partly refunded but completable: nothing stranded

    # Shipping again is still refused: everything shipped already.
    with pytest.raises(Conflict):
        _ship(order.id, supplier)

    done = orders.confirm_receipt(db.session, Actor.of(buyer), order.id)
    assert done.status == OrderStatus.COMPLETED and done.completed_at is not None
    with pytest.raises(Conflict):  # once
        orders.confirm_receipt(db.session, Actor.of(buyer), order.id)

    # Commission matures after the 7-day window, all of it.
    assert settle_after(6) == 0
    assert settle_after(8) == 4  # two lines x two levels
    assert balances(alice.id) == (0, pending_alice)
    assert balances(top.id) == (0, pending_top)

    # The supplier's share (less what the refund took back) lands in a batch.
    owed = _supply_owed(order.id)
    assert owed == 5_000 + 3_000 - 1  # supply 5 000 + 2 x 1 500; the largest share gave the fen
    assert open_settlements(db.session, ops, now=utcnow() + timedelta(days=6)) == []
    batches = open_settlements(db.session, ops, now=utcnow() + timedelta(days=8))
    assert [(b.supplier_id, b.amount_fen) for b in batches] == [(supplier.id, owed)]
    assert _batched(order.id) == owed
    assert_ledger_clean(order)


def test_auto_completion_takes_an_order_refunded_in_part_after_shipping(shop, ops):
    save_plan(db.session, ops, PLAN)
    buyer, alice, _top = _chain_buyer()
    supplier = make_supplier()
    order = _order(shop, buyer, supplier, (8_000, 1), (2_000, 3))
    _ship(order.id, supplier)
    # One whole line back, then a further partial refund of what is left: both work.
    refund(shop, ops, order, [(order.lines[1].id, 3, None)])
    assert fresh(Order, order.id).status == OrderStatus.PARTIALLY_REFUNDED
    refund(shop, ops, order, [(order.lines[0].id, 0, 500)])
    assert fresh(Order, order.id).status == OrderStatus.PARTIALLY_REFUNDED
    assert fresh(Order, order.id).refunded_fen == 6_500
    pending = balances(alice.id)[0]
    assert pending > 0

    assert orders.auto_complete_orders(db.session, settings_of()) == 0  # not yet AUTO_COMPLETE_DAYS
    assert orders.auto_complete_orders(db.session, settings_of(),
                                       now=utcnow() + timedelta(days=11)) == 1
    assert fresh(Order, order.id).status == OrderStatus.COMPLETED
    assert settle_after(20) == 2
    assert balances(alice.id) == (0, pending)
    batches = open_settlements(db.session, ops, now=utcnow() + timedelta(days=20))
    assert [b.amount_fen for b in batches] == [_supply_owed(order.id)]
    assert batches[0].amount_fen == 4_000 - 250  # line 1 supply 4 000 less 500/8 000 of it
    assert_ledger_clean(order)


def test_refunded_in_part_before_shipping_ships_then_completes(shop, ops):
    save_plan(db.session, ops, PLAN)
    buyer, _alice, _top = _chain_buyer()
    supplier = make_supplier()
    order = _order(shop, buyer, supplier, (4_000, 2))
    refund(shop, ops, order, [(order.lines[0].id, 1, None)])
    assert fresh(Order, order.id).status == OrderStatus.PARTIALLY_REFUNDED
    with pytest.raises(Conflict):  # nothing has shipped: nothing to confirm yet
        orders.confirm_receipt(db.session, Actor.of(buyer), order.id)
    _ship(order.id, supplier)
    assert fresh(Order, order.id).status == OrderStatus.SHIPPED
    assert orders.confirm_receipt(db.session, Actor.of(buyer), order.id).status == (
        OrderStatus.COMPLETED)
    assert_ledger_clean(order)


def test_ledger_check_reports_money_stranded_on_an_order_that_cannot_complete(shop, ops):
    save_plan(db.session, ops, PLAN)
    buyer, _alice, _top = _chain_buyer()
    supplier = make_supplier()
    order = _order(shop, buyer, supplier, (10_000, 1))
    done = _order(shop, buyer, supplier, (6_000, 1))
    _ship(done.id, supplier)
    orders.confirm_receipt(db.session, Actor.of(buyer), done.id)
    runner = ChatshopRunner(shop)
    assert stranded_orders(db.session) == []
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 0, result.output
    assert "ok   no money stranded" in result.output

    # By hand: refunded, yet its commission is still pending and its supplier still owed.
    db.session.execute(update(Order).where(Order.id == order.id)
                       .values(status=OrderStatus.REFUNDED))
    # And a completed order whose commission never got a maturity date.
    db.session.execute(update(CommissionLine).where(CommissionLine.order_id == done.id)
                       .values(matures_at=None))
    db.session.commit()
    found = stranded_orders(db.session)
    db.session.rollback()
    assert len(found) == 2
    assert found[0].startswith(f"order {order.number} (refunded): ")
    assert "no transition can complete it" in found[0]
    assert f"{_supply_owed(order.id)} fen owed to suppliers" in found[0]
    assert found[1].startswith(f"order {done.number} completed: ")
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 1
    assert "FAIL no money stranded on orders that cannot complete (2 breaches)" in result.output


def test_an_out_of_range_return_window_holds_commission_365_days_not_for_ever(shop, ops):
    save_plan(db.session, ops, PLAN)
    buyer, alice, _top = _chain_buyer()
    supplier = make_supplier()
    first = _order(shop, buyer, supplier, (5_000, 1))
    v2 = save_plan(db.session, ops, PLAN, "same rules, a second version")
    bad = _order(shop, buyer, supplier, (9_000, 1))
    for order_id in (first.id, bad.id):
        _ship(order_id, supplier)
    # Written straight into the rows (bypassing every bound), as old data could be.
    db.session.execute(update(CommissionLine).where(CommissionLine.order_id == bad.id)
                       .values(return_window_days=HUGE_WINDOW))
    row = db.session.get(CommissionPlanVersion, v2.id)
    row.rules = {**row.rules, "return_window_days": HUGE_WINDOW}
    db.session.commit()

    # Confirming receipt works (no OverflowError); the commission matures after the
    # longest window allowed, 365 days.
    done = orders.confirm_receipt(db.session, Actor.of(buyer), bad.id)
    orders.confirm_receipt(db.session, Actor.of(buyer), first.id)
    assert done.status == OrderStatus.COMPLETED
    matures = db.session.scalars(select(CommissionLine.matures_at)
                                 .where(CommissionLine.order_id == bad.id)).all()
    db.session.rollback()
    assert matures and {m - done.completed_at for m in matures} == {timedelta(days=365)}

    # Supplier settlement: after 8 days only the first order is due; after 366, both.
    batches = open_settlements(db.session, ops, now=utcnow() + timedelta(days=8))
    assert [b.amount_fen for b in batches] == [_supply_owed(first.id)]
    assert _batched(bad.id) == 0
    assert settle_after(8) == 2  # the first order's two levels
    batches = open_settlements(db.session, ops, now=utcnow() + timedelta(days=366))
    assert [b.amount_fen for b in batches] == [_supply_owed(bad.id)]
    assert settle_after(366) == 2
    assert balances(alice.id)[1] > 0
    assert_ledger_clean()


def test_one_order_that_fails_to_complete_does_not_stop_the_batch(
        shop, ops, caplog, monkeypatch):
    save_plan(db.session, ops, PLAN)
    buyer, alice, _top = _chain_buyer()
    supplier = make_supplier()
    ids = [_order(shop, buyer, supplier, (price, 1)).id for price in (5_000, 9_000, 7_000)]
    bad_id = ids[1]
    for order_id in ids:
        _ship(order_id, supplier)
    db.session.execute(update(Order).where(Order.id.in_(ids))
                       .values(shipped_at=utcnow() - timedelta(days=11)))
    db.session.commit()
    _fail_completing(monkeypatch, bad_id)
    with caplog.at_level(logging.ERROR, logger="shop.orders"):
        result = ChatshopRunner(shop).invoke(args=["orders", "autocomplete"])
    assert result.exit_code == 0, result.output
    assert "completed 2 order(s)" in result.output
    assert f"(id {bad_id}) failed; skipped" in caplog.text
    # The failed completion was rolled back whole: still shipped, no maturity date.
    assert [fresh(Order, i).status for i in ids] == [
        OrderStatus.COMPLETED, OrderStatus.SHIPPED, OrderStatus.COMPLETED]
    assert settle_after(8) == 4
    assert balances(alice.id)[1] > 0


def test_stranded_check_reports_commission_without_a_maturity_date(shop, ops):
    save_plan(db.session, ops, PLAN)
    buyer, _alice, _top = _chain_buyer()
    order = _order(shop, buyer, make_supplier(), (9_000, 1))
    db.session.execute(update(Order).where(Order.id == order.id)
                       .values(status=OrderStatus.COMPLETED, completed_at=utcnow()))
    db.session.commit()
    found = stranded_orders(db.session)
    db.session.rollback()
    assert [line.split(" ")[1] for line in found] == [order.number]


def test_an_order_does_not_wait_for_a_supplier_whose_goods_were_all_refunded(shop, ops):
    save_plan(db.session, ops, PLAN)
    buyer, alice, _top = _chain_buyer()
    s1, s2 = make_supplier(), make_supplier()

    # s1 shipped, then all of s2's goods came back: nothing is left to ship.
    mixed = place_order((6_000, 1), (2_000, 1), suppliers=[s1, s2], buyer=buyer)
    assert payments.apply_pay_notify(
        db.session, gateway_of(), signed_pay_notify(shop, mixed.number, mixed.total_fen)).applied
    mixed = fresh(Order, mixed.id)
    _ship(mixed.id, s1)
    assert fresh(Order, mixed.id).status == OrderStatus.PAID
    refund(shop, ops, mixed, [(mixed.lines[1].id, 1, None)])
    shipped = fresh(Order, mixed.id)
    assert shipped.status == OrderStatus.SHIPPED
    assert shipped.shipped_at == shipped.shipments[0].shipped_at
    assert_ledger_clean(mixed)
    assert orders.confirm_receipt(db.session, Actor.of(buyer), mixed.id).status == (
        OrderStatus.COMPLETED)

    # All of s2's goods refunded before anyone shipped: s1's shipment ships the order.
    early = place_order((6_000, 1), (2_000, 1), suppliers=[s1, s2], buyer=buyer)
    assert payments.apply_pay_notify(
        db.session, gateway_of(), signed_pay_notify(shop, early.number, early.total_fen)).applied
    early = fresh(Order, early.id)
    refund(shop, ops, early, [(early.lines[1].id, 1, None)])
    assert fresh(Order, early.id).status == OrderStatus.PARTIALLY_REFUNDED
    _ship(early.id, s1)
    assert fresh(Order, early.id).status == OrderStatus.SHIPPED
    assert orders.auto_complete_orders(db.session, settings_of(),
                                       now=utcnow() + timedelta(days=11)) == 1

    assert settle_after(20) == 4
    assert balances(alice.id)[0] == 0
    batches = open_settlements(db.session, ops, now=utcnow() + timedelta(days=20))
    assert [(b.supplier_id, b.amount_fen) for b in batches] == [(s1.id, 3_000 * 2)]
    assert_ledger_clean(mixed, early)

    # Such an order left behind by the old code is reported.
    db.session.execute(update(Order).where(Order.id == mixed.id).values(
        status=OrderStatus.PARTIALLY_REFUNDED, shipped_at=None, completed_at=None))
    db.session.execute(update(LineSplit).where(LineSplit.order_id == mixed.id)
                       .values(supplier_settled_fen=0))
    db.session.commit()
    found = stranded_orders(db.session)
    db.session.rollback()
    assert found == [f"order {mixed.number} (partially_refunded): every supplier with goods "
                     f"left has shipped but the order is not marked shipped, so it cannot "
                     f"complete"]


def test_failing_orders_never_starve_the_due_orders_behind_them(shop, ops, monkeypatch):
    """A failing order stays due; later pages of the same run still reach the others."""
    save_plan(db.session, ops, PLAN)
    buyer, _alice, _top = _chain_buyer()
    supplier = make_supplier()
    bad = _order(shop, buyer, supplier, (9_000, 1))  # lowest id: first in every page
    good = [_order(shop, buyer, supplier, (5_000, 1)), _order(shop, buyer, supplier, (7_000, 1))]
    ids = [bad.id] + [o.id for o in good]
    for order_id in ids:
        _ship(order_id, supplier)
    db.session.execute(update(Order).where(Order.id.in_(ids))
                       .values(shipped_at=utcnow() - timedelta(days=11)))
    db.session.commit()
    _fail_completing(monkeypatch, bad.id)
    assert orders.auto_complete_orders(db.session, settings_of(), page_size=1) == 2
    assert [fresh(Order, i).status for i in ids] == [
        OrderStatus.SHIPPED, OrderStatus.COMPLETED, OrderStatus.COMPLETED]
