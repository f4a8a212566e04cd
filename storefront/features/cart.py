"""The cart from the chat: add, change, clear, show."""
from __future__ import annotations

from typing import Any

from bots.dialogue import events as ev
from bots.dialogue import intents as it
from core.errors import OutOfStock
from core.models import Sku
from shop import cart as cart_service
from storefront.features.context import ChatUser, Execute


def cart_of(chat: ChatUser, **extra: Any) -> ev.CartShown:
    """The user's cart as the dialogue shows it (``extra``: what just changed)."""
    lines = tuple(
        ev.CartItemLine(
            line.sku_id, line.product_id, line.title, line.sku_name,
            line.unit_price_fen, line.quantity, line.available, line.stock, line.off_sale,
        )
        for line in cart_service.view_cart(chat.session, chat.user_id)
    )
    return ev.CartShown(lines, **extra)


def _short_stock(action: type[it.Intent], exc: OutOfStock) -> ev.Failed:
    # In the cart, out of stock means "only N left (M in your cart)", not "gone".
    return ev.Failed(action, "short_stock", exc.message,
                     stock=int(exc.details.get("stock", 0)),
                     in_cart=int(exc.details.get("in_cart", 0)))


def add_to_cart(chat: ChatUser, intent: it.AddToCart) -> ev.Event:
    """Add a quantity of a SKU; the cart, naming what was added."""
    try:
        item = cart_service.add_to_cart(
            chat.session, chat.settings, chat.user_id, intent.sku_id, intent.quantity)
    except OutOfStock as exc:
        chat.session.rollback()
        return _short_stock(it.AddToCart, exc)
    sku = chat.session.get(Sku, item.sku_id)
    title = sku.product.title if sku is not None else ""
    sku_name = sku.name if sku is not None else ""
    return cart_of(chat, added=(title, intent.quantity), added_sku=sku_name)


def show_cart(chat: ChatUser, intent: it.ShowCart) -> ev.Event:
    """The cart."""
    return cart_of(chat)


def set_cart_quantity(chat: ChatUser, intent: it.SetCartQuantity) -> ev.Event:
    """Change a line's quantity (0 removes it)."""
    try:
        cart_service.set_cart_quantity(
            chat.session, chat.settings, chat.user_id, intent.sku_id, intent.quantity)
    except OutOfStock as exc:
        chat.session.rollback()
        return _short_stock(it.SetCartQuantity, exc)
    return cart_of(chat, changed=True)


def clear_cart(chat: ChatUser, intent: it.ClearCart) -> ev.Event:
    """Empty the cart."""
    cart_service.clear_cart(chat.session, chat.user_id)
    return cart_of(chat, changed=True)


EXECUTORS: dict[type, Execute] = {
    it.AddToCart: add_to_cart,
    it.ShowCart: show_cart,
    it.SetCartQuantity: set_cart_quantity,
    it.ClearCart: clear_cart,
}
