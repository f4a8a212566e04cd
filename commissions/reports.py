"""Operator reports over a period: platform P&L, commissions by level, top distributors,
supplier payables; and their CSV form.

**Which orders a period holds.** The P&L, the commissions by level and the top
distributors take the orders *paid* in ``[since, until)`` (either end may be
left open) with everything that has happened to them since: refunds,
reversals, clawbacks, settlement. So a period's figures are final only once
its orders are past their return windows, but every figure can be traced to
its orders, and over all time the P&L equals the ledger (the platform revenue
is the ``platform_revenue`` balance; the tests prove it). The ledger cannot
date a reversal by commission level (a reversal while pending has no row of
its own), which is why refunds are counted with their order, not on their day.

**Supplier payables** are balances, so they are read from the ledger by the
time each posting was made: the balance at ``since``, the change during the
period and the balance at ``until`` (now when open).

Each report is one set-based query. Amounts are integer fen; CSV shows each
amount twice, as yuan text made from the fen with integer arithmetic and as fen.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, false, func, select, true
from sqlalchemy.sql.elements import ColumnElement

from commissions import ledger
from commissions.csv_export import csv_text, safe_cell
from core.models import (
    CommissionLine,
    CommissionStatus,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    LineSplit,
    Order,
    Refund,
    RefundStatus,
    Supplier,
    User,
)
from core.money import format_yuan
from core.uow import DbSession

MAX_TOP = 100


@dataclass(frozen=True)
class Period:
    """``[since, until)``; ``None`` leaves that end open."""

    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError("the period must end after it starts")

    def holds(self, column: Any) -> ColumnElement[bool]:
        """SQL: ``column`` falls in the period (always true when both ends are open)."""
        conditions = []
        if self.since is not None:
            conditions.append(column >= self.since)
        if self.until is not None:
            conditions.append(column < self.until)
        return and_(true(), *conditions)


@dataclass(frozen=True)
class PlatformPnl:
    """The money of the orders paid in a period, net of their refunds so far.

    ``net_paid_fen = supplier_cost_fen + commissions_fen + platform_revenue_fen``.
    """

    orders: int
    gross_paid_fen: int  # goods and shipping the buyers paid
    refunds_fen: int  # refunded to them so far
    net_paid_fen: int
    supplier_cost_fen: int  # supply cost owed to suppliers, net of refunds
    commissions_gross_fen: int
    commissions_reversed_fen: int  # taken back by refunds, before or after settlement
    commissions_fen: int  # net of reversals
    platform_revenue_fen: int  # the platform's share plus shipping, net of refunds


@dataclass(frozen=True)
class LevelTotal:
    """Commission at one level on the orders paid in a period."""

    level: int
    lines: int
    distributors: int
    gross_fen: int
    reversed_fen: int
    net_fen: int
    pending_fen: int  # net, not settled yet
    settled_fen: int  # net, settled (after any clawback)


@dataclass(frozen=True)
class TopDistributor:
    """One distributor's commission on the orders paid in a period."""

    rank: int
    distributor_id: int
    nickname: str
    orders: int
    lines: int
    gross_fen: int
    reversed_fen: int
    net_fen: int


@dataclass(frozen=True)
class SupplierPayable:
    """What the platform owes one supplier: at the start of a period, posted in it, at its end."""

    supplier_id: int
    supplier_name: str
    opening_fen: int
    change_fen: int
    closing_fen: int


def _fen(value: Any) -> int:
    return int(value or 0)


def platform_pnl(session: DbSession, period: Period) -> PlatformPnl:
    """The platform P&L of the orders paid in ``period`` (one query).

    Only orders the ledger booked count (late payments on cancelled orders are
    held apart and refunded in full, never revenue).
    """
    splits = (
        select(
            LineSplit.order_id.label("order_id"),
            func.sum(LineSplit.paid_fen).label("paid"),
            func.sum(LineSplit.refunded_fen).label("refunded"),
            func.sum(LineSplit.supplier_fen - LineSplit.reversed_supplier_fen).label("supplier"),
            func.sum(LineSplit.commission_fen).label("commission"),
            func.sum(LineSplit.reversed_commission_fen).label("commission_back"),
            func.sum(LineSplit.platform_fen - LineSplit.reversed_platform_fen).label("platform"),
        )
        # The period is applied inside each aggregate too, so only its orders are summed.
        .join(Order, Order.id == LineSplit.order_id)
        .where(period.holds(Order.paid_at))
        .group_by(LineSplit.order_id)
        .subquery()
    )
    refunds = (
        select(Refund.order_id.label("order_id"), func.sum(Refund.amount_fen).label("fen"))
        .join(Order, Order.id == Refund.order_id)
        .where(Refund.status == RefundStatus.SUCCEEDED, period.holds(Order.paid_at))
        .group_by(Refund.order_id)
        .subquery()
    )
    refunded = func.coalesce(refunds.c.fen, 0)
    row = session.execute(
        select(
            func.count(Order.id),
            func.sum(splits.c.paid + Order.shipping_fen),
            func.sum(refunded),
            func.sum(splits.c.supplier),
            func.sum(splits.c.commission),
            func.sum(splits.c.commission_back),
            # Shipping belongs to the platform; what refunds gave back beyond the
            # lines' refunded amounts was shipping.
            func.sum(splits.c.platform + Order.shipping_fen - (refunded - splits.c.refunded)),
        )
        .select_from(Order)
        .join(splits, splits.c.order_id == Order.id)
        .outerjoin(refunds, refunds.c.order_id == Order.id)
        .where(period.holds(Order.paid_at))
    ).one()
    orders, gross, back, supplier, commission, commission_back, platform = (
        _fen(value) for value in row
    )
    return PlatformPnl(
        orders=orders, gross_paid_fen=gross, refunds_fen=back, net_paid_fen=gross - back,
        supplier_cost_fen=supplier, commissions_gross_fen=commission,
        commissions_reversed_fen=commission_back, commissions_fen=commission - commission_back,
        platform_revenue_fen=platform,
    )


def _net() -> ColumnElement[int]:
    # A commission line's net: clawbacks are already in its reversed_fen.
    return CommissionLine.amount_fen - CommissionLine.reversed_fen


def commissions_by_level(session: DbSession, period: Period) -> list[LevelTotal]:
    """Commission per level on the orders paid in ``period`` (one query)."""
    net = _net()
    rows = session.execute(
        select(
            CommissionLine.level,
            func.count(CommissionLine.id),
            func.count(CommissionLine.distributor_id.distinct()),
            func.sum(CommissionLine.amount_fen),
            func.sum(CommissionLine.reversed_fen),
            func.sum(case((CommissionLine.status == CommissionStatus.PENDING, net), else_=0)),
            func.sum(case((CommissionLine.status == CommissionStatus.AVAILABLE, net), else_=0)),
        )
        .join(Order, Order.id == CommissionLine.order_id)
        # Clawbacks are already in their commission line's reversed_fen.
        .where(CommissionLine.kind == "commission", period.holds(Order.paid_at))
        .group_by(CommissionLine.level)
        .order_by(CommissionLine.level)
    ).all()
    return [
        LevelTotal(level=level, lines=lines, distributors=people, gross_fen=_fen(gross),
                   reversed_fen=_fen(back), net_fen=_fen(gross) - _fen(back),
                   pending_fen=_fen(pending), settled_fen=_fen(settled))
        for level, lines, people, gross, back, pending, settled in rows
    ]


def top_distributors(session: DbSession, period: Period, limit: int = 10) -> list[TopDistributor]:
    """The ``limit`` distributors earning most net commission on orders paid in ``period``.

    Ties go to the lower distributor id, so the list is stable (one query).
    """
    if not 1 <= limit <= MAX_TOP:
        raise ValueError(f"limit must be 1..{MAX_TOP}")
    net = func.sum(_net())
    rows = session.execute(
        select(
            CommissionLine.distributor_id,
            User.nickname,
            func.count(CommissionLine.order_id.distinct()),
            func.count(CommissionLine.id),
            func.sum(CommissionLine.amount_fen),
            func.sum(CommissionLine.reversed_fen),
            net,
        )
        .join(Order, Order.id == CommissionLine.order_id)
        .join(User, User.id == CommissionLine.distributor_id)
        .where(CommissionLine.kind == "commission", period.holds(Order.paid_at))
        .group_by(CommissionLine.distributor_id, User.nickname)
        .order_by(net.desc(), CommissionLine.distributor_id)
        .limit(limit)
    ).all()
    return [
        TopDistributor(rank=rank, distributor_id=who, nickname=nickname or "", orders=orders,
                       lines=lines, gross_fen=_fen(gross), reversed_fen=_fen(back),
                       net_fen=_fen(fen))
        for rank, (who, nickname, orders, lines, gross, back, fen) in enumerate(rows, start=1)
    ]


def supplier_payables(session: DbSession, period: Period) -> list[SupplierPayable]:
    """Every supplier's payable at ``since``, its change and at ``until`` (one query).

    Postings are dated by their ledger transaction; largest closing balance first.
    """
    posted = LedgerTransaction.created_at
    before_since = (posted < period.since) if period.since is not None else false()
    before_until = (posted < period.until) if period.until is not None else true()
    opening = func.sum(case((before_since, LedgerEntry.amount_fen), else_=0))
    closing = func.sum(case((before_until, LedgerEntry.amount_fen), else_=0))
    rows = session.execute(
        select(LedgerAccount.owner_id, Supplier.name, opening, closing)
        .join(Supplier, Supplier.id == LedgerAccount.owner_id)
        .outerjoin(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
        .outerjoin(LedgerTransaction, LedgerTransaction.id == LedgerEntry.txn_id)
        .where(LedgerAccount.kind == ledger.SUPPLIER_PAYABLE)
        .group_by(LedgerAccount.owner_id, Supplier.name)
        .order_by(closing.desc(), LedgerAccount.owner_id)
    ).all()
    return [
        SupplierPayable(supplier_id=sid, supplier_name=name, opening_fen=_fen(start),
                        change_fen=_fen(end) - _fen(start), closing_fen=_fen(end))
        for sid, name, start, end in rows
    ]


# -- CSV ---------------------------------------------------------------------------------





def csv_columns(kind: type[Any]) -> list[str]:
    """CSV header for a report row dataclass: each ``x_fen`` becomes ``x_yuan``, ``x_fen``."""
    columns: list[str] = []
    for item in fields(kind):
        if item.name.endswith("_fen"):
            columns.append(item.name.removesuffix("_fen") + "_yuan")
        columns.append(item.name)
    return columns


def _cell(name: str, value: Any) -> list[str]:
    if name.endswith("_fen"):
        return [format_yuan(value), str(value)]
    # Nicknames and supplier names are typed by outsiders: safe_cell neutralises formulas.
    return [safe_cell(value)]


def to_csv(kind: type[Any], rows: Iterable[Any], *, prefix: Sequence[tuple[str, Any]] = ()) -> str:
    """Report rows (dataclasses of ``kind``) as CSV text, a header line first.

    ``prefix`` puts the same leading columns on every row (e.g. the period).
    """
    lead = [cell for name, value in prefix for cell in _cell(name, value)]
    return csv_text([name for name, _ in prefix] + csv_columns(kind), (
        lead + [cell for item in fields(kind) for cell in _cell(item.name, getattr(row, item.name))]
        for row in rows
    ))
