"""Refunds from the chat: a full refund of what is left of one of the buyer's orders."""
from __future__ import annotations

from bots.dialogue import events as ev
from bots.dialogue import intents as it
from core.errors import Conflict
from core.models import OrderStatus
from shop.domain.order_rules import REFUNDABLE
from shop.refunds import request_refund
from storefront.features.context import ChatUser, Execute
from storefront.features.orders import order_status, own_order


def refund(chat: ChatUser, intent: it.RequestRefund) -> ev.Event:
    """Open the refund (RefundAfterShipping is worded by the executor)."""
    order = own_order(chat, intent.number)
    order_id, status = order.id, str(order.status)
    if status == OrderStatus.PENDING_PAYMENT:
        return ev.Failed(it.RequestRefund, "refund_unpaid")
    try:
        made = request_refund(chat.session, chat.gateway, chat.actor, order_id,
                              reason=intent.reason)
    except Conflict as exc:
        chat.session.rollback()
        # The order moved on (paid out, refunding, cancelled) or raced another change.
        now = order_status(chat, order_id)
        if now in REFUNDABLE:  # refundable after all: a race, say what happened
            return ev.Failed(it.RequestRefund, "conflict", exc.message)
        return ev.Failed(it.RequestRefund, "refund_status", exc.message, subject=now)
    return ev.RefundRequested(intent.number, made.amount_fen)


EXECUTORS: dict[type, Execute] = {it.RequestRefund: refund}
