"""Driving money through the real services in tests: refund, complete, settle, check the ledger.

Paying is in ``tests.support.payments`` (``paid_order``).
"""
from __future__ import annotations

from datetime import timedelta

from commissions import ledger
from commissions.replay import replay_order
from commissions.settlement import settle_matured_commissions
from core.actors import Actor
from core.clock import utcnow
from core.models import Order, OrderStatus, Refund, User
from shop import refunds
from shop.ledger_checks import check_ledger
from shop.orders import confirm_receipt
from tests.support.payments import refund_notify
from tests.support.settings import gateway_of
from webapp.extensions import db


def refund(app, operator: Actor, order: Order, parts=None, reason="test") -> Refund:
    """Request a refund (whole order when ``parts`` is None) and have WeChat confirm it."""
    made = refunds.request_refund(db.session, gateway_of(), operator, order.id, parts,
                                  reason=reason)
    current = db.session.get(Order, made.order_id)
    body = refund_notify(app, made.out_refund_no, current.number, made.amount_fen,
                         current.total_fen)
    db.session.commit()
    assert refunds.apply_refund_notify(db.session, gateway_of(), body).applied
    return made


def complete(order: Order) -> None:
    """Ship (directly) and have the buyer confirm receipt: the return window starts."""
    row = db.session.get(Order, order.id)
    row.status = OrderStatus.SHIPPED
    row.shipped_at = utcnow()
    buyer = db.session.get(User, row.buyer_id)
    db.session.commit()
    confirm_receipt(db.session, Actor.of(buyer), order.id)


def settle_after(days: int) -> int:
    """Run settlement as if ``days`` had passed."""
    return settle_matured_commissions(db.session, now=utcnow() + timedelta(days=days))


def balances(owner: int) -> tuple[int, int]:
    """(pending, available) of a distributor."""
    db.session.expire_all()
    return (ledger.balance(db.session, ledger.DISTRIBUTOR_PENDING, owner),
            ledger.balance(db.session, ledger.DISTRIBUTOR_AVAILABLE, owner))


def assert_ledger_clean(*orders: Order) -> None:
    """``ledger check`` finds nothing, and every given order replays without a difference."""
    db.session.expire_all()
    breaches = {name: found for name, found in check_ledger(db.session).items() if found}
    assert breaches == {}
    for order in orders:
        report = replay_order(db.session, db.session.get(Order, order.id))
        assert report.differences == []
    db.session.rollback()
