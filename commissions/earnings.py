"""What a distributor sees of their money: the earnings summary and the statement of lines.

Everything here is read from the ledger and the commission lines, never
recomputed from orders, so it always agrees with ``chatshop ledger check``.

- **Summary**: the balances of the distributor's accounts. An available balance
  below zero is a debt (a clawback after settlement, issue 5): it is shown as
  ``debt_fen`` with ``available_fen`` 0, because "available" is what could be
  withdrawn and a negative amount never can be.
- **Withdrawing / withdrawn**: read from the ``distributor_withdrawing`` account
  and from the postings that move money to ``payout_clearing``
  (``commissions.withdrawals``); the definitions do not depend on how those
  transactions are named.
- **Statement**: commission and clawback lines, newest first. Each row's
  ``net_fen`` is what it adds to the distributor's pending + available
  balances, so the rows always add up to those balances (before withdrawals):
  a commission counts less what refunds took back *while it was pending*; what
  a refund took back *after settlement* is its own clawback row (negative).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from commissions import ledger
from core.models import CommissionLine, LedgerAccount, LedgerEntry, Order, OrderLine
from core.uow import DbSession
from referral.domain.rules import DistributorStatus

OWN_KINDS = (ledger.DISTRIBUTOR_PENDING, ledger.DISTRIBUTOR_AVAILABLE,
             ledger.DISTRIBUTOR_WITHDRAWING)
MAX_STATEMENT_PAGE = 500
# Who has earnings to look at: every status a distributor who was once approved can be in
# (frozen and revoked distributors are still owed, or owe, money).
EARNINGS_STATUSES = frozenset({DistributorStatus.ACTIVE, DistributorStatus.FROZEN,
                               DistributorStatus.REVOKED})


def is_payout_entry(entry: Any = LedgerEntry) -> ColumnElement[bool]:
    """``entry`` belongs to a payout: a transaction with a leg on ``payout_clearing``."""
    other_entry = aliased(LedgerEntry)
    clearing = aliased(LedgerAccount)
    return exists(
        select(other_entry.id)
        .join(clearing, clearing.id == other_entry.account_id)
        .where(other_entry.txn_id == entry.txn_id, clearing.kind == ledger.PAYOUT_CLEARING)
    )


@dataclass(frozen=True)
class EarningsSummary:
    """A distributor's money, in fen; every figure is ≥ 0."""

    pending_fen: int  # earned on orders still inside their return window (or not completed)
    available_fen: int  # settled and not withdrawn; 0 while in debt
    withdrawing_fen: int  # asked for, not yet paid out
    withdrawn_fen: int  # paid out, all time
    debt_fen: int  # clawed back beyond the available balance; netted against later earnings


@dataclass(frozen=True)
class StatementLine:
    """One row of a distributor's statement (a commission or a clawback)."""

    id: int
    kind: str  # "commission" or "clawback"
    order_id: int
    order_number: str
    product_title: str
    level: int
    amount_fen: int  # negative for a clawback
    reversed_fen: int  # taken back by refunds, before or after settlement (commissions)
    clawed_back_fen: int  # the part of reversed_fen taken back after settlement
    net_fen: int  # what this row adds to pending + available (see the module docstring)
    status: str
    created_at: datetime
    matures_at: datetime | None
    settled_at: datetime | None
    clawback_of: int | None


def summary_from_balances(pending: int, available: int, withdrawing: int, withdrawn: int) -> (
    EarningsSummary
):
    """The summary for raw balances: a negative available balance becomes the debt."""
    return EarningsSummary(
        pending_fen=pending,
        available_fen=max(available, 0),
        withdrawing_fen=withdrawing,
        withdrawn_fen=withdrawn,
        debt_fen=max(-available, 0),
    )


def withdrawn_fen(session: DbSession, distributor_id: int) -> int:
    """Money that left the distributor's accounts for payout clearing, net, all time.

    A payout is any transaction with a leg on ``payout_clearing``; what it took
    from this distributor's own accounts (withdrawing, or available directly)
    is what was paid out to them, and a payout returned by the bank (credited
    back from payout clearing) counts negatively.
    """
    own = aliased(LedgerAccount)
    taken = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0))
        .join(own, own.id == LedgerEntry.account_id)
        .where(own.owner_id == distributor_id, own.kind.in_(OWN_KINDS), is_payout_entry())
    )
    return -int(taken or 0)


def earnings_summary(session: DbSession, distributor_id: int) -> EarningsSummary:
    """The distributor's pending, available, withdrawing, withdrawn and debt (two queries)."""
    balances = dict(session.execute(
        select(LedgerAccount.kind, LedgerAccount.balance_fen)
        .where(LedgerAccount.owner_id == distributor_id, LedgerAccount.kind.in_(OWN_KINDS))
    ).all())
    return summary_from_balances(
        pending=int(balances.get(ledger.DISTRIBUTOR_PENDING, 0)),
        available=int(balances.get(ledger.DISTRIBUTOR_AVAILABLE, 0)),
        withdrawing=int(balances.get(ledger.DISTRIBUTOR_WITHDRAWING, 0)),
        withdrawn=withdrawn_fen(session, distributor_id),
    )


def statement(session: DbSession, distributor_id: int, offset: int = 0, limit: int = 20) -> (
    tuple[int, list[StatementLine]]
):
    """(how many rows in all, one page of them newest first) for one distributor."""
    if offset < 0 or not 1 <= limit <= MAX_STATEMENT_PAGE:
        raise ValueError(f"offset must be ≥ 0 and limit 1..{MAX_STATEMENT_PAGE}")
    mine = and_(CommissionLine.distributor_id == distributor_id,
                CommissionLine.kind.in_(("commission", "clawback")))
    total = int(session.scalar(select(func.count()).select_from(CommissionLine).where(mine)) or 0)
    if offset >= total:  # also keeps an absurd page number away from the database
        return total, []
    clawback = aliased(CommissionLine)
    clawed = (
        select(clawback.clawback_of.label("line_id"),
               func.sum(-clawback.amount_fen).label("fen"))
        .where(clawback.kind == "clawback", clawback.distributor_id == distributor_id)
        .group_by(clawback.clawback_of)
        .subquery()
    )
    rows = session.execute(
        select(CommissionLine, Order.number, OrderLine.title, func.coalesce(clawed.c.fen, 0))
        .join(Order, Order.id == CommissionLine.order_id)
        .join(OrderLine, OrderLine.id == CommissionLine.order_line_id)
        .outerjoin(clawed, clawed.c.line_id == CommissionLine.id)
        .where(mine)
        .order_by(CommissionLine.created_at.desc(), CommissionLine.id.desc())
        .offset(offset).limit(limit)
    ).all()
    return total, [_statement_line(line, number, title, int(clawed_fen))
                   for line, number, title, clawed_fen in rows]


def _statement_line(line: CommissionLine, number: str, title: str, clawed_fen: int) -> (
    StatementLine
):
    if line.kind == "clawback":
        reversed_fen, clawed_fen, net = 0, 0, line.amount_fen
    else:
        reversed_fen = line.reversed_fen
        # Reversed while pending: gone from this row. Clawed back later: its own row.
        net = line.amount_fen - line.reversed_fen + clawed_fen
    return StatementLine(
        id=line.id, kind=line.kind, order_id=line.order_id, order_number=number,
        product_title=title, level=line.level, amount_fen=line.amount_fen,
        reversed_fen=reversed_fen, clawed_back_fen=clawed_fen, net_fen=net,
        status=line.status, created_at=line.created_at, matures_at=line.matures_at,
        settled_at=line.settled_at, clawback_of=line.clawback_of,
    )
