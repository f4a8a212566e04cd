"""WeChat Pay payments and refunds as recorded by ChatShop."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.clock import utcnow
from core.db import Base
from core.models.base import UTCDateTime


class PaymentStatus(StrEnum):
    """Where a payment attempt stands."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    CLOSED = "closed"


class Payment(Base):
    """One WeChat Pay transaction for an order; out_trade_no is stable per order."""

    __tablename__ = "payments"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    out_trade_no: Mapped[str] = mapped_column(String(32), unique=True)
    transaction_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    amount_fen: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default=PaymentStatus.PENDING)
    prepay_id: Mapped[str | None] = mapped_column(String(64))
    payer_openid: Mapped[str | None] = mapped_column(String(64))
    raw_notify: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RefundStatus(StrEnum):
    """Where a refund stands."""

    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Refund(Base):
    """Money going back to the buyer through WeChat Pay, for some lines of an order."""

    __tablename__ = "refunds"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    out_refund_no: Mapped[str] = mapped_column(String(64), unique=True)
    wechat_refund_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    amount_fen: Mapped[int]
    reason: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default=RefundStatus.PROCESSING)
    # Where the order goes back to if this refund fails.
    order_status_before: Mapped[str] = mapped_column(String(24), default="")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    raw_notify: Mapped[str | None] = mapped_column(Text)
    failure_reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    lines: Mapped[list[RefundLine]] = relationship(
        back_populates="refund", order_by="RefundLine.id", lazy="selectin"
    )


class RefundLine(Base):
    """How much of one order line a refund gives back."""

    __tablename__ = "refund_lines"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    refund_id: Mapped[int] = mapped_column(ForeignKey("refunds.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), index=True)
    quantity: Mapped[int]
    amount_fen: Mapped[int]

    refund: Mapped[Refund] = relationship(back_populates="lines")
