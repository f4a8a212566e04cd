"""Order lifecycle rules, totals and address validation (pure code)."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shop.domain import order_rules as r
from shop.domain.addresses import AddressError, validate_address


def test_allowed_and_refused_transitions():
    assert r.can_transition(r.PENDING_PAYMENT, r.PAID)
    assert r.can_transition(r.PENDING_PAYMENT, r.CANCELLED)
    assert r.can_transition(r.REFUNDING, r.PARTIALLY_REFUNDED)
    assert not r.can_transition(r.CANCELLED, r.PAID)
    assert not r.can_transition(r.PENDING_PAYMENT, r.SHIPPED)
    assert not r.can_transition(r.REFUNDED, r.REFUNDING)
    assert not r.can_transition("nonsense", r.PAID)


def test_every_state_is_known():
    targets = set().union(*r.TRANSITIONS.values())
    assert targets <= set(r.TRANSITIONS)


@given(st.lists(st.tuples(st.integers(1, 10**6), st.integers(0, 10**6), st.integers(1, 999)),
                min_size=1, max_size=20))
def test_total_is_exact_sum_in_fen(lines):
    amounts = [r.LineAmount(p, min(s, p), q) for p, s, q in lines]
    total = r.order_total_fen(amounts)
    assert isinstance(total, int)
    assert total == sum(p * q for p, _, q in lines)


def test_negative_shipping_refused():
    with pytest.raises(ValueError):
        r.order_total_fen([r.LineAmount(100, 50, 1)], shipping_fen=-1)


def test_merge_quantities():
    assert r.merge_quantities([(1, 2), (2, 1), (1, 3)]) == {1: 5, 2: 1}


def test_valid_address_is_normalised():
    addr = validate_address(" 李四 ", "+86 138 0013 8000", "北京市", "朝阳区建国路 1 号")
    assert addr.recipient == "李四"
    assert addr.phone == "13800138000"
    assert addr.one_line() == "北京市 朝阳区建国路 1 号"


@pytest.mark.parametrize(
    "recipient,phone,detail",
    [("", "13800138000", "somewhere long"), ("A", "12345", "somewhere long"),
     ("A", "13800138000", "x"), ("A" * 40, "13800138000", "somewhere long"),
     ("A\x00", "13800138000", "somewhere long")],
)
def test_bad_addresses_are_refused(recipient, phone, detail):
    with pytest.raises(AddressError):
        validate_address(recipient, phone, "", detail)
