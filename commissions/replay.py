"""``chatshop ledger replay --order N``: recompute an order's money from its events and compare.

The events are the order's lines, the attribution chain and plan version
snapshotted at payment, and its succeeded refunds in order. From them the
replay computes what every share should be now (per line: supplier, platform,
each commission net of reversals) and what the order's own ledger postings
should add up to per account, then lists every difference with what is stored.
Settlement moves money between a distributor's pending and available balances
only, so distributor balances are compared as pending + available.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select

from commissions import ledger
from commissions.accrual import paid_order_legs, split_paid_order
from commissions.plan_store import ActivePlan, plan_version
from commissions.split import reverse_for_refund
from core.errors import NotFound
from core.models import (
    CommissionLine,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    LineSplit,
    Order,
    Refund,
    RefundStatus,
)
from core.uow import DbSession

_EARNINGS = (ledger.DISTRIBUTOR_PENDING, ledger.DISTRIBUTOR_AVAILABLE)


@dataclass
class Replay:
    """What the replay found for one order."""

    number: str
    differences: list[str] = field(default_factory=list)
    expected_accounts: dict[str, int] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        """True when the stored money matches the replay."""
        return not self.differences


def find_order(session: DbSession, ident: str) -> Order:
    """An order by number, or by id when ``ident`` is all digits and no number matches."""
    order = session.scalar(select(Order).where(Order.number == ident))
    if order is None and ident.isdigit():
        order = session.get(Order, int(ident))
    if order is None:
        raise NotFound(f"no order {ident}")
    return order


def _account(kind: str, owner: int) -> str:
    merged = "distributor_earnings" if kind in _EARNINGS else kind
    return ledger.account_code(merged, owner)


def replay_order(session: DbSession, order: Order) -> Replay:
    """Recompute ``order``'s shares and postings and list what differs from the database."""
    report = Replay(order.number)
    splits = {row.order_line_id: row for row in session.scalars(
        select(LineSplit).where(LineSplit.order_id == order.id))}
    if not splits:
        if order.paid_at is not None and order.status != "cancelled":
            report.differences.append("the order was paid but never booked")
        return report
    version_id = next(iter(splits.values())).plan_version_id
    active = ActivePlan(version_id, 0, plan_version(session, version_id))
    split = split_paid_order(order, order.attribution, active)
    suppliers = {line.id: line.supplier_id for line in order.lines}
    accounts: dict[str, int] = defaultdict(int)
    for leg in paid_order_legs(order, split, suppliers):
        accounts[_account(leg.kind, leg.owner_id)] += leg.amount_fen
    shares = {line.line_id: {"supplier": line.supplier_fen, "platform": line.platform_fen,
                             "refunded": 0} for line in split.lines}
    commissions = {(c.line_id, c.level, c.distributor_id): c.amount_fen
                   for c in split.commission_lines}
    refunds = session.scalars(
        select(Refund).where(Refund.order_id == order.id,
                             Refund.status == RefundStatus.SUCCEEDED).order_by(Refund.id)
    ).all()
    by_line = {line.line_id: line for line in split.lines}
    for refund in refunds:
        accounts[ledger.CLEARING] += refund.amount_fen
        lines_fen = 0
        for part in refund.lines:
            line = by_line[part.order_line_id]
            back = reverse_for_refund(line, shares[line.line_id]["refunded"], part.amount_fen)
            lines_fen += part.amount_fen
            shares[line.line_id]["refunded"] += part.amount_fen
            shares[line.line_id]["supplier"] -= back.supplier_fen
            shares[line.line_id]["platform"] -= back.platform_fen
            accounts[_account(ledger.SUPPLIER_PAYABLE, suppliers[line.line_id])] -= (
                back.supplier_fen)
            accounts[ledger.PLATFORM] -= back.platform_fen
            for c in back.commissions:
                commissions[(c.line_id, c.level, c.distributor_id)] -= c.amount_fen
                accounts[_account(ledger.DISTRIBUTOR_PENDING, c.distributor_id)] -= c.amount_fen
        accounts[ledger.PLATFORM] -= refund.amount_fen - lines_fen
    report.expected_accounts = {k: v for k, v in accounts.items() if v}
    _compare_shares(report, splits, shares)
    _compare_commissions(session, report, order.id, commissions)
    _compare_postings(session, report, order.id, [r.id for r in refunds])
    return report


def _compare_shares(report: Replay, splits: dict[int, LineSplit],
                    shares: dict[int, dict[str, int]]) -> None:
    for line_id, want in shares.items():
        row = splits.get(line_id)
        if row is None:
            report.differences.append(f"line {line_id}: no stored split")
            continue
        have = {"supplier": row.supplier_fen - row.reversed_supplier_fen,
                "platform": row.platform_fen - row.reversed_platform_fen,
                "refunded": row.refunded_fen}
        for name, fen in want.items():
            if have[name] != fen:
                report.differences.append(
                    f"line {line_id}: {name} should be {fen} fen, stored {have[name]} fen")


def _compare_commissions(session: DbSession, report: Replay, order_id: int,
                         expected: dict[tuple[int, int, int], int]) -> None:
    stored: dict[tuple[int, int, int], int] = defaultdict(int)
    for line in session.scalars(select(CommissionLine).where(
            CommissionLine.order_id == order_id, CommissionLine.kind == "commission")):
        stored[(line.order_line_id, line.level, line.distributor_id)] += (
            line.amount_fen - line.reversed_fen)
    for key in sorted(set(expected) | set(stored)):
        want, have = expected.get(key, 0), stored.get(key, 0)
        if want != have:
            line_id, level, distributor = key
            report.differences.append(
                f"line {line_id} level {level} distributor {distributor}: commission should "
                f"be {want} fen net, stored {have} fen")


def _compare_postings(session: DbSession, report: Replay, order_id: int,
                      refund_ids: list[int]) -> None:
    rows = session.execute(
        select(LedgerAccount.kind, LedgerAccount.owner_id, func.sum(LedgerEntry.amount_fen))
        .join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.txn_id)
        .where(or_(LedgerTransaction.idempotency_key == f"order.paid:{order_id}",
                   LedgerTransaction.idempotency_key.in_([f"refund:{r}" for r in refund_ids])))
        .group_by(LedgerAccount.kind, LedgerAccount.owner_id)
    ).all()
    posted: dict[str, int] = defaultdict(int)
    for kind, owner, fen in rows:
        posted[_account(kind, owner)] += int(fen)
    for code in sorted(set(report.expected_accounts) | set(posted)):
        want, have = report.expected_accounts.get(code, 0), posted.get(code, 0)
        if want != have:
            report.differences.append(f"{code}: postings should add up to {want} fen, "
                                      f"they add up to {have} fen")
