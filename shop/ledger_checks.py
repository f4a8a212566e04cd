"""``chatshop ledger check``: the invariants the money must always satisfy.

Each check is one set-based query and returns human-readable breaches; an
empty list everywhere means every fen is accounted for.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, false, func, or_, select, union_all
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from commissions import ledger
from commissions.earnings import OWN_KINDS, is_payout_entry
from core.models import (
    CommissionLine,
    CommissionStatus,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    LineSplit,
    Order,
    OrderLine,
    OrderStatus,
    Shipment,
    SupplierSettlement,
    SupplierSettlementItem,
    Withdrawal,
    WithdrawalStatus,
)
from core.uow import DbSession
from shop.domain.order_rules import stuck_states

LIMIT = 20  # breaches listed per check; the count is always given


def unbalanced_transactions(session: DbSession) -> list[str]:
    """Every transaction has two or more entries that sum to zero."""
    total = func.coalesce(func.sum(LedgerEntry.amount_fen), 0)
    count = func.count(LedgerEntry.id)
    rows = session.execute(
        select(LedgerTransaction.id, LedgerTransaction.kind, total, count)
        .outerjoin(LedgerEntry, LedgerEntry.txn_id == LedgerTransaction.id)
        .group_by(LedgerTransaction.id, LedgerTransaction.kind)
        .having(or_(total != 0, count < 2))
    ).all()
    return [f"transaction {tid} ({kind}): {n} entries summing to {s} fen"
            for tid, kind, s, n in rows]


def balances_match_entries(session: DbSession) -> list[str]:
    """Every account's balance equals the sum of its entries."""
    total = func.coalesce(func.sum(LedgerEntry.amount_fen), 0)
    rows = session.execute(
        select(LedgerAccount.code, LedgerAccount.balance_fen, total)
        .outerjoin(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
        .group_by(LedgerAccount.id, LedgerAccount.code, LedgerAccount.balance_fen)
        .having(LedgerAccount.balance_fen != total)
    ).all()
    return [f"account {code}: balance {bal} fen, entries sum to {s} fen" for code, bal, s in rows]


def _moved_out() -> Any:
    """Per distributor (owner, fen): withdrawn plus withdrawing.

    Withdrawn is counted as the earnings summary counts it (what payout postings
    took from the distributor's accounts), withdrawing is their account's balance.
    """
    own = aliased(LedgerAccount)
    withdrawn = (
        select(own.owner_id.label("owner"), (-LedgerEntry.amount_fen).label("fen"))
        .select_from(LedgerEntry)
        .join(own, own.id == LedgerEntry.account_id)
        .where(own.kind.in_(OWN_KINDS), is_payout_entry())
    )
    withdrawing = (
        select(LedgerAccount.owner_id.label("owner"), LedgerAccount.balance_fen.label("fen"))
        .where(LedgerAccount.kind == ledger.DISTRIBUTOR_WITHDRAWING)
    )
    both = union_all(withdrawn, withdrawing).subquery()
    return (select(both.c.owner.label("owner"), func.sum(both.c.fen).label("fen"))
            .group_by(both.c.owner).subquery())


def _balances_match(session: DbSession, kind: str, expected: Any, says: str) -> list[str]:
    """Accounts of ``kind`` whose balance is not what ``expected`` (a subquery of owner, fen)
    says, and expected money with no account at all."""
    want = func.coalesce(expected.c.fen, 0)
    rows = session.execute(
        select(LedgerAccount.owner_id, LedgerAccount.balance_fen, want)
        .outerjoin(expected, expected.c.owner == LedgerAccount.owner_id)
        .where(LedgerAccount.kind == kind, LedgerAccount.balance_fen != want)
    ).all()
    missing = session.execute(
        select(expected.c.owner, expected.c.fen)
        .outerjoin(LedgerAccount, and_(LedgerAccount.kind == kind,
                                       LedgerAccount.owner_id == expected.c.owner))
        .where(LedgerAccount.id.is_(None), expected.c.fen != 0)
    ).all()
    return ([f"{kind}:{owner}: balance {bal} fen, {says} say {fen} fen" for owner, bal, fen in rows]
            + [f"{kind}:{owner}: no account for {fen} fen of {says}" for owner, fen in missing])


def _per_distributor(session: DbSession, kind: str, status: str, *,
                     less_withdrawals: bool = False) -> list[str]:
    net = func.coalesce(func.sum(CommissionLine.amount_fen - CommissionLine.reversed_fen), 0)
    settled = (
        select(CommissionLine.distributor_id.label("owner"), net.label("fen"))
        .where(CommissionLine.kind == "commission", CommissionLine.status == status)
        .group_by(CommissionLine.distributor_id)
    )
    if less_withdrawals:
        # available = settled lines net - withdrawn - withdrawing (issue 6).
        out = _moved_out()
        parts = union_all(settled, select(out.c.owner, -out.c.fen)).subquery()
        lines = (select(parts.c.owner.label("owner"), func.sum(parts.c.fen).label("fen"))
                 .group_by(parts.c.owner).subquery())
    else:
        lines = settled.subquery()
    return _balances_match(session, kind, lines, f"{status} commission lines")


def commission_lines_match_balances(session: DbSession) -> list[str]:
    """Pending and available balances equal what the commission lines say."""
    # available = settled commission net of every refund (a refund after settlement is
    # in reversed_fen too, and clawed back), less what was withdrawn or is withdrawing.
    return (_per_distributor(session, ledger.DISTRIBUTOR_PENDING, CommissionStatus.PENDING)
            + _per_distributor(session, ledger.DISTRIBUTOR_AVAILABLE,
                               CommissionStatus.AVAILABLE, less_withdrawals=True))


def withdrawing_matches_withdrawals(session: DbSession) -> list[str]:
    """Each distributor's withdrawing balance = their requested/approved/submitted withdrawals."""
    open_ = (
        select(Withdrawal.distributor_id.label("owner"),
               func.sum(Withdrawal.amount_fen).label("fen"))
        .where(Withdrawal.status.in_((WithdrawalStatus.REQUESTED, WithdrawalStatus.APPROVED,
                                      WithdrawalStatus.SUBMITTED)))
        .group_by(Withdrawal.distributor_id)
        .subquery()
    )
    return _balances_match(session, ledger.DISTRIBUTOR_WITHDRAWING, open_, "open withdrawals")


def nothing_available_too_early(session: DbSession) -> list[str]:
    """No commission is available unless its order completed and the return window passed."""
    rows = session.execute(
        select(CommissionLine.id, Order.number)
        .join(Order, Order.id == CommissionLine.order_id)
        .where(
            CommissionLine.kind == "commission",
            CommissionLine.status == CommissionStatus.AVAILABLE,
            or_(Order.completed_at.is_(None), CommissionLine.matures_at.is_(None),
                CommissionLine.settled_at.is_(None),
                CommissionLine.matures_at > CommissionLine.settled_at),
        )
    ).all()
    return [f"commission line {lid} of order {number} is available before its order "
            f"completed and its return window passed" for lid, number in rows]


def paid_orders_are_booked(session: DbSession) -> list[str]:
    """Every paid order is split exactly: its lines' splits plus shipping make its total."""
    booked = (
        select(LineSplit.order_id.label("order_id"), func.sum(LineSplit.paid_fen).label("fen"))
        .group_by(LineSplit.order_id).subquery()
    )
    rows = session.execute(
        select(Order.number, Order.total_fen, Order.shipping_fen, booked.c.fen)
        .outerjoin(booked, booked.c.order_id == Order.id)
        .where(Order.paid_at.is_not(None), Order.status != OrderStatus.CANCELLED,
               or_(booked.c.fen.is_(None),
                   booked.c.fen + Order.shipping_fen != Order.total_fen))
    ).all()
    return [f"order {number}: total {total} fen, booked {fen} + shipping {ship}"
            if fen is not None else f"order {number}: paid but never booked"
            for number, total, ship, fen in rows]


def supplier_payables_match(session: DbSession) -> list[str]:
    """Each supplier's payable = supply cost net of refunds − settlement batches paid."""
    owed = (
        select(LineSplit.supplier_id.label("sid"),
               func.sum(LineSplit.supplier_fen - LineSplit.reversed_supplier_fen).label("fen"))
        .group_by(LineSplit.supplier_id).subquery()
    )
    paid = (
        select(SupplierSettlement.supplier_id.label("sid"),
               func.sum(SupplierSettlement.amount_fen).label("fen"))
        .where(SupplierSettlement.status == "paid")
        .group_by(SupplierSettlement.supplier_id).subquery()
    )
    expected = (
        select(owed.c.sid.label("owner"),
               (owed.c.fen - func.coalesce(paid.c.fen, 0)).label("fen"))
        .outerjoin(paid, paid.c.sid == owed.c.sid).subquery()
    )
    return _balances_match(session, ledger.SUPPLIER_PAYABLE, expected, "splits and batches")


def settlement_batches_add_up(session: DbSession) -> list[str]:
    """Each batch is the sum of its items; each line's settled share the sum of its items."""
    items = (
        select(SupplierSettlementItem.settlement_id.label("sid"),
               func.sum(SupplierSettlementItem.amount_fen).label("fen"))
        .group_by(SupplierSettlementItem.settlement_id).subquery()
    )
    batches = session.execute(
        select(SupplierSettlement.id, SupplierSettlement.amount_fen, func.coalesce(items.c.fen, 0))
        .outerjoin(items, items.c.sid == SupplierSettlement.id)
        .where(SupplierSettlement.amount_fen != func.coalesce(items.c.fen, 0))
    ).all()
    per_line = (
        select(SupplierSettlementItem.order_line_id.label("lid"),
               func.sum(SupplierSettlementItem.amount_fen).label("fen"))
        .group_by(SupplierSettlementItem.order_line_id).subquery()
    )
    lines = session.execute(
        select(LineSplit.order_line_id, LineSplit.supplier_settled_fen,
               func.coalesce(per_line.c.fen, 0))
        .outerjoin(per_line, per_line.c.lid == LineSplit.order_line_id)
        .where(LineSplit.supplier_settled_fen != func.coalesce(per_line.c.fen, 0))
    ).all()
    return ([f"settlement batch {bid}: amount {amount} fen, items sum to {fen} fen"
             for bid, amount, fen in batches]
            + [f"order line {lid}: {settled} fen marked settled, batch items say {fen} fen"
               for lid, settled, fen in lines])


def _can_never_complete() -> ColumnElement[bool]:
    """SQL: an order not completed whose (status, shipped) no move of the table completes."""
    stuck = [and_(Order.status == status,
                  Order.shipped_at.is_not(None) if shipped else Order.shipped_at.is_(None))
             for status, shipped in stuck_states()]
    return and_(Order.completed_at.is_(None), or_(false(), *stuck))


def stranded_orders(session: DbSession) -> list[str]:
    """No order holds pending commission or supplier payables it can never release.

    Such money only moves on once its order completes (commission matures, supply
    cost goes into a batch). Reported: orders that are not completed and whose
    status and milestones let no transition of ``shop.domain.order_rules`` reach
    completed, yet still hold pending commission or unbatched supply cost; and
    completed orders whose pending commission never got a maturity date; and partly
    refunded orders waiting for a shipment nobody owes any more.
    """
    pending = (
        select(CommissionLine.order_id.label("oid"),
               func.sum(CommissionLine.amount_fen - CommissionLine.reversed_fen).label("fen"))
        .where(CommissionLine.kind == "commission",
               CommissionLine.status == CommissionStatus.PENDING)
        .group_by(CommissionLine.order_id)
        .having(func.sum(CommissionLine.amount_fen - CommissionLine.reversed_fen) != 0)
        .subquery()
    )
    net = LineSplit.supplier_fen - LineSplit.reversed_supplier_fen - LineSplit.supplier_settled_fen
    owed = (
        select(LineSplit.order_id.label("oid"), func.sum(net).label("fen"))
        .group_by(LineSplit.order_id).having(func.sum(net) != 0)
        .subquery()
    )
    stuck = session.execute(
        select(Order.number, Order.status, Order.shipped_at.is_not(None),
               func.coalesce(pending.c.fen, 0), func.coalesce(owed.c.fen, 0))
        .outerjoin(pending, pending.c.oid == Order.id)
        .outerjoin(owed, owed.c.oid == Order.id)
        .where(_can_never_complete(),
               or_(pending.c.fen.is_not(None), owed.c.fen.is_not(None)))
        .order_by(Order.id)
    ).all()
    unmatured = session.execute(
        select(Order.number, func.sum(CommissionLine.amount_fen - CommissionLine.reversed_fen))
        .join(CommissionLine, CommissionLine.order_id == Order.id)
        .where(Order.completed_at.is_not(None), CommissionLine.kind == "commission",
               CommissionLine.status == CommissionStatus.PENDING,
               CommissionLine.matures_at.is_(None))
        .group_by(Order.id, Order.number)
        .order_by(Order.id)
    ).all()
    # Not shipped, yet every supplier with goods left has shipped (the others were refunded
    # in full): nobody will ship it, so it never completes. Refunds now mark such an
    # order shipped; this finds any left from before.
    left_to_ship = (
        select(OrderLine.id)
        .where(OrderLine.order_id == Order.id, OrderLine.refunded_quantity < OrderLine.quantity,
               ~OrderLine.supplier_id.in_(select(Shipment.supplier_id)
                                          .where(Shipment.order_id == Order.id)))
    )
    unshippable = session.execute(
        select(Order.number)
        .where(Order.status == OrderStatus.PARTIALLY_REFUNDED, Order.shipped_at.is_(None),
               select(Shipment.id).where(Shipment.order_id == Order.id).exists(),
               ~left_to_ship.exists(),
               or_(select(pending.c.oid).where(pending.c.oid == Order.id).exists(),
                   select(owed.c.oid).where(owed.c.oid == Order.id).exists()))
        .order_by(Order.id)
    ).scalars().all()
    return ([f"order {number} ({status}{', shipped' if shipped else ''}): {fen} fen of "
             f"commission pending and {supply} fen owed to suppliers, but no transition "
             f"can complete it" for number, status, shipped, fen, supply in stuck]
            + [f"order {number} completed: {fen} fen of pending commission has no maturity "
               f"date, so settlement never takes it" for number, fen in unmatured]
            + [f"order {number} (partially_refunded): every supplier with goods left has "
               f"shipped but the order is not marked shipped, so it cannot complete"
               for number in unshippable])


CHECKS: dict[str, Callable[[DbSession], list[str]]] = {
    "transactions balance": unbalanced_transactions,
    "balances equal their entries": balances_match_entries,
    "commission lines agree with balances": commission_lines_match_balances,
    "withdrawing agrees with open withdrawals": withdrawing_matches_withdrawals,
    "nothing available too early": nothing_available_too_early,
    "paid orders are booked exactly": paid_orders_are_booked,
    "supplier payables agree": supplier_payables_match,
    "settlement batches add up": settlement_batches_add_up,
    "no money stranded on orders that cannot complete": stranded_orders,
}


def check_ledger(session: DbSession) -> dict[str, list[str]]:
    """Run every check; name -> breaches (empty when it holds)."""
    return {name: check(session) for name, check in CHECKS.items()}
