"""Chat messages the shop sends on its own: the "paid" message after a payment notify.

The ``order.paid`` outbox message (written with the payment, see
``shop.payments``) runs ``workers.jobs.send_paid_message`` on a worker, which
calls :func:`notify_paid`. It
builds the order summary and hands it to ``storefront.outbound``, which sends
it as a customer-service message within WeChat's quotas. A retried job does
not message twice: the delivery key is the order id.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from bots.dialogue.texts import item_title, paid_message
from bots.messages import Reply, TextReply
from core.models import Order, User
from core.uow import DbSession
from storefront.outbound import note_payment, send_customer_service
from storefront.storefront import state_store

log = logging.getLogger(__name__)


def paid_replies(order: Order, lang: str = "zh") -> list[Reply]:
    """The "payment received" message for an order, with its lines and address."""
    lines = [
        (item_title(line.title, line.sku_name), line.quantity, line.amount_fen)
        for line in order.lines
    ]
    text = paid_message(
        lang,
        number=order.number,
        total_fen=order.total_fen,
        lines=lines,
        recipient=order.recipient,
        phone=order.phone,
        address=order.shipping_address,
    )
    return [TextReply(text)]


def _epoch(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def notify_paid(session: DbSession, order_id: int, paid_at: str | None = None) -> str | None:
    """Queue the "paid" message to the order's buyer; the delivery job id, or None."""
    order = session.get(Order, order_id)
    if order is None:
        log.warning("paid message: order %s not found", order_id)
        return None
    buyer = session.get(User, order.buyer_id)
    if buyer is None or not buyer.openid:
        return None  # bought through the API, not the chat: nobody to message
    lang = state_store().load(buyer.openid).lang
    # A payment opens WeChat's 48 h window for customer-service messages.
    note_payment(buyer.openid, now=_epoch(paid_at))
    return send_customer_service(
        buyer.openid, paid_replies(order, lang), reason="payment", key=f"order-paid-{order.id}"
    )

