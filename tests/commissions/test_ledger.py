"""The ledger's own guarantees: balanced postings, constant statements, checks that catch
tampering, replay that finds differences, and the CLI around them."""
from __future__ import annotations

import pytest
from sqlalchemy import event, select, update

from commissions import ledger
from commissions.ledger import LedgerError, Leg
from commissions.plan_store import active_plan, save_plan
from commissions.replay import replay_order
from core.actors import Actor
from core.errors import Forbidden, InvalidInput
from core.models import (
    CommissionLine,
    CommissionPlanVersion,
    LedgerAccount,
    LedgerEntry,
    LineSplit,
    Order,
    Role,
    User,
)
from shop.ledger_checks import check_ledger
from tests.support.factories import link, make_distributor, make_user
from tests.support.money import assert_ledger_clean, complete, settle_after
from tests.support.payments import install_fake_gateway, paid_order
from tests.support.settings import gateway_of
from webapp.extensions import db


@pytest.fixture
def shop(any_app):
    install_fake_gateway(any_app)
    return any_app


def _chain(levels: int) -> User:
    upline = make_distributor()
    for _ in range(levels - 1):
        upline = make_distributor(upline=upline)
    buyer = make_user()
    link(buyer, upline)
    return buyer


def test_unbalanced_or_fractional_postings_are_refused(shop):
    with pytest.raises(LedgerError):
        ledger.post(db.session, "test", "test", 1, [Leg(ledger.CLEARING, 0, -5),
                                                     Leg(ledger.PLATFORM, 0, 4)], key="t1")
    with pytest.raises(LedgerError):
        ledger.post(db.session, "test", "test", 1, [Leg(ledger.CLEARING, 0, -1.5),
                                                     Leg(ledger.PLATFORM, 0, 1.5)], key="t2")
    db.session.rollback()
    assert db.session.scalar(select(LedgerEntry.id)) is None


def _statements_to_pay(app, lines, levels) -> int:
    buyer = _chain(levels)
    from shop import payments
    from tests.support.factories import place_order
    from tests.support.payments import signed_pay_notify

    order = place_order(*lines, buyer=buyer)
    body = signed_pay_notify(app, order.number, order.total_fen)
    db.session.commit()
    seen: list[str] = []

    def count(conn, cursor, statement, params, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert payments.apply_pay_notify(db.session, gateway_of(), body).applied
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(seen)


def test_recording_a_paid_order_costs_the_same_statements_whatever_its_size(shop):
    from core.models import ReferralSettings

    db.session.add(ReferralSettings(id=1, levels=3, three_levels_acknowledged=True))
    db.session.commit()
    save_plan(db.session, Actor.of(make_user(Role.OPERATOR)),
              {"rates_bp": [1000, 500, 200], "levels": 3, "three_levels_acknowledged": True})
    big = _statements_to_pay(shop, [(1000 + n, 1) for n in range(5)], 3)
    small = _statements_to_pay(shop, [(1000, 1)], 1)
    assert big == small
    assert_ledger_clean()


def test_checks_catch_tampering(shop):
    buyer = _chain(2)
    order = paid_order(shop, buyer, (10_000, 1))
    assert_ledger_clean(order)
    alice_account = db.session.scalar(
        select(LedgerAccount).where(LedgerAccount.kind == ledger.DISTRIBUTOR_PENDING)
        .order_by(LedgerAccount.id))
    alice_account.balance_fen += 1
    db.session.commit()
    found = check_ledger(db.session)
    assert found["balances equal their entries"] and found["commission lines agree with balances"]
    alice_account.balance_fen -= 1
    entry = db.session.scalar(select(LedgerEntry).where(
        LedgerEntry.account_id == alice_account.id))
    entry.amount_fen += 1
    alice_account.balance_fen += 1
    db.session.commit()
    found = check_ledger(db.session)
    assert found["transactions balance"] and not found["balances equal their entries"]
    entry.amount_fen -= 1
    alice_account.balance_fen -= 1
    db.session.commit()
    # Available before the order completed: caught.
    db.session.execute(update(CommissionLine).values(status="available"))
    db.session.commit()
    assert check_ledger(db.session)["nothing available too early"]
    db.session.execute(update(CommissionLine).values(status="pending"))
    db.session.commit()
    # A split that no longer adds up to what was paid: caught.
    db.session.execute(update(LineSplit).values(paid_fen=LineSplit.paid_fen - 1,
                                                platform_fen=LineSplit.platform_fen - 1))
    db.session.commit()
    assert check_ledger(db.session)["paid orders are booked exactly"]
    assert check_ledger(db.session)["supplier payables agree"] == []
    # A line marked as settled to a supplier without a batch item saying so: caught.
    db.session.execute(update(LineSplit).values(supplier_settled_fen=1))
    db.session.commit()
    assert check_ledger(db.session)["settlement batches add up"]


def test_replay_finds_a_wrong_commission(shop):
    buyer = _chain(2)
    order = paid_order(shop, buyer, (10_000, 1))
    assert replay_order(db.session, db.session.get(Order, order.id)).clean
    db.session.execute(update(CommissionLine).where(CommissionLine.level == 1)
                       .values(amount_fen=CommissionLine.amount_fen + 7))
    db.session.commit()
    report = replay_order(db.session, db.session.get(Order, order.id))
    assert not report.clean
    assert any("level 1" in line and "should be 500 fen net, stored 507 fen" in line
               for line in report.differences)


def test_settlement_is_set_based_and_respects_the_window(shop):
    buyers = [_chain(2) for _ in range(3)]
    orders = [paid_order(shop, buyer, (1000 * (n + 1), 2)) for n, buyer in enumerate(buyers)]
    for order in orders[:2]:
        complete(order)
    assert settle_after(3) == 0
    assert settle_after(8) == 4  # two orders x two levels; the third is not completed
    assert_ledger_clean(*orders)


def test_late_payment_is_held_and_returned(shop):
    from shop import payments
    from shop.orders import cancel_order
    from tests.support.factories import place_order
    from tests.support.payments import signed_pay_notify

    buyer = _chain(1)
    order = place_order((2000, 1), buyer=buyer)
    cancel_order(db.session, Actor.of(buyer), order.id)
    payments.apply_pay_notify(db.session, gateway_of(), signed_pay_notify(shop, order.number, 2000))
    db.session.expire_all()
    assert ledger.balance(db.session, ledger.LATE_PAYMENTS) == 2000
    assert ledger.balance(db.session, ledger.CLEARING) == -2000
    assert_ledger_clean(order)


def test_plans_are_versioned_and_validated(shop):
    ops = Actor.of(make_user(Role.OPERATOR))
    assert active_plan(db.session).version_id is None  # the built-in default
    first = save_plan(db.session, ops, {"rates_bp": [1000, 500]})
    second = save_plan(db.session, ops, {"rates_bp": [800, 400], "return_window_days": 14})
    assert (first.version, second.version) == (1, 2)
    assert active_plan(db.session).plan.rates_bp == (800, 400)
    assert db.session.get(CommissionPlanVersion, first.id).rules["rates_bp"] == [1000, 500]
    for bad in ({"rates_bp": [6000, 5000]},  # over the cap of 100 % of the margin
                {"rates_bp": [1000, 500, 200], "levels": 3},  # 3 levels, no acknowledgement
                {"rates_bp": [1000, 500, 200, 100], "levels": 4,
                 "three_levels_acknowledged": True},
                {"rates_bp": [-1, 500]}, {"rates_bp": [10.5, 500]}, {"rates_bp": "lots"},
                {"rates_bp": [1000, 500], "entry_fee_fen": 100}, {}):
        with pytest.raises(InvalidInput):
            save_plan(db.session, ops, bad)
    with pytest.raises(Forbidden):
        save_plan(db.session, Actor.of(make_user()), {"rates_bp": [1000, 500]})
    assert active_plan(db.session).version == 2


def test_cli_check_replay_and_settle(shop):
    buyer = _chain(2)
    order = paid_order(shop, buyer, (10_000, 1))
    from tests.support.cli import ChatshopRunner

    runner = ChatshopRunner(shop)
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 0 and "ledger check passed" in result.output
    result = runner.invoke(args=["ledger", "replay", "--order", order.number])
    assert result.exit_code == 0 and "matches the replay" in result.output
    assert "distributor_earnings" in result.output
    result = runner.invoke(args=["ledger", "replay", "--order", "NO-SUCH-ORDER"])
    assert result.exit_code != 0 and "no order" in result.output
    assert runner.invoke(args=["ledger", "settle"]).exit_code == 0
    db.session.execute(update(LedgerAccount).values(balance_fen=LedgerAccount.balance_fen + 1))
    db.session.commit()
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 1 and "FAIL" in result.output
