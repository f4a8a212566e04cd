"""Refund arithmetic: never more than what is left, per line and per order, in integer fen."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shop.domain.refund_rules import (
    LineRequest,
    LineState,
    OrderState,
    RefundRuleError,
    buyer_may_refund,
    plan_refund,
    refund_number,
    restock_quantities,
    status_after_refund,
)


def _line(line_id: int, quantity: int, unit: int, **kw: int) -> LineState:
    return LineState(line_id, quantity, unit, quantity * unit, **kw)


def _order(*lines: LineState, shipping: int = 0, refunded: int | None = None) -> OrderState:
    total = sum(line.amount_fen for line in lines) + shipping
    done = sum(line.refunded_fen for line in lines) if refunded is None else refunded
    return OrderState(total, done, 0, lines)


def test_full_refund_takes_everything_left_including_shipping():
    order = _order(_line(1, 3, 1000, refunded_quantity=1, refunded_fen=1000), _line(2, 1, 500),
                   shipping=800)
    plan = plan_refund(order, None)
    parts = [(p.line_id, p.quantity, p.amount_fen) for p in plan.lines]
    assert parts == [(1, 2, 2000), (2, 1, 500)]
    assert plan.shipping_fen == 800
    assert plan.total_fen == order.fen_left == 3300


def test_by_quantity_uses_unit_price_and_last_units_take_the_rest():
    # 10 fen were already given back as a money-only adjustment.
    order = _order(_line(1, 3, 333, refunded_fen=10))
    first = plan_refund(order, [LineRequest(1, 1)])
    assert first.lines[0].amount_fen == 333
    rest = plan_refund(order, [LineRequest(1, 3)])
    assert rest.lines[0].amount_fen == 999 - 10


def test_explicit_amount_and_money_only_adjustment():
    order = _order(_line(1, 2, 1000))
    plan = plan_refund(order, [LineRequest(1, 0, 250)])
    assert (plan.lines[0].quantity, plan.lines[0].amount_fen) == (0, 250)
    plan = plan_refund(order, [LineRequest(1, 1, 1500)])
    assert (plan.lines[0].quantity, plan.lines[0].amount_fen) == (1, 1500)


@pytest.mark.parametrize(
    "requests, message",
    [
        ([LineRequest(1, 3)], "unit"),
        ([LineRequest(1, 0, 2001)], "left"),
        ([LineRequest(1, 0)], "quantity or an amount"),
        ([LineRequest(1, -1)], "quantity"),
        ([LineRequest(1, 1, 0)], "amount_fen"),
        ([LineRequest(1, 1, -5)], "amount_fen"),
        ([LineRequest(1, True)], "quantity"),  # type: ignore[arg-type]
        ([LineRequest(1, 1, 1.5)], "amount_fen"),  # type: ignore[arg-type]
        ([LineRequest(9, 1)], "not part"),
        ([LineRequest(1, 1), LineRequest(1, 1)], "twice"),
        ([], "at least one"),
    ],
)
def test_refused_requests(requests, message):
    order = _order(_line(1, 2, 1000), _line(2, 1, 500))
    with pytest.raises(RefundRuleError, match=message):
        plan_refund(order, requests)


def test_in_flight_refunds_count_as_taken():
    line = LineState(1, 2, 1000, 2000, in_flight_quantity=1, in_flight_fen=1000)
    order = OrderState(2000, 0, 1000, (line,))
    with pytest.raises(RefundRuleError):
        plan_refund(order, [LineRequest(1, 2)])
    assert plan_refund(order, None).total_fen == 1000


def test_nothing_left():
    order = _order(_line(1, 1, 100, refunded_quantity=1, refunded_fen=100))
    with pytest.raises(RefundRuleError, match="nothing is left"):
        plan_refund(order, None)


def test_status_after_refund():
    assert status_after_refund(1000, 1000) == "refunded"
    assert status_after_refund(1000, 1) == "partially_refunded"
    with pytest.raises(ValueError):
        status_after_refund(1000, 1001)


def test_buyer_may_refund_only_before_anything_shipped():
    assert buyer_may_refund("paid", [])
    assert buyer_may_refund("partially_refunded", set())
    assert not buyer_may_refund("paid", [7])
    assert not buyer_may_refund("shipped", [])
    assert not buyer_may_refund("completed", [])


def test_restock_only_unshipped_suppliers_units():
    refunded = [(10, 1, 2), (11, 2, 1), (10, 1, 1), (12, 1, 0)]
    assert restock_quantities(refunded, shipped_supplier_ids={2}) == {10: 3}


def test_refund_number_is_deterministic_and_fits_wechat():
    number = refund_number("CS20240101120000" + "12345678", 3)
    assert number == "CS2024010112000012345678R03"
    assert len(number) <= 64
    with pytest.raises(ValueError):
        refund_number("X", 0)


@st.composite
def _orders_and_requests(draw):  # type: ignore[no-untyped-def]
    lines = []
    for line_id in range(1, draw(st.integers(1, 4)) + 1):
        quantity = draw(st.integers(1, 5))
        unit = draw(st.integers(1, 10_000))
        amount = quantity * unit
        refunded_q = draw(st.integers(0, quantity))
        refunded_fen = draw(st.integers(0, amount))
        lines.append(LineState(line_id, quantity, unit, amount, refunded_q, refunded_fen))
    shipping = draw(st.integers(0, 1000))
    total = sum(line.amount_fen for line in lines) + shipping
    refunded = sum(line.refunded_fen for line in lines)
    order = OrderState(total, refunded, 0, tuple(lines))
    ids = draw(st.lists(st.integers(1, len(lines) + 1), unique=True, max_size=len(lines) + 1))
    requests = [
        LineRequest(i, draw(st.integers(0, 6)), draw(st.none() | st.integers(-5, 60_000)))
        for i in ids
    ]
    return order, draw(st.none() | st.just(requests))


@settings(max_examples=300, deadline=None)
@given(_orders_and_requests())
def test_a_plan_never_exceeds_what_is_left(case):
    order, requests = case
    try:
        plan = plan_refund(order, requests)
    except RefundRuleError:
        return
    by_id = {line.line_id: line for line in order.lines}
    assert plan.total_fen > 0
    assert plan.total_fen <= order.fen_left
    for part in plan.lines:
        line = by_id[part.line_id]
        assert isinstance(part.amount_fen, int) and 0 < part.amount_fen <= line.fen_left
        assert 0 <= part.quantity <= line.quantity_left
    if requests is None:
        assert plan.total_fen == order.fen_left
