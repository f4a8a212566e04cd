"""Money stories shared by the commission, API and chat tests, driven through the real services."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from commissions import ledger
from commissions.earnings import EarningsSummary, earnings_summary
from commissions.ledger import Leg
from commissions.plan_store import save_plan
from core.actors import Actor
from core.clock import utcnow
from core.models import Order, Role, User
from tests.support.factories import link, make_distributor, make_user
from tests.support.money import assert_ledger_clean, complete, refund, settle_after
from tests.support.payments import install_fake_gateway, paid_order
from webapp.extensions import db

# Two levels, 10 % / 5 % of the margin (``money_story``).
STORY_PLAN = {"rates_bp": [1000, 500], "levels": 2, "base": "margin", "return_window_days": 7}
# One level, 10 % of the margin (``fund``).
FUND_PLAN = {"rates_bp": [1000], "levels": 1, "base": "margin", "return_window_days": 7}


@dataclass
class Story:
    """Who and what ``money_story`` made (ids, so they survive sessions)."""

    operator: User
    top: User
    alice: User
    bob: User
    buyer: User
    orders: list[Order]  # O1, O2, O3
    suppliers: list[int]  # the supplier of each order's single line
    start: datetime  # before O1 was paid
    middle: datetime  # after O1 settled, before O3 was paid


def simulate_payout(owner: int, requested: int, paid_out: int) -> None:
    """Stand-in for issue 6: a withdrawal request, of which ``paid_out`` is paid out.

    The postings move money as ARCHITECTURE.md says withdrawals will:
    available -> withdrawing at request, withdrawing -> payout clearing when paid.
    """
    tag = f"{owner}:{requested}:{paid_out}"
    ledger.post(db.session, "withdrawal.requested", "test", owner, [
        Leg(ledger.DISTRIBUTOR_AVAILABLE, owner, -requested),
        Leg(ledger.DISTRIBUTOR_WITHDRAWING, owner, requested),
    ], key=f"test.withdrawal:{tag}")
    if paid_out:
        ledger.post(db.session, "payout.paid", "test", owner, [
            Leg(ledger.DISTRIBUTOR_WITHDRAWING, owner, -paid_out),
            Leg(ledger.PAYOUT_CLEARING, ledger.PLATFORM_OWNER, paid_out),
        ], key=f"test.payout:{tag}")
    db.session.commit()


def money_story(app: Any) -> Story:
    """Three paid orders, a partial refund, settlement, payouts, a refund after settlement.

    Plan: 10 % / 5 % of the margin; supply cost is half the price. Tree: top <- alice,
    top <- bob; the buyer is alice's customer, buyer2 bob's.

    1. O1 (buyer) 10 000: supplier 5 000, alice 500 (L1), top 250 (L2), platform 4 250.
    2. O2 (buyer2) 6 000 x 2 = 12 000: supplier 6 000, bob 600, top 300, platform 5 100.
    3. 2 000 of O1 back while pending (20 %): alice -100, top -50, supplier -1 000.
    4. O1 completed and settled: alice available 400, top available 200.
       -- ``middle`` --
    5. O3 (buyer) 3 000: supplier 1 500, alice 150, top 75, platform 1 275.
    6. alice withdraws 300 (paid out) and asks for 100 more (in flight): available 0.
    7. The other 8 000 of O1 back after settlement: clawbacks alice -400, top -200;
       alice's available goes to -400, a debt.
    """
    install_fake_gateway(app)
    ops = make_user(Role.OPERATOR)
    save_plan(db.session, Actor.of(ops), STORY_PLAN, "launch")
    top = make_distributor()
    alice = make_distributor(upline=top)
    bob = make_distributor(upline=top)
    buyer, buyer2 = make_user(), make_user()
    link(buyer, alice)
    link(buyer2, bob)
    operator = Actor.of(ops)

    start = utcnow()
    first = paid_order(app, buyer, (10_000, 1))
    second = paid_order(app, buyer2, (6_000, 2))
    refund(app, operator, first, [(first.lines[0].id, 0, 2000)])
    complete(first)
    assert settle_after(8) == 2
    assert_ledger_clean(first, second)
    middle = utcnow()
    third = paid_order(app, buyer, (3_000, 1))
    assert_ledger_clean(first, second, third)
    simulate_payout(alice.id, 300, 300)
    simulate_payout(alice.id, 100, 0)
    refund(app, operator, first)
    db.session.expire_all()
    orders = [db.session.get(Order, o.id) for o in (first, second, third)]
    return Story(operator=ops, top=top, alice=alice, bob=bob, buyer=buyer, orders=orders,
                 suppliers=[o.lines[0].supplier_id for o in orders], start=start,
                 middle=middle)


@dataclass
class Funded:
    """A distributor with 5 000 fen available (from one settled order), and an operator."""

    alice: User
    operator: Actor
    order: Order
    buyer: User

    @property
    def me(self) -> Actor:
        """Alice as the caller."""
        return Actor.of(self.alice)


def fund(app: Any) -> Funded:
    """One 100 000 fen order: margin 50 000, alice 10 % = 5 000, completed and settled."""
    ops = make_user(Role.OPERATOR)
    operator = Actor.of(ops)
    save_plan(db.session, operator, FUND_PLAN, "withdrawal tests")
    alice = make_distributor()
    buyer = make_user()
    link(buyer, alice)
    order = paid_order(app, buyer, (100_000, 1))
    complete(order)
    assert settle_after(8) == 1
    return Funded(alice=alice, operator=operator, order=order, buyer=buyer)


def summary(user: User) -> EarningsSummary:
    """The earnings summary of ``user``, read afresh."""
    db.session.expire_all()
    found = earnings_summary(db.session, user.id)
    db.session.rollback()
    return found
