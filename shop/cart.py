"""The buyer's cart: SKUs and quantities kept in the database between sessions.

A cart line never asks for more than the SKU has in stock when it is added or
changed (checkout reserves stock for real, so stock can still run out later: such
a line shows as unavailable, with its price, and is left out of what can be ordered).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select

from core.errors import InvalidInput, NotFound, OutOfStock
from core.models import CartItem, Product, ProductStatus, Sku
from core.settings import Settings
from core.uow import DbSession, unit_of_work


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
    stock: int = 0  # what the SKU has left right now
    off_sale: bool = False  # unavailable because it is no longer sold (not only short)

    @property
    def amount_fen(self) -> int:
        """Price times quantity."""
        return self.unit_price_fen * self.quantity


def orderable_total_fen(lines: Sequence[CartLine]) -> int:
    """What checkout would charge now: the lines that are available (the others are noted)."""
    return sum(line.amount_fen for line in lines if line.available)


def validate_quantity(quantity: int, max_qty: int) -> None:
    """Refuse zero, negative, non-integer or absurd quantities (more than ``max_qty``)."""
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= max_qty:
        raise InvalidInput(f"quantity must be a whole number from 1 to {max_qty}")


def _buyable_sku(session: DbSession, sku_id: int) -> Sku:
    sku = session.get(Sku, sku_id)
    if sku is None or not sku.active or sku.product.status != ProductStatus.ACTIVE:
        raise NotFound(f"sku {sku_id} is not for sale")
    return sku


def _check_stock(sku: Sku, wanted: int, in_cart: int) -> None:
    """Refuse a line of ``wanted`` when the SKU has less in stock, saying how much is left."""
    if wanted > sku.stock:
        left = max(0, sku.stock)
        more = max(0, left - in_cart)
        raise OutOfStock(
            f"only {left} of {sku.product.title} left"
            + (f" and {in_cart} already in the cart: at most {more} more" if in_cart else ""),
            sku_id=sku.id, stock=left, in_cart=in_cart,
        )


def add_to_cart(
    session: DbSession, settings: Settings, user_id: int, sku_id: int, quantity: int
) -> CartItem:
    """Add ``quantity`` of a SKU to the cart (adding to what is already there).

    ``settings`` bound a line (MAX_LINE_QUANTITY) and the cart (MAX_CART_LINES).
    """
    max_qty, max_lines = settings.max_line_quantity, settings.max_cart_lines
    validate_quantity(quantity, max_qty)
    with unit_of_work(session):
        sku = _buyable_sku(session, sku_id)
        item = session.scalar(
            select(CartItem).where(CartItem.user_id == user_id, CartItem.sku_id == sku_id)
        )
        in_cart = item.quantity if item is not None else 0
        _check_stock(sku, in_cart + quantity, in_cart)
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


def set_cart_quantity(
    session: DbSession, settings: Settings, user_id: int, sku_id: int, quantity: int
) -> None:
    """Set a cart line's quantity; 0 removes it. More than the stock left, or than
    ``settings.max_line_quantity``, is refused."""
    with unit_of_work(session):
        item = session.scalar(
            select(CartItem).where(CartItem.user_id == user_id, CartItem.sku_id == sku_id)
        )
        if item is None:
            raise NotFound("that item is not in the cart")
        if quantity == 0:
            session.delete(item)
            return
        validate_quantity(quantity, settings.max_line_quantity)
        sku = session.get(Sku, sku_id)
        if sku is not None:
            _check_stock(sku, quantity, 0)
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
            stock=max(0, sku.stock),
            off_sale=not (sku.active and product.status == ProductStatus.ACTIVE),
        )
        for item, sku, product in rows
    ]
