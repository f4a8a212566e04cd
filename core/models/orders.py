"""Carts, orders, order lines and supplier shipments."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.clock import utcnow
from core.db import Base
from core.models.base import UTCDateTime


class CartItem(Base):
    """One SKU in a buyer's cart; the cart is the set of a user's items."""

    __tablename__ = "cart_items"
    __table_args__ = (
        UniqueConstraint("user_id", "sku_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    quantity: Mapped[int]
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OrderStatus(StrEnum):
    """Order lifecycle, as in ARCHITECTURE.md."""

    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REFUNDING = "refunding"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


class Order(Base):
    """A buyer's order: its lines, amounts in fen, and where it is in its lifecycle."""

    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_status_expires", "status", "expires_at"),
        Index("ix_orders_buyer_created", "buyer_id", "created_at"),
        Index("ix_orders_paid_at", "paid_at"),  # period reports
        CheckConstraint("total_fen > 0", name="total_positive"),
        CheckConstraint("refunded_fen >= 0 AND refunded_fen <= total_fen", name="refund_bounds"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(24), default=OrderStatus.PENDING_PAYMENT)
    goods_fen: Mapped[int]
    shipping_fen: Mapped[int] = mapped_column(default=0)
    total_fen: Mapped[int]
    refunded_fen: Mapped[int] = mapped_column(default=0)
    recipient: Mapped[str] = mapped_column(String(32))
    phone: Mapped[str] = mapped_column(String(20))
    shipping_address: Mapped[str] = mapped_column(String(300))
    buyer_note: Mapped[str] = mapped_column(String(200), default="")
    # Filled at payment by the referral module (issue 4): level 1 = direct upline, ...
    attribution: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_reason: Mapped[str] = mapped_column(String(100), default="")
    version: Mapped[int] = mapped_column(default=1)

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.id", lazy="selectin"
    )
    shipments: Mapped[list[Shipment]] = relationship(
        back_populates="order", order_by="Shipment.id", lazy="selectin"
    )

    @property
    def supplier_ids(self) -> set[int]:
        """Suppliers whose goods are in this order."""
        return {line.supplier_id for line in self.lines}


class OrderLine(Base):
    """A snapshot of what was bought: title, prices and quantity at checkout."""

    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "refunded_fen >= 0 AND refunded_fen <= amount_fen", name="line_refund_bounds"
        ),
        CheckConstraint(
            "refunded_quantity >= 0 AND refunded_quantity <= quantity", name="line_refund_qty"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    title: Mapped[str] = mapped_column(String(120))
    sku_name: Mapped[str] = mapped_column(String(64), default="")
    unit_price_fen: Mapped[int]
    unit_supply_price_fen: Mapped[int]
    quantity: Mapped[int]
    amount_fen: Mapped[int]
    supply_cost_fen: Mapped[int]
    refunded_fen: Mapped[int] = mapped_column(default=0)
    refunded_quantity: Mapped[int] = mapped_column(default=0)

    order: Mapped[Order] = relationship(back_populates="lines")


class Shipment(Base):
    """A supplier's drop-shipment of its lines of an order."""

    __tablename__ = "shipments"
    __table_args__ = (UniqueConstraint("order_id", "supplier_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"))
    carrier: Mapped[str] = mapped_column(String(32))
    tracking_number: Mapped[str] = mapped_column(String(64))
    shipped_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    order: Mapped[Order] = relationship(back_populates="shipments")
