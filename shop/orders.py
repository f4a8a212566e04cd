"""Order lifecycle after checkout: cancel, expire, ship, confirm receipt, auto-complete.

Every status change goes through :func:`shop.order_status.move_order`,
whose guard comes from the transition table in ``shop.domain.order_rules``.
The batch jobs (expiry, auto-completion) give each order its own transaction:
an order that fails is logged with its id and skipped, the others go on.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select, update

from commissions.settlement import start_return_window
from core.actors import Actor
from core.clock import utcnow
from core.errors import Conflict, InvalidInput, NotFound
from core.journal import announce, audit
from core.models import Order, OrderLine, OrderStatus, Role, Shipment, Sku
from core.settings import Settings
from core.uow import DbSession, unit_of_work
from shop.domain.order_rules import (
    COMPLETED,
    SHIPPED,
    awaiting_shipment,
    may_move,
)
from shop.order_status import may_become, move_order

log = logging.getLogger(__name__)


def visible_orders_query(actor: Actor) -> Select[Order]:
    """Orders the actor may see: operators all, suppliers those with their goods, buyers own."""
    stmt = select(Order).order_by(Order.id.desc())
    if actor.is_operator():
        return stmt
    if Role.SUPPLIER in actor.roles and actor.supplier_id is not None:
        return stmt.where(
            Order.lines.any(OrderLine.supplier_id == actor.supplier_id),
            Order.paid_at.is_not(None),
        )
    return stmt.where(Order.buyer_id == actor.user_id)


def get_visible_order(session: DbSession, actor: Actor, order_id: int) -> Order:
    """An order the actor may see, or NotFound (never Forbidden: do not leak existence)."""
    order = session.scalars(visible_orders_query(actor).where(Order.id == order_id)).first()
    if order is None:
        raise NotFound("order not found")
    return order


def find_order_by_number(session: DbSession, number: str) -> Order | None:
    """The order with this number (= out_trade_no), if any."""
    return session.scalar(select(Order).where(Order.number == number))


def _release_stock(session: DbSession, order: Order) -> None:
    for line in order.lines:
        session.execute(
            update(Sku)
            .where(Sku.id == line.sku_id)
            .values(stock=Sku.stock + line.quantity, version=Sku.version + 1)
            .execution_options(synchronize_session=False)
        )


def _cancel_if_unpaid(session: DbSession, order: Order, reason: str, now: datetime) -> bool:
    """Move a pending order to cancelled and put its stock back; False if it was not pending.

    The status guard in the UPDATE is what makes this safe against a pay
    notify arriving at the same moment: exactly one of the two wins.
    """
    if not move_order(session, order.id, OrderStatus.CANCELLED,
                      cancelled_at=now, cancel_reason=reason):
        return False
    _release_stock(session, order)
    announce(session, "order.cancelled", order_id=order.id, number=order.number, reason=reason)
    return True


def cancel_order(session: DbSession, actor: Actor, order_id: int, reason: str = "buyer") -> Order:
    """Cancel an unpaid order (its buyer or an operator) and release its stock."""
    with unit_of_work(session):
        order = get_visible_order(session, actor, order_id)
        if order.buyer_id != actor.user_id and not actor.is_operator():
            raise NotFound("order not found")
        if not _cancel_if_unpaid(session, order, reason[:100], utcnow()):
            raise Conflict(f"only unpaid orders can be cancelled (this one is {order.status})")
        audit(session, actor.user_id, "order.cancelled", "order", order.number, reason=reason)
    session.refresh(order)
    return order


def _due_orders(
    session: DbSession, conditions: tuple[Any, ...], page_size: int
) -> Iterator[tuple[int, str]]:
    """(id, number) of every order meeting ``conditions``, read a page at a time by id.

    Walking on past the last id seen (rather than re-reading the first page) means
    orders that fail and stay due are met once per run and never starve the ones
    behind them.
    """
    last_id = 0
    while True:
        with unit_of_work(session):
            page = session.execute(
                select(Order.id, Order.number)
                .where(*conditions, Order.id > last_id)
                .order_by(Order.id)
                .limit(page_size)
            ).all()
        yield from ((order_id, number) for order_id, number in page)
        if len(page) < page_size:
            return
        last_id = page[-1][0]


def cancel_expired_orders(
    session: DbSession, now: datetime | None = None, page_size: int = 500
) -> int:
    """Cancel unpaid orders past their payment deadline; returns how many were cancelled.

    Each order is cancelled in its own transaction: one that fails is logged
    and left for the next run, and the others are still cancelled.
    """
    now = now or utcnow()
    cancelled = 0
    for order_id, _number in _due_orders(
        session, (may_become(OrderStatus.CANCELLED), Order.expires_at < now), page_size
    ):
        try:
            with unit_of_work(session):
                order = session.get(Order, order_id)
                if order is not None and _cancel_if_unpaid(session, order, "payment timeout", now):
                    audit(session, None, "order.expired", "order", order.number)
                    cancelled += 1
        except Exception:  # noqa: BLE001 - one bad order must not stop the batch
            log.exception("expiring order %s failed; skipped", order_id)
    return cancelled


def ship_order(
    session: DbSession, actor: Actor, order_id: int, carrier: str, tracking_number: str
) -> Order:
    """A supplier ships its lines of an order; the order is shipped once every supplier has."""
    supplier_id = actor.require_supplier()
    carrier, tracking_number = carrier.strip(), tracking_number.strip()
    if not 1 <= len(carrier) <= 32 or not 1 <= len(tracking_number) <= 64:
        raise InvalidInput("carrier (1-32) and tracking_number (1-64 characters) are required")
    with unit_of_work(session):
        order = session.scalars(
            visible_orders_query(actor).where(Order.id == order_id).with_for_update()
        ).first()
        if order is None:
            raise NotFound("order not found")
        if not may_move(order.status, SHIPPED, shipped=order.shipped_at is not None,
                        completed=order.completed_at is not None):
            raise Conflict(f"an order that is {order.status} cannot be shipped")
        if any(s.supplier_id == supplier_id for s in order.shipments):
            raise Conflict("you have already shipped this order")
        now = utcnow()
        session.add(
            Shipment(
                order_id=order.id,
                supplier_id=supplier_id,
                carrier=carrier,
                tracking_number=tracking_number,
                shipped_at=now,
            )
        )
        session.flush()
        audit(session, actor.user_id, "order.shipped_by_supplier", "order", order.number,
              supplier_id=supplier_id, carrier=carrier, tracking_number=tracking_number)
        if not _awaiting_shipment(session, order.id):
            if not move_order(session, order.id, SHIPPED, shipped_at=now):
                raise Conflict("the order changed while shipping; retry")
            announce(session, "order.shipped", order_id=order.id, number=order.number)
    session.refresh(order)
    return order


def _awaiting_shipment(session: DbSession, order_id: int) -> set[int]:
    """Suppliers of the order with units left to deliver that have not shipped (from the DB)."""
    lines = [(int(supplier), int(quantity), int(refunded)) for supplier, quantity, refunded
             in session.execute(
                 select(OrderLine.supplier_id, OrderLine.quantity, OrderLine.refunded_quantity)
                 .where(OrderLine.order_id == order_id))]
    shipped = session.scalars(select(Shipment.supplier_id).where(Shipment.order_id == order_id))
    return awaiting_shipment(lines, shipped)


def ship_if_nothing_left_to_ship(session: DbSession, order_id: int) -> bool:
    """After a refund: mark the order shipped when the suppliers that shipped were the last
    ones with goods to deliver (the others' goods were all refunded); True if it moved.

    Without this an order whose unshipped supplier was refunded in full would wait for
    a shipment that never comes. Its ``shipped_at`` is the last actual shipment, so
    auto-completion counts from when the goods left. Call inside a unit of work.
    """
    last = session.scalar(select(func.max(Shipment.shipped_at))
                          .where(Shipment.order_id == order_id))
    if last is None or _awaiting_shipment(session, order_id):
        return False
    if not move_order(session, order_id, SHIPPED, shipped_at=last):
        return False
    number = session.scalar(select(Order.number).where(Order.id == order_id))
    audit(session, None, "order.shipped", "order", str(number), by="refund")
    announce(session, "order.shipped", order_id=order_id, number=number)
    return True


def _complete(session: DbSession, order_id: int, now: datetime) -> bool:
    """Complete a shipped (or shipped, then partially refunded) order; False if it may not."""
    if not move_order(session, order_id, COMPLETED, completed_at=now):
        return False
    start_return_window(session, order_id, now)
    return True


def confirm_receipt(session: DbSession, actor: Actor, order_id: int) -> Order:
    """The buyer confirms the goods arrived: shipped (or shipped, partly refunded) → completed."""
    with unit_of_work(session):
        order = get_visible_order(session, actor, order_id)
        if order.buyer_id != actor.user_id:
            raise NotFound("order not found")
        now = utcnow()
        if not _complete(session, order.id, now):
            raise Conflict(f"only shipped orders can be confirmed (this one is {order.status})")
        audit(session, actor.user_id, "order.completed", "order", order.number, by="buyer")
        announce(session, "order.completed", order_id=order.id, number=order.number)
    session.refresh(order)
    return order


def auto_complete_orders(
    session: DbSession, settings: Settings, now: datetime | None = None, page_size: int = 1000
) -> int:
    """Complete orders shipped more than ``settings.auto_complete_days`` ago; returns how many.

    Takes every order the transition table lets complete (shipped, and shipped
    then partially refunded). Each is completed in its own transaction: one that
    fails (e.g. a commission return window out of range) is logged with its id
    and skipped, and the batch goes on.
    """
    now = now or utcnow()
    try:
        cutoff = now - timedelta(days=settings.auto_complete_days)
    except OverflowError:  # a delay reaching back before year 1: nothing is due yet
        log.error("AUTO_COMPLETE_DAYS=%r is out of range; nothing auto-completed",
                  settings.auto_complete_days)
        return 0
    completed = 0
    for order_id, number in _due_orders(
        session, (may_become(COMPLETED), Order.shipped_at < cutoff), page_size
    ):
        try:
            with unit_of_work(session):
                if _complete(session, order_id, now):
                    audit(session, None, "order.completed", "order", number, by="auto")
                    announce(session, "order.completed", order_id=order_id, number=number)
                    completed += 1
        except Exception:  # noqa: BLE001 - one bad order must not stop the batch
            log.exception("auto-completing order %s (id %s) failed; skipped", number, order_id)
    return completed
