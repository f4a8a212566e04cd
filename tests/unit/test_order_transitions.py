"""The one order transition table and the guards the services build from it."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from commissions import maturity
from core.models import OrderStatus
from shop.domain import order_rules as r
from shop.order_status import may_become

ROOT = Path(__file__).resolve().parents[2]


def _statuses_in(condition) -> set[str]:
    """The status literals a compiled guard compares against."""
    sql = str(condition.compile(compile_kwargs={"literal_binds": True}))
    return set(re.findall(r"'([a-z_]+)'", sql)) & set(r.STATUSES)


@pytest.mark.parametrize("target", [s for s in r.STATUSES if s != r.PENDING_PAYMENT])
def test_each_guard_allows_exactly_the_tables_sources(target):
    sources = {t.source for t in r.RULES if t.target == target and not t.undo}
    if not sources:
        with pytest.raises(r.TransitionNotAllowed):
            may_become(target)
        return
    assert _statuses_in(may_become(target)) == sources


def test_a_rule_changed_in_the_table_changes_the_guard(monkeypatch):
    assert r.PARTIALLY_REFUNDED in _statuses_in(may_become(r.COMPLETED))
    without = tuple(t for t in r.RULES
                    if (t.source, t.target) != (r.PARTIALLY_REFUNDED, r.COMPLETED))
    monkeypatch.setattr(r, "RULES", without)
    assert _statuses_in(may_become(r.COMPLETED)) == {r.SHIPPED}


def test_completion_of_a_partly_refunded_order_needs_it_shipped_and_not_completed():
    sql = str(may_become(r.COMPLETED).compile(compile_kwargs={"literal_binds": True}))
    assert "shipped_at IS NOT NULL" in sql and "completed_at IS NULL" in sql
    assert r.may_move(r.PARTIALLY_REFUNDED, r.COMPLETED, shipped=True, completed=False)
    assert not r.may_move(r.PARTIALLY_REFUNDED, r.COMPLETED, shipped=False, completed=False)
    assert not r.may_move(r.PARTIALLY_REFUNDED, r.COMPLETED, shipped=True, completed=True)
    assert r.may_move(r.PARTIALLY_REFUNDED, r.SHIPPED, shipped=False, completed=False)
    assert not r.may_move(r.PARTIALLY_REFUNDED, r.SHIPPED, shipped=True, completed=False)


def test_undo_moves_only_leave_refunding_and_are_not_forward_moves():
    assert _statuses_in(may_become(r.SHIPPED, undo=True)) == {r.REFUNDING}
    assert r.REFUNDING not in _statuses_in(may_become(r.SHIPPED))
    assert not r.can_transition(r.REFUNDING, r.PAID)
    with pytest.raises(r.TransitionNotAllowed):
        may_become(r.PAID, [r.SHIPPED])


def test_derived_sets_come_from_the_table():
    assert r.SHIPPABLE == {r.PAID, r.PARTIALLY_REFUNDED}
    assert r.REFUNDABLE == {r.PAID, r.SHIPPED, r.COMPLETED, r.PARTIALLY_REFUNDED}


def test_only_refunded_and_cancelled_orders_can_never_complete():
    assert set(r.stuck_states()) == {(r.REFUNDED, False), (r.REFUNDED, True),
                                     (r.CANCELLED, False), (r.CANCELLED, True)}
    assert r.can_still_complete(r.REFUNDING, shipped=True, completed=False)
    assert r.can_still_complete(r.PAID, shipped=False, completed=False)


def test_no_service_writes_an_order_status_outside_the_guarded_helper():
    writers = []
    for folder in ("shop", "storefront", "webapp/http", "commissions", "referral",
                   "workers"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name == "order_status.py":
                continue
            text = path.read_text(encoding="utf-8")
            for match in re.finditer(r"update\(Order\)", text):
                statement = text[match.start():match.start() + 400].split("execution_options")[0]
                if "status=" in statement:
                    writers.append(str(path.relative_to(ROOT)))
    assert writers == []


def test_a_window_outside_the_allowed_range_counts_as_the_longest_allowed():
    done = datetime(2024, 5, 1, tzinfo=UTC)
    assert maturity.matures_at(done, 7) == datetime(2024, 5, 8, tzinfo=UTC)
    assert maturity.matures_at(done, 0) == done
    longest = done + timedelta(days=365)
    for days in (366, 2**31 - 1, 2**31, 2**63 - 1, 10**30, -1):
        assert maturity.matures_at(done, days) == longest  # never an OverflowError, never frozen
        assert maturity.window_start(done, days) == done - timedelta(days=365)
    assert maturity.window_start(done, 7) == datetime(2024, 4, 24, tzinfo=UTC)


def test_the_orm_enum_and_the_pure_table_name_the_same_statuses():
    # Two spellings of one list (core may not import the pure shop rules, nor they core's
    # models): this keeps them equal.
    assert {str(s) for s in OrderStatus} == set(r.STATUSES)
