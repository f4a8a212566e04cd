"""Checkout: turn items into an order, reserving stock atomically."""
from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import lazyload

from core.bounds import MAX_ORDER_TOTAL_FEN
from core.clock import utcnow
from core.errors import InvalidInput, NotFound, OutOfStock
from core.journal import announce, audit
from core.models import (
    Address,
    CartItem,
    Order,
    OrderLine,
    OrderStatus,
    Product,
    ProductStatus,
    Sku,
    Supplier,
)
from core.settings import Settings
from core.uow import DbSession, unit_of_work
from shop.cart import validate_quantity
from shop.domain.addresses import AddressError, ShippingAddress, validate_address
from shop.domain.order_rules import LineAmount, merge_quantities, order_total_fen


def new_order_number(now: datetime) -> str:
    """A unique, sortable order number (also the WeChat Pay out_trade_no): 24 characters."""
    return "CS" + now.strftime("%Y%m%d%H%M%S") + f"{secrets.randbelow(10**8):08d}"


def resolve_address(
    session: DbSession,
    buyer_id: int,
    address_id: int | None = None,
    address: dict[str, str] | None = None,
) -> ShippingAddress:
    """A validated shipping address: a saved one of the buyer's, or one given inline."""
    if (address_id is None) == (address is None):
        raise InvalidInput("give exactly one of address_id or address")
    if address_id is not None:
        saved = session.get(Address, address_id)
        if saved is None or saved.user_id != buyer_id:
            raise NotFound("address not found")
        return ShippingAddress(saved.recipient, saved.phone, saved.region, saved.detail)
    assert address is not None
    try:
        return validate_address(
            address.get("recipient", ""),
            address.get("phone", ""),
            address.get("region", ""),
            address.get("detail", ""),
        )
    except AddressError as exc:
        raise InvalidInput(str(exc)) from exc


def checkout(
    session: DbSession,
    settings: Settings,
    buyer_id: int,
    items: Iterable[tuple[int, int]] | None,
    shipping: ShippingAddress,
    *,
    note: str = "",
    now: datetime | None = None,
) -> Order:
    """Create an order for ``items`` ((sku_id, quantity) pairs; None = the whole cart).

    Stock is reserved with one conditional UPDATE per SKU (``stock >= q``), in
    SKU id order so concurrent checkouts cannot deadlock; if any SKU is short,
    the whole order is refused and nothing is reserved. Prices come from the
    database, never from the caller. ``settings`` give the line and order limits
    (MAX_LINE_QUANTITY, MAX_CART_LINES) and the payment deadline (PAYMENT_TIMEOUT_MINUTES).
    """
    now = now or utcnow()
    from_cart = items is None
    max_qty, max_lines = settings.max_line_quantity, settings.max_cart_lines
    with unit_of_work(session):
        if from_cart:
            pairs = [
                (item.sku_id, item.quantity)
                for item in session.scalars(
                    select(CartItem).where(CartItem.user_id == buyer_id)
                )
            ]
        else:
            assert items is not None
            pairs = list(items)
        if not pairs:
            raise InvalidInput("nothing to order: the cart is empty")
        for _, quantity in pairs:
            validate_quantity(quantity, max_qty)
        wanted = merge_quantities(pairs)
        if len(wanted) > max_lines:
            raise InvalidInput(f"an order holds at most {max_lines} different items")
        for quantity in wanted.values():
            validate_quantity(quantity, max_qty)
        if len(note) > 200:
            raise InvalidInput("note must be at most 200 characters")

        rows = session.execute(
            select(Sku, Product, Supplier)
            .join(Product, Product.id == Sku.product_id)
            .join(Supplier, Supplier.id == Product.supplier_id)
            .where(Sku.id.in_(wanted))
            .options(lazyload(Product.skus))  # the other SKUs of these products are not needed
        ).all()
        found = {sku.id: (sku, product, supplier) for sku, product, supplier in rows}
        for sku_id in sorted(wanted):
            entry = found.get(sku_id)
            if entry is None:
                raise NotFound(f"sku {sku_id} does not exist")
            sku, product, supplier = entry
            if not (sku.active and product.status == ProductStatus.ACTIVE and supplier.active):
                raise InvalidInput(f"{product.title} is not for sale")

        for sku_id in sorted(wanted):
            quantity = wanted[sku_id]
            reserved = session.execute(
                update(Sku)
                .where(Sku.id == sku_id, Sku.stock >= quantity)
                .values(stock=Sku.stock - quantity, version=Sku.version + 1)
                .execution_options(synchronize_session=False)
            )
            if reserved.rowcount != 1:  # type: ignore[attr-defined]
                sku, product, _ = found[sku_id]
                raise OutOfStock(f"not enough stock for {product.title}", sku_id=sku_id)

        lines = []
        for sku_id in sorted(wanted):
            sku, product, _ = found[sku_id]
            amount = LineAmount(sku.price_fen, sku.supply_price_fen, wanted[sku_id])
            lines.append(
                OrderLine(
                    sku_id=sku.id,
                    product_id=product.id,
                    supplier_id=product.supplier_id,
                    category_id=product.category_id,
                    title=product.title,
                    sku_name=sku.name,
                    unit_price_fen=sku.price_fen,
                    unit_supply_price_fen=sku.supply_price_fen,
                    quantity=amount.quantity,
                    amount_fen=amount.amount_fen,
                    supply_cost_fen=amount.supply_cost_fen,
                )
            )
        goods = order_total_fen(
            LineAmount(line.unit_price_fen, line.unit_supply_price_fen, line.quantity)
            for line in lines
        )
        if goods > MAX_ORDER_TOTAL_FEN:
            # Amount columns are 32-bit: refuse here (the reservation above rolls back)
            # rather than fail at insert.
            raise InvalidInput(f"an order may total at most {MAX_ORDER_TOTAL_FEN} fen")
        timeout = timedelta(minutes=settings.payment_timeout_minutes)
        order = Order(
            number=new_order_number(now),
            buyer_id=buyer_id,
            status=OrderStatus.PENDING_PAYMENT,
            goods_fen=goods,
            shipping_fen=0,
            total_fen=goods,
            recipient=shipping.recipient,
            phone=shipping.phone,
            shipping_address=shipping.one_line(),
            buyer_note=note,
            created_at=now,
            expires_at=now + timeout,
            lines=lines,
        )
        session.add(order)
        if from_cart:
            session.execute(
                delete(CartItem).where(
                    CartItem.user_id == buyer_id, CartItem.sku_id.in_(list(wanted))
                )
            )
        session.flush()
        audit(session, buyer_id, "order.created", "order", order.number, total_fen=order.total_fen)
        announce(session, "order.created", order_id=order.id, number=order.number)
    return order
