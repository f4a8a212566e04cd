"""Checkout from the chat: what will be ordered, address fields, the order (once per token)."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from adapters.wechat.links import pay_page_url
from bots.dialogue import events as ev
from bots.dialogue import intents as it
from core.errors import DomainError, InvalidInput
from core.models import Order
from shop import addresses as address_service
from shop import cart as cart_service
from shop.checkout import checkout, resolve_address
from shop.domain.addresses import (
    AddressError,
    ShippingAddress,
    validate_phone,
    validate_recipient,
    validate_street,
)
from shop.orders import find_order_by_number
from storefront.features.cart import cart_of
from storefront.features.context import ChatUser, Execute

log = logging.getLogger(__name__)

# The rule for each address field the chat asks for, one typed line at a time, and
# where the intent carries the typed value.
_FIELD_RULES: dict[str, tuple[Callable[[str], str], Callable[[it.CheckAddress], str]]] = {
    "recipient": (validate_recipient, lambda intent: intent.recipient),
    "phone": (validate_phone, lambda intent: intent.phone),
    "detail": (validate_street, lambda intent: intent.detail),
}


def _address_items(chat: ChatUser) -> tuple[ev.AddressItem, ...]:
    return tuple(
        ev.AddressItem(a.id, a.recipient, a.phone, f"{a.region} {a.detail}".strip())
        for a in address_service.list_addresses(chat.session, chat.user_id)
    )


def start_checkout(chat: ChatUser, intent: it.StartCheckout) -> ev.Event:
    """The whole cart and the saved addresses, unless a line cannot be ordered."""
    cart = cart_of(chat)
    if not cart.lines:
        return ev.Failed(it.StartCheckout, "cart_empty")
    short = [line.title for line in cart.lines if not line.available]
    if short:
        return ev.Failed(it.StartCheckout, "cart_unavailable", subject="、".join(short))
    return ev.CheckoutReady(cart.lines, _address_items(chat))


def check_address(chat: ChatUser, intent: it.CheckAddress) -> ev.Event:
    """One typed field judged by its own rule; its clean form when accepted."""
    rule = _FIELD_RULES.get(intent.field)
    if rule is None:
        raise InvalidInput(f"unknown address field {intent.field!r}")
    validate, typed = rule
    try:
        value = validate(typed(intent))
    except AddressError as exc:
        return ev.AddressChecked(intent.field, False, message=str(exc), reason=exc.code)
    return ev.AddressChecked(intent.field, True, value=value)


def _remember_address(chat: ChatUser, shipping: ShippingAddress) -> str:
    """Keep an address typed for a placed order; why not, if it could not be kept."""
    try:
        address_service.remember_address(chat.session, chat.user_id, shipping)
    except DomainError as exc:
        chat.session.rollback()
        return exc.message
    except Exception:  # noqa: BLE001 - the order is placed: report it, log the rest
        log.exception("chat: keeping the address of user %s failed", chat.user_id)
        chat.session.rollback()
        return "internal error"
    return ""


def _shipping(chat: ChatUser, intent: it.ConfirmOrder) -> ShippingAddress:
    if intent.address_id is not None:
        return resolve_address(chat.session, chat.user_id, address_id=intent.address_id)
    return resolve_address(chat.session, chat.user_id, address={
        "recipient": intent.recipient, "phone": intent.phone, "region": "",
        "detail": intent.detail,
    })


def _created(chat: ChatUser, order: Order, duplicate: bool = False) -> ev.OrderCreated:
    return ev.OrderCreated(
        order.number, order.total_fen, pay_page_url(order.number, chat.base_url),
        chat.payment_minutes, duplicate,
    )


def confirm_order(chat: ChatUser, intent: it.ConfirmOrder) -> ev.Event:
    """Create the order from the cart, at most once per confirmation token."""
    claim = chat.store.claim_checkout(chat.openid, intent.token)
    if not claim.won:
        order = find_order_by_number(chat.session, claim.number) if claim.number else None
        if order is None or order.buyer_id != chat.user_id:
            return ev.Failed(it.ConfirmOrder, "in_progress")
        return _created(chat, order, duplicate=True)
    try:
        if not cart_service.view_cart(chat.session, chat.user_id):
            chat.store.release_checkout(chat.openid, intent.token)
            return ev.Failed(it.ConfirmOrder, "cart_empty")
        shipping = _shipping(chat, intent)
        order = checkout(chat.session, chat.settings, chat.user_id, None, shipping)
    except BaseException:
        chat.store.release_checkout(chat.openid, intent.token)
        raise
    chat.store.settle_checkout(chat.openid, intent.token, order.number)
    created = _created(chat, order)
    if intent.save_address and intent.address_id is None:
        # Only now that the order exists: an abandoned checkout saves nothing.
        not_saved = _remember_address(chat, shipping)
        if not_saved:
            created = replace(created, address_not_saved=not_saved)
    return created


EXECUTORS: dict[type, Execute] = {
    it.StartCheckout: start_checkout,
    it.CheckAddress: check_address,
    it.ConfirmOrder: confirm_order,
}
