"""The buyer's orders from the chat: the list, one order, cancelling an unpaid one."""
from __future__ import annotations

import math

from sqlalchemy import func, select

from adapters.wechat.links import pay_page_url
from bots.dialogue import events as ev
from bots.dialogue import intents as it
from core.errors import Conflict, NotFound
from core.models import Order, OrderStatus
from shop.orders import cancel_order, find_order_by_number
from storefront.features.context import ChatUser, Execute, local_time


def show_orders(chat: ChatUser, intent: it.ShowOrders) -> ev.Event:
    """A page of the buyer's orders, newest first."""
    stmt = select(Order).where(Order.buyer_id == chat.user_id).order_by(Order.id.desc())
    total = int(chat.session.scalar(
        select(func.count()).select_from(stmt.order_by(None).subquery())
    ) or 0)
    per_page = max(1, intent.per_page)
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, intent.page), pages)
    orders = list(chat.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)))
    items = tuple(
        ev.OrderItem(o.number, o.status, o.total_fen, local_time(o.created_at),
                     sum(line.quantity for line in o.lines))
        for o in orders
    )
    return ev.OrdersListed(items, page, pages, total, intent.purpose)


def own_order(chat: ChatUser, number: str) -> Order:
    """The buyer's order with this number (NotFound for anyone else's)."""
    order = find_order_by_number(chat.session, number)
    if order is None or order.buyer_id != chat.user_id:
        raise NotFound("order not found")
    return order


def order_status(chat: ChatUser, order_id: int) -> str:
    """The order's status as the database has it now."""
    return str(chat.session.scalar(select(Order.status).where(Order.id == order_id)))


def show_order(chat: ChatUser, intent: it.ShowOrder) -> ev.Event:
    """One order in full; the pay link while it awaits payment."""
    order = own_order(chat, intent.number)
    lines = tuple(
        ev.OrderLineItem(line.title, line.sku_name, line.quantity, line.amount_fen)
        for line in order.lines
    )
    link = pay_page_url(order.number, chat.base_url) \
        if order.status == OrderStatus.PENDING_PAYMENT else None
    return ev.OrderShown(
        order.number, order.status, order.total_fen, order.refunded_fen,
        local_time(order.created_at), lines, order.recipient, order.phone,
        order.shipping_address, link,
    )


def cancel(chat: ChatUser, intent: it.CancelOrder) -> ev.Event:
    """Cancel an unpaid order; refused with its status when it is no longer unpaid."""
    order = own_order(chat, intent.number)
    order_id = order.id
    try:
        cancel_order(chat.session, chat.actor, order_id, reason="buyer (chat)")
    except Conflict:
        chat.session.rollback()
        return ev.Failed(it.CancelOrder, "cancel_status", subject=order_status(chat, order_id))
    return ev.OrderCancelled(intent.number)


EXECUTORS: dict[type, Execute] = {
    it.ShowOrders: show_orders,
    it.ShowOrder: show_order,
    it.CancelOrder: cancel,
}
