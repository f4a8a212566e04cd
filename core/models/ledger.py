"""Money: commission plans, the split of every paid line, commission lines and the ledger.

The ledger is double-entry and append-only: a ``LedgerTransaction`` has two or
more ``LedgerEntry`` rows whose amounts sum to zero. Amounts are signed fen,
credit-positive: a positive balance is money the platform owes the account's
owner (a distributor's earnings, a supplier's payable, the platform's own
revenue); the WeChat Pay clearing account goes negative by what WeChat holds
for the platform. ``LedgerAccount.balance_fen`` is kept equal to the sum of the
account's entries in the same transaction (``chatshop ledger check`` proves it).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base
from core.models.base import UTCDateTime


class CommissionPlanVersion(Base):
    """One version of the commission plan; saving a plan adds a version, never edits one."""

    __tablename__ = "commission_plan_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(unique=True)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class LineSplit(Base):
    """How one paid order line was split, and how much of each share refunds took back."""

    __tablename__ = "line_splits"
    __table_args__ = (
        Index("ix_line_splits_supplier_open", "supplier_id", "order_id"),
        CheckConstraint("paid_fen = supplier_fen + commission_fen + platform_fen",
                        name="split_adds_up"),
    )

    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"))
    plan_version_id: Mapped[int | None] = mapped_column(ForeignKey("commission_plan_versions.id"))
    paid_fen: Mapped[int]
    supplier_fen: Mapped[int]
    commission_fen: Mapped[int]
    platform_fen: Mapped[int]
    refunded_fen: Mapped[int] = mapped_column(default=0)
    reversed_supplier_fen: Mapped[int] = mapped_column(default=0)
    reversed_commission_fen: Mapped[int] = mapped_column(default=0)
    reversed_platform_fen: Mapped[int] = mapped_column(default=0)
    # How much of the supplier's share has gone into settlement batches (refunds after a
    # batch make the next batch smaller).
    supplier_settled_fen: Mapped[int] = mapped_column(default=0)


class CommissionStatus:
    """Where a commission line is (ARCHITECTURE.md, state machines)."""

    PENDING = "pending"
    AVAILABLE = "available"
    REVERSED = "reversed"


class CommissionLine(Base):
    """A distributor's commission on one order line, or a clawback of one after settlement."""

    __tablename__ = "commission_lines"
    __table_args__ = (
        Index("ix_commission_lines_settle", "status", "matures_at"),
        Index("ix_commission_lines_distributor", "distributor_id", "status"),
        CheckConstraint("reversed_fen >= 0 AND reversed_fen <= amount_fen OR kind = 'clawback'",
                        name="reversal_bounds"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="commission")  # or "clawback"
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"))
    distributor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    level: Mapped[int]
    plan_version_id: Mapped[int | None] = mapped_column(ForeignKey("commission_plan_versions.id"))
    base_fen: Mapped[int] = mapped_column(default=0)
    rate_bp: Mapped[int] = mapped_column(default=0)
    amount_fen: Mapped[int]  # negative for a clawback
    reversed_fen: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(16), default=CommissionStatus.PENDING)
    return_window_days: Mapped[int] = mapped_column(default=0)
    matures_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    settlement_txn_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"),
                                                          index=True)
    clawback_of: Mapped[int | None] = mapped_column(ForeignKey("commission_lines.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LedgerAccount(Base):
    """An account: a kind and, for per-party accounts, its owner (user or supplier id)."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (UniqueConstraint("kind", "owner_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    owner_id: Mapped[int] = mapped_column(default=0)  # 0 for the platform's own accounts
    # 64-bit: the platform's own accounts accumulate every sale ever made.
    balance_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LedgerTransaction(Base):
    """One money event: the entries under it sum to zero."""

    __tablename__ = "ledger_transactions"
    __table_args__ = (
        Index("ix_ledger_transactions_ref", "ref_type", "ref_id"),
        UniqueConstraint("idempotency_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    ref_type: Mapped[str] = mapped_column(String(32))
    ref_id: Mapped[int]
    idempotency_key: Mapped[str] = mapped_column(String(96))
    memo: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LedgerEntry(Base):
    """One leg of a transaction: a signed amount on one account."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("ix_ledger_entries_account", "account_id", "id"),
        CheckConstraint("amount_fen <> 0", name="nonzero"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    txn_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)


class SupplierSettlement(Base):
    """A batch of supply cost owed to one supplier; paid by the operator."""

    __tablename__ = "supplier_settlements"

    id: Mapped[int] = mapped_column(primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open -> paid
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paid_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    payment_reference: Mapped[str] = mapped_column(String(64), default="")


class SupplierSettlementItem(Base):
    """What one order line contributed to a settlement batch (negative after a late refund)."""

    __tablename__ = "supplier_settlement_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    settlement_id: Mapped[int] = mapped_column(
        ForeignKey("supplier_settlements.id", ondelete="CASCADE"), index=True
    )
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    amount_fen: Mapped[int]


class WithdrawalStatus:
    """Where a withdrawal is (ARCHITECTURE.md, state machines)."""

    REQUESTED = "requested"
    APPROVED = "approved"
    SUBMITTED = "submitted"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class Withdrawal(Base):
    """A distributor's request to be paid out part of their available balance.

    ``number`` is the WeChat ``partner_trade_no``: the same number goes with every
    attempt and every query, which is what makes a retried payout idempotent.
    """

    __tablename__ = "withdrawals"
    __table_args__ = (
        Index("ix_withdrawals_distributor", "distributor_id", "id"),
        Index("ix_withdrawals_status", "status", "id"),
        CheckConstraint("amount_fen > 0", name="positive_amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    distributor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=WithdrawalStatus.REQUESTED)
    channel: Mapped[str] = mapped_column(String(16), default="wechat")  # or "manual"
    # Where a "wechat" payout goes, taken when it is requested (the openid of the user).
    openid: Mapped[str | None] = mapped_column(String(64))
    failure_reason: Mapped[str] = mapped_column(String(200), default="")
    # WeChat's payment_no / detail_id, or the operator's bank reference (manual channel).
    reference: Mapped[str] = mapped_column(String(64), default="")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
