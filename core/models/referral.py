"""Distributors, their tiers, the referral tree and the operator's referral settings.

The tree is an adjacency list: each bound user has one row in
``referral_bindings`` naming their direct upline. Why that storage, and how the
attribution chain is read in one query whatever the depth, is in
docs/referral.md.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.clock import utcnow
from core.db import Base
from core.models.base import UTCDateTime


class ReferralSettings(Base):
    """The operator's referral rules: one row (id 1), every change audited."""

    __tablename__ = "referral_settings"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("levels BETWEEN 1 AND 3", name="levels_range"),
        CheckConstraint("levels < 3 OR three_levels_acknowledged", name="three_levels_ack"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    eligibility: Mapped[str] = mapped_column(String(16), default="manual")
    eligibility_spend_fen: Mapped[int] = mapped_column(default=0)
    binding_mode: Mapped[str] = mapped_column(String(24), default="first_touch")
    binding_days: Mapped[int | None] = mapped_column()
    levels: Mapped[int] = mapped_column(default=2)
    three_levels_acknowledged: Mapped[bool] = mapped_column(default=False)
    inactive_upline: Mapped[str] = mapped_column(String(16), default="skip")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class DistributorTier(Base):
    """A distributor level with the thresholds that earn it (never a head count)."""

    __tablename__ = "distributor_tiers"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    rank: Mapped[int] = mapped_column(unique=True)
    min_own_spend_fen: Mapped[int] = mapped_column(default=0)
    min_own_sales_fen: Mapped[int] = mapped_column(default=0)
    min_team_sales_fen: Mapped[int] = mapped_column(default=0)
    min_completed_orders: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Distributor(Base):
    """A user's distributor record: application, status, tier, invite code and QR code."""

    __tablename__ = "distributors"
    __table_args__ = (Index("ix_distributors_status", "status"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16))
    invite_code: Mapped[str] = mapped_column(String(16), unique=True)
    tier_id: Mapped[int | None] = mapped_column(ForeignKey("distributor_tiers.id"))
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status_reason: Mapped[str] = mapped_column(String(200), default="")
    qr_ticket: Mapped[str | None] = mapped_column(String(200))
    qr_url: Mapped[str | None] = mapped_column(String(300))
    qr_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    qr_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: permanent
    poster_path: Mapped[str | None] = mapped_column(String(200))
    poster_generated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # Loaded on access: a joined load would break SELECT ... FOR UPDATE on PostgreSQL.
    tier: Mapped[DistributorTier | None] = relationship()


class ReferralBinding(Base):
    """A user's current upline: one row per bound user (history lives in the audit log)."""

    __tablename__ = "referral_bindings"
    __table_args__ = (
        CheckConstraint("user_id <> upline_id", name="not_self"),
        # (upline, user): team walks read only the index (index-only scans on PostgreSQL).
        Index("ix_referral_bindings_upline", "upline_id", "user_id"),
    )

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    upline_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    source: Mapped[str] = mapped_column(String(16))
    scene: Mapped[str] = mapped_column(String(64), default="")
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OrderReferral(Base):
    """One member of a paid order's attribution chain, queryable by distributor."""

    __tablename__ = "order_referrals"
    __table_args__ = (
        Index("ix_order_referrals_distributor", "distributor_id", "level"),
        CheckConstraint("level BETWEEN 0 AND 3", name="level_range"),
    )

    order_id: Mapped[int] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    level: Mapped[int] = mapped_column(primary_key=True)
    distributor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    tier_code: Mapped[str | None] = mapped_column(String(32))
