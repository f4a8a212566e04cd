"""Money going back to a buyer: reverse every share of the refunded lines, to the fen.

Written in the refund's own transaction (when WeChat confirms it). Each
refunded part of a line is shared pro rata between the supplier, the line's
commissions and the platform (``commissions.split.reverse_for_refund``,
cumulative, so partial refunds never drift). A commission still pending is
reduced (and ``reversed`` once nothing is left); one already settled gets a
``clawback`` line that debits the distributor's available balance, which may
go negative: that debt is netted against later earnings, never capped.
A refunded shipping fee comes out of the platform's revenue.
"""
from __future__ import annotations

import logging
from collections import defaultdict

from sqlalchemy import insert, select, update

from commissions import ledger
from commissions.ledger import Leg
from commissions.split import CommissionLine as SplitCommission
from commissions.split import LineSplit as SplitLine
from commissions.split import reverse_for_refund
from core.models import CommissionLine, CommissionStatus, LedgerTransaction, LineSplit, Refund
from core.uow import DbSession

log = logging.getLogger(__name__)


def _stored_split(row: LineSplit, commissions: list[CommissionLine]) -> SplitLine:
    return SplitLine(
        row.order_line_id, row.paid_fen, row.supplier_fen,
        tuple(SplitCommission(c.order_line_id, c.level, c.distributor_id, c.base_fen, c.rate_bp,
                              c.amount_fen) for c in commissions),
        row.platform_fen,
    )


def book_refund(session: DbSession, refund: Refund) -> int | None:
    """Post a succeeded refund and adjust the commission lines; the ledger transaction id."""
    key = f"refund:{refund.id}"
    order_id = refund.order_id
    splits = {
        row.order_line_id: row
        for row in session.scalars(
            select(LineSplit).where(LineSplit.order_id == order_id).with_for_update()
        )
    }
    if not splits:
        late = session.scalar(select(LedgerTransaction.id).where(
            LedgerTransaction.idempotency_key == f"payment.late:{order_id}"))
        if late is None:
            # Paid before the ledger existed: nothing was booked, so nothing to reverse.
            log.warning("refund %s: order %s has no ledger booking", refund.id, order_id)
            return None
        return ledger.post(session, "refund.late_payment", "refund", refund.id, [
            Leg(ledger.LATE_PAYMENTS, ledger.PLATFORM_OWNER, -refund.amount_fen),
            Leg(ledger.CLEARING, ledger.PLATFORM_OWNER, refund.amount_fen),
        ], key=key, memo=refund.out_refund_no)
    by_line: dict[int, list[CommissionLine]] = defaultdict(list)
    for line in session.scalars(
        select(CommissionLine)
        .where(CommissionLine.order_id == order_id, CommissionLine.kind == "commission")
        .order_by(CommissionLine.level, CommissionLine.id)
        .with_for_update()
    ):
        by_line[line.order_line_id].append(line)
    legs = [Leg(ledger.CLEARING, ledger.PLATFORM_OWNER, refund.amount_fen)]
    lines_fen = 0
    for part in refund.lines:
        row = splits[part.order_line_id]
        commissions = by_line[part.order_line_id]
        reversal = reverse_for_refund(_stored_split(row, commissions), row.refunded_fen,
                                      part.amount_fen)
        lines_fen += part.amount_fen
        legs.append(Leg(ledger.SUPPLIER_PAYABLE, row.supplier_id, -reversal.supplier_fen))
        legs.append(Leg(ledger.PLATFORM, ledger.PLATFORM_OWNER, -reversal.platform_fen))
        session.execute(
            update(LineSplit).where(LineSplit.order_line_id == row.order_line_id).values(
                refunded_fen=LineSplit.refunded_fen + part.amount_fen,
                reversed_supplier_fen=LineSplit.reversed_supplier_fen + reversal.supplier_fen,
                reversed_commission_fen=(LineSplit.reversed_commission_fen
                                         + reversal.commission_fen),
                reversed_platform_fen=LineSplit.reversed_platform_fen + reversal.platform_fen,
            ).execution_options(synchronize_session=False)
        )
        for line, back in zip(commissions, reversal.commissions, strict=True):
            if back.amount_fen:
                legs.append(_reverse_commission(session, line, back.amount_fen))
    shipping = refund.amount_fen - lines_fen
    legs.append(Leg(ledger.PLATFORM, ledger.PLATFORM_OWNER, -shipping))
    return ledger.post(session, "refund", "refund", refund.id, legs, key=key,
                       memo=refund.out_refund_no)


def _reverse_commission(session: DbSession, line: CommissionLine, amount: int) -> Leg:
    """Take ``amount`` back from one commission line; the ledger leg that does it."""
    reversed_fen = line.reversed_fen + amount
    if line.status == CommissionStatus.AVAILABLE:
        session.execute(insert(CommissionLine).values(
            kind="clawback", order_id=line.order_id, order_line_id=line.order_line_id,
            distributor_id=line.distributor_id, level=line.level,
            plan_version_id=line.plan_version_id, base_fen=0, rate_bp=0, amount_fen=-amount,
            status=CommissionStatus.AVAILABLE, return_window_days=0,
            matures_at=line.matures_at, settled_at=None, clawback_of=line.id,
        ))
        status = line.status
        leg = Leg(ledger.DISTRIBUTOR_AVAILABLE, line.distributor_id, -amount)
    else:
        status = CommissionStatus.REVERSED if reversed_fen == line.amount_fen else line.status
        leg = Leg(ledger.DISTRIBUTOR_PENDING, line.distributor_id, -amount)
    session.execute(
        update(CommissionLine).where(CommissionLine.id == line.id)
        .values(reversed_fen=reversed_fen, status=status)
        .execution_options(synchronize_session=False)
    )
    return leg
