"""The buyer's cart: SKUs and quantities kept in the database between sessions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import delete, select

from webapp.errors import InvalidInput, NotFound
from webapp.models import CartItem, Product, ProductStatus, Sku
from webapp.services.uow import DbSession, unit_of_work


@dataclass(frozen=True)
class CartLine:
    """A cart item with what the buyer needs to see: title, price, stock."""

    sku_id: int
    product_id: int
    title: str
    sku_name: str
    unit_price_fen: int
    quantity: int
    available: bool

    @property
    def amount_fen(self) -> int:
        """Price times quantity."""
        return self.unit_price_fen * self.quantity


def _limits() -> tuple[int, int]:
    cfg = current_app.config
    return int(cfg["MAX_LINE_QUANTITY"]), int(cfg["MAX_CART_LINES"])


def validate_quantity(quantity: int) -> None:
    """Refuse zero, negative, non-integer or absurd quantities."""
    max_qty, _ = _limits()
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= max_qty:
        raise InvalidInput(f"quantity must be a whole number from 1 to {max_qty}")


def _buyable_sku(session: DbSession, sku_id: int) -> Sku:
    sku = session.get(Sku, sku_id)
    if sku is None or not sku.active or sku.product.status != ProductStatus.ACTIVE:
        raise NotFound(f"sku {sku_id} is not for sale")
    return sku


def add_to_cart(session: DbSession, user_id: int, sku_id: int, quantity: int) -> CartItem:
    """Add ``quantity`` of a SKU to the cart (adding to what is already there)."""
    validate_quantity(quantity)
    max_qty, max_lines = _limits()
    with unit_of_work(session):
        _buyable_sku(session, sku_id)
        item = session.scalar(
            select(CartItem).where(CartItem.user_id == user_id, CartItem.sku_id == sku_id)
        )
        if item is None:
            count = len(
                session.scalars(select(CartItem.id).where(CartItem.user_id == user_id)).all()
            )
            if count >= max_lines:
                raise InvalidInput(f"a cart holds at most {max_lines} different items")
            item = CartItem(user_id=user_id, sku_id=sku_id, quantity=quantity)
            session.add(item)
        else:
            if item.quantity + quantity > max_qty:
                raise InvalidInput(f"at most {max_qty} of one item")
            item.quantity += quantity
    return item


def set_cart_quantity(session: DbSession, user_id: int, sku_id: int, quantity: int) -> None:
    """Set a cart line's quantity; 0 removes it."""
    with unit_of_work(session):
        item = session.scalar(
            select(CartItem).where(CartItem.user_id == user_id, CartItem.sku_id == sku_id)
        )
        if item is None:
            raise NotFound("that item is not in the cart")
        if quantity == 0:
            session.delete(item)
            return
        validate_quantity(quantity)
        item.quantity = quantity


def clear_cart(session: DbSession, user_id: int) -> None:
    """Empty the cart."""
    with unit_of_work(session):
        session.execute(delete(CartItem).where(CartItem.user_id == user_id))


def view_cart(session: DbSession, user_id: int) -> Sequence[CartLine]:
    """The cart with current prices; lines no longer for sale are marked unavailable."""
    rows = session.execute(
        select(CartItem, Sku, Product)
        .join(Sku, Sku.id == CartItem.sku_id)
        .join(Product, Product.id == Sku.product_id)
        .where(CartItem.user_id == user_id)
        .order_by(CartItem.id)
    ).all()
    return [
        CartLine(
            sku_id=sku.id,
            product_id=product.id,
            title=product.title,
            sku_name=sku.name,
            unit_price_fen=sku.price_fen,
            quantity=item.quantity,
            available=sku.active
            and product.status == ProductStatus.ACTIVE
            and sku.stock >= item.quantity,
        )
        for item, sku, product in rows
    ]
