"""Order lifecycle after checkout: cancel, expire, ship, confirm receipt, auto-complete."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Select, select, update

from commissions.settlement import start_return_window
from webapp.domain.order_rules import SHIPPABLE
from webapp.errors import Conflict, InvalidInput, NotFound
from webapp.models import Order, OrderLine, OrderStatus, Role, Shipment, Sku
from webapp.models.base import utcnow
from webapp.services.actors import Actor
from webapp.services.journal import announce, audit
from webapp.services.uow import DbSession, unit_of_work


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
    moved = session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == OrderStatus.PENDING_PAYMENT)
        .values(
            status=OrderStatus.CANCELLED,
            cancelled_at=now,
            cancel_reason=reason,
            version=Order.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
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


def cancel_expired_orders(session: DbSession, now: datetime | None = None, limit: int = 500) -> int:
    """Cancel unpaid orders past their payment deadline; returns how many were cancelled."""
    now = now or utcnow()
    cancelled = 0
    with unit_of_work(session):
        expired = session.scalars(
            select(Order)
            .where(Order.status == OrderStatus.PENDING_PAYMENT, Order.expires_at < now)
            .order_by(Order.id)
            .limit(limit)
        ).all()
        for order in expired:
            if _cancel_if_unpaid(session, order, "payment timeout", now):
                audit(session, None, "order.expired", "order", order.number)
                cancelled += 1
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
        if order.status not in SHIPPABLE or order.shipped_at is not None:
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
        session.refresh(order)
        shipped_by = {s.supplier_id for s in order.shipments}
        audit(session, actor.user_id, "order.shipped_by_supplier", "order", order.number,
              supplier_id=supplier_id, carrier=carrier, tracking_number=tracking_number)
        if order.supplier_ids <= shipped_by:
            moved = session.execute(
                update(Order)
                .where(Order.id == order.id, Order.status.in_(list(SHIPPABLE)))
                .values(status=OrderStatus.SHIPPED, shipped_at=now, version=Order.version + 1)
                .execution_options(synchronize_session=False)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict("the order changed while shipping; retry")
            announce(session, "order.shipped", order_id=order.id, number=order.number)
    session.refresh(order)
    return order


def _complete(session: DbSession, order_id: int, now: datetime) -> bool:
    moved = session.execute(
        update(Order)
        .where(Order.id == order_id, Order.status == OrderStatus.SHIPPED)
        .values(status=OrderStatus.COMPLETED, completed_at=now, version=Order.version + 1)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return False
    start_return_window(session, order_id, now)
    return True


def confirm_receipt(session: DbSession, actor: Actor, order_id: int) -> Order:
    """The buyer confirms the goods arrived: shipped → completed."""
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


def auto_complete_orders(session: DbSession, now: datetime | None = None, limit: int = 1000) -> int:
    """Complete orders shipped more than AUTO_COMPLETE_DAYS ago; returns how many."""
    now = now or utcnow()
    cutoff = now - timedelta(days=int(current_app.config["AUTO_COMPLETE_DAYS"]))
    completed = 0
    with unit_of_work(session):
        due: Sequence[tuple[int, str]] = session.execute(
            select(Order.id, Order.number)
            .where(Order.status == OrderStatus.SHIPPED, Order.shipped_at < cutoff)
            .order_by(Order.id)
            .limit(limit)
        ).all()
        for order_id, number in due:
            if _complete(session, order_id, now):
                audit(session, None, "order.completed", "order", number, by="auto")
                announce(session, "order.completed", order_id=order_id, number=number)
                completed += 1
    return completed
