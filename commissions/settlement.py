"""Settlement: commission that outlived the return window becomes available, set-based.

When an order completes, its pending commission lines get ``matures_at`` =
completion + the plan's return window. The settlement job then moves every
matured line from its distributor's pending balance to their available one,
a batch at a time, with a fixed handful of statements per batch whatever the
number of lines: mark the lines, insert the grouped ledger entries from them,
update the balances from those entries.
"""
from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import and_, delete, func, insert, literal, select, union_all, update
from sqlalchemy.sql.elements import ColumnElement

from commissions import ledger
from commissions.maturity import matures_at
from core.clock import utcnow
from core.models import (
    CommissionLine,
    CommissionStatus,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
)
from core.uow import DbSession, unit_of_work

DEFAULT_BATCH = 50_000


def start_return_window(session: DbSession, order_id: int, completed_at: datetime) -> None:
    """An order completed: its pending commission matures after the return window.
    """
    windows = session.scalars(
        select(CommissionLine.return_window_days).distinct()
        .where(CommissionLine.order_id == order_id,
               CommissionLine.status == CommissionStatus.PENDING)
    ).all()
    for days in windows:
        # Lines written under a version saved before the window was bounded may hold
        # any number of days: matures_at reads those as the longest window allowed.
        session.execute(
            update(CommissionLine)
            .where(CommissionLine.order_id == order_id,
                   CommissionLine.status == CommissionStatus.PENDING,
                   CommissionLine.return_window_days == days)
            .values(matures_at=matures_at(completed_at, days))
            .execution_options(synchronize_session=False)
        )


def _matured(now: datetime) -> ColumnElement[bool]:
    return and_(CommissionLine.kind == "commission",
                CommissionLine.status == CommissionStatus.PENDING,
                CommissionLine.matures_at.is_not(None), CommissionLine.matures_at <= now)


def settle_matured_commissions(
    session: DbSession, now: datetime | None = None, batch: int = DEFAULT_BATCH,
) -> int:
    """Make matured commission available; how many lines were settled."""
    now = now or utcnow()
    settled = 0
    while True:
        count = _settle_batch(session, now, batch)
        settled += count
        if count < batch:
            return settled


def _settle_batch(session: DbSession, now: datetime, batch: int) -> int:
    with unit_of_work(session):
        first = session.scalar(
            select(CommissionLine.id).where(_matured(now))
            .order_by(CommissionLine.id).limit(1)
        )
        if first is None:
            return 0
        txn_id = session.execute(
            insert(LedgerTransaction).values(
                kind="settlement", ref_type="commission_line", ref_id=first,
                idempotency_key=f"settlement:{now.isoformat()}:{secrets.token_hex(8)}",
                memo="matured commission",
            ).returning(LedgerTransaction.id)
        ).scalar_one()
        due = (
            select(CommissionLine.id).where(_matured(now))
            .order_by(CommissionLine.id).limit(batch)
        )
        marked = session.execute(
            update(CommissionLine)
            .where(CommissionLine.id.in_(due.scalar_subquery()),
                   CommissionLine.status == CommissionStatus.PENDING)
            .values(status=CommissionStatus.AVAILABLE, settled_at=now, settlement_txn_id=txn_id)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if not marked:  # another settlement run took them first: leave no empty transaction
            session.execute(delete(LedgerTransaction).where(LedgerTransaction.id == txn_id))
            return 0
        net = func.sum(CommissionLine.amount_fen - CommissionLine.reversed_fen)
        # Both sides in one INSERT: per distributor, pending -net and available +net.
        sides = [
            select(literal(txn_id).label("txn_id"), LedgerAccount.id.label("account_id"),
                   (net * sign).label("amount_fen"))
            .join(LedgerAccount, and_(LedgerAccount.kind == kind,
                                      LedgerAccount.owner_id == CommissionLine.distributor_id))
            .where(CommissionLine.settlement_txn_id == txn_id)
            .group_by(LedgerAccount.id)
            for kind, sign in ((ledger.DISTRIBUTOR_PENDING, -1), (ledger.DISTRIBUTOR_AVAILABLE, 1))
        ]
        session.execute(insert(LedgerEntry).from_select(
            ["txn_id", "account_id", "amount_fen"], union_all(*sides)))
        touched = select(LedgerEntry.account_id).where(LedgerEntry.txn_id == txn_id)
        # Lock in id order first: a payment posting locks accounts in id order too.
        session.execute(select(LedgerAccount.id).where(LedgerAccount.id.in_(touched))
                        .order_by(LedgerAccount.id).with_for_update())
        # One entry per account in this transaction: join them, do not re-sum per account.
        session.execute(
            update(LedgerAccount)
            .where(LedgerAccount.id == LedgerEntry.account_id, LedgerEntry.txn_id == txn_id)
            .values(balance_fen=LedgerAccount.balance_fen + LedgerEntry.amount_fen)
            .execution_options(synchronize_session=False)
        )
        return int(marked)
