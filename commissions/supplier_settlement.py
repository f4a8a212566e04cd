"""Supplier settlement: matured supply cost goes into batches the operator pays.

A line's supplier share is ready for a batch once its order completed and the
return window of the line's plan version has passed. What a batch takes from a
line is its *net* share not yet batched: ``supplier_fen - reversed_supplier_fen
- supplier_settled_fen``. A refund after a batch makes that negative; it is
netted into the supplier's next batch. A supplier whose ready lines add up to
zero or less gets no batch: its lines wait until later sales outweigh the debt.

Opening batches moves no money in the ledger (the supplier is still owed the
same); paying one does: ``supplier_payable -amount, payout_clearing +amount``.
Batches never change once opened, so the statement a supplier downloads is the
amount the operator pays. See docs/commissions.md, "Supplier settlement".
"""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, false, func, insert, or_, select, update
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from commissions import ledger
from commissions.csv_export import csv_text
from commissions.ledger import Leg
from commissions.maturity import window_start
from commissions.plan_store import plan_version
from commissions.plans import PlanError
from core.actors import Actor
from core.clock import utcnow
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.journal import audit
from core.models import (
    LineSplit,
    Order,
    OrderLine,
    OrderStatus,
    Role,
    Sku,
    SupplierSettlement,
    SupplierSettlementItem,
)
from core.money import format_yuan
from core.uow import DbSession, unit_of_work

log = logging.getLogger(__name__)

OPEN = "open"
PAID = "paid"
STATUSES = (OPEN, PAID)
MAX_REFERENCE = 64  # the column's length

# The supplier share of a line that no batch has taken yet (negative after a late refund).
_NET = LineSplit.supplier_fen - LineSplit.reversed_supplier_fen - LineSplit.supplier_settled_fen


def _unbatched_completed() -> ColumnElement[bool]:
    # A refund still in flight may take part of the share back: wait for its outcome
    # rather than pay money the supplier would owe again at once.
    return and_(Order.completed_at.is_not(None), Order.status != OrderStatus.REFUNDING,
                _NET != 0)


def _matured(session: DbSession, now: datetime) -> ColumnElement[bool] | None:
    """Lines past their plan version's return window; None when no line is waiting at all."""
    versions = session.scalars(
        select(LineSplit.plan_version_id).distinct()
        .join(Order, Order.id == LineSplit.order_id)
        .where(_unbatched_completed())
    ).all()
    if not versions:
        return None
    # One condition per distinct window, not per version: plans are edited far more
    # often than their return window changes.
    by_window: dict[int, list[int | None]] = defaultdict(list)
    for version_id in versions:
        try:
            days = plan_version(session, version_id).return_window_days
        except (PlanError, InvalidInput) as exc:
            # A stored version that no longer loads: its lines wait, the others settle.
            log.error("plan version %s cannot be read (%s); its lines are not settled",
                      version_id, exc)
            continue
        by_window[days].append(version_id)
    terms = []
    for days, ids in sorted(by_window.items()):
        known = [i for i in ids if i is not None]
        start = window_start(now, days)
        version = or_(LineSplit.plan_version_id.in_(known),
                      *([LineSplit.plan_version_id.is_(None)] if None in ids else []))
        terms.append(and_(version, Order.completed_at <= start))
    return or_(false(), *terms)


def open_settlements(
    session: DbSession, actor: Actor, now: datetime | None = None,
) -> list[SupplierSettlement]:
    """Open one batch per supplier owed matured supply cost (operators); the batches made.

    Every ready line with a non-zero net share gets an item of that amount and its
    ``supplier_settled_fen`` grows by it, in the same transaction. Suppliers whose
    items would add up to zero or less get nothing now. Running it again at once
    opens nothing: every line taken has a net share of 0 left.
    """
    actor.require(Role.OPERATOR)
    now = now or utcnow()
    created: list[int] = []
    with unit_of_work(session):
        matured = _matured(session, now)
        if matured is None:
            return []
        # Lock the ready lines in id order (on PostgreSQL; SQLite's writers are already
        # serialised by BEGIN IMMEDIATE). A second operator's run waits here, then
        # re-checks each row it waited for: the first run left those with a net of 0,
        # so they drop out and no line can land in two batches. Refunds lock the same
        # rows, so a refund either happens before (and is in the net) or after (and is
        # netted into the next batch).
        ready = session.execute(
            select(LineSplit.order_line_id, LineSplit.order_id, LineSplit.supplier_id,
                   _NET.label("net"))
            .join(Order, Order.id == LineSplit.order_id)
            .where(_unbatched_completed(), matured)
            .order_by(LineSplit.order_line_id)
            .with_for_update(of=LineSplit)
        ).all()
        per_supplier: dict[int, list[Any]] = defaultdict(list)
        for row in ready:
            per_supplier[row.supplier_id].append(row)
        for supplier_id in sorted(per_supplier):
            lines = per_supplier[supplier_id]
            amount = sum(int(row.net) for row in lines)
            if amount <= 0:
                continue  # the debt of late refunds is netted against later lines
            batch = SupplierSettlement(supplier_id=supplier_id, amount_fen=amount, status=OPEN,
                                       created_at=now, created_by=actor.user_id)
            session.add(batch)
            session.flush()
            session.execute(insert(SupplierSettlementItem), [
                {"settlement_id": batch.id, "order_line_id": row.order_line_id,
                 "order_id": row.order_id, "amount_fen": int(row.net)}
                for row in lines
            ])
            audit(session, actor.user_id, "supplier_settlement.opened", "supplier_settlement",
                  batch.id, supplier_id=supplier_id, amount_fen=amount, lines=len(lines))
            created.append(batch.id)
        if created:
            # One statement for every line batched: each grows by exactly its item, so
            # Σ items of a line == its supplier_settled_fen, always.
            item = (
                select(SupplierSettlementItem.amount_fen)
                .where(SupplierSettlementItem.settlement_id.in_(created),
                       SupplierSettlementItem.order_line_id == LineSplit.order_line_id)
                .scalar_subquery()
            )
            session.execute(
                update(LineSplit)
                .where(LineSplit.order_line_id.in_(
                    select(SupplierSettlementItem.order_line_id)
                    .where(SupplierSettlementItem.settlement_id.in_(created))))
                .values(supplier_settled_fen=LineSplit.supplier_settled_fen + item)
                .execution_options(synchronize_session=False)
            )
    if not created:
        return []
    return list(session.scalars(
        select(SupplierSettlement).where(SupplierSettlement.id.in_(created))
        .order_by(SupplierSettlement.id)
    ).all())


def mark_paid(
    session: DbSession, actor: Actor, settlement_id: int, payment_reference: str,
) -> SupplierSettlement:
    """Record that an open batch was paid (operators): open → paid, once; audited.

    Posts ``supplier_payable(supplier) -amount, payout_clearing +amount`` in the same
    transaction. A batch already paid is a Conflict (409), an unknown one NotFound.
    """
    actor.require(Role.OPERATOR)
    reference = (payment_reference or "").strip()
    if not 1 <= len(reference) <= MAX_REFERENCE:
        raise InvalidInput(f"payment_reference must be 1-{MAX_REFERENCE} characters",
                           payment_reference=["1-64 characters required"])
    now = utcnow()
    with unit_of_work(session):
        # The status guard makes a second (or concurrent) call change nothing: on
        # PostgreSQL it waits for the first one's row lock, then finds the batch paid.
        moved = session.execute(
            update(SupplierSettlement)
            .where(SupplierSettlement.id == settlement_id, SupplierSettlement.status == OPEN)
            .values(status=PAID, paid_at=now, paid_by=actor.user_id,
                    payment_reference=reference)
            .returning(SupplierSettlement.supplier_id, SupplierSettlement.amount_fen)
            .execution_options(synchronize_session=False)
        ).first()
        if moved is None:
            status = session.scalar(
                select(SupplierSettlement.status).where(SupplierSettlement.id == settlement_id))
            if status is None:
                raise NotFound("settlement not found")
            raise Conflict(f"this settlement is already {status}")
        supplier_id, amount = int(moved[0]), int(moved[1])
        ledger.post(session, "supplier_settlement.paid", "supplier_settlement", settlement_id, [
            Leg(ledger.SUPPLIER_PAYABLE, supplier_id, -amount),
            Leg(ledger.PAYOUT_CLEARING, ledger.PLATFORM_OWNER, amount),
        ], key=f"supplier_settlement.paid:{settlement_id}", memo=reference)
        audit(session, actor.user_id, "supplier_settlement.paid", "supplier_settlement",
              settlement_id, supplier_id=supplier_id, amount_fen=amount,
              payment_reference=reference)
    row = session.get(SupplierSettlement, settlement_id)
    assert row is not None  # just updated
    session.refresh(row)
    return row


def settlements_query(
    actor: Actor, supplier_id: int | None = None, status: str | None = None,
) -> Select[SupplierSettlement]:
    """Batches the actor may see, newest first: an operator's all, a supplier's its own."""
    stmt = select(SupplierSettlement).order_by(SupplierSettlement.id.desc())
    if not actor.is_operator():
        stmt = stmt.where(SupplierSettlement.supplier_id == actor.require_supplier())
    if supplier_id is not None:
        stmt = stmt.where(SupplierSettlement.supplier_id == supplier_id)
    if status is not None:
        stmt = stmt.where(SupplierSettlement.status == status)
    return stmt


def get_settlement(session: DbSession, actor: Actor, settlement_id: int) -> SupplierSettlement:
    """One batch: operators any, supplier staff their own (another's is NotFound)."""
    if actor.is_operator():
        row = session.get(SupplierSettlement, settlement_id)
    elif Role.SUPPLIER in actor.roles and actor.supplier_id is not None:
        row = session.scalar(
            settlements_query(actor).where(SupplierSettlement.id == settlement_id))
    else:
        raise Forbidden("this needs the role: operator or supplier")
    if row is None:
        raise NotFound("settlement not found")
    return row


@dataclass(frozen=True)
class StatementLine:
    """One item of a batch as a statement shows it; amounts in fen.

    ``refunded_supply_fen`` is what refunds had taken back when this batch was
    opened, and ``earlier_batches_fen`` what earlier batches took, so that
    ``amount_fen = supply_cost_fen - refunded_supply_fen - earlier_batches_fen``
    and a statement reads the same whenever it is downloaded.
    """

    order_number: str
    paid_at: datetime | None
    completed_at: datetime | None
    title: str
    sku: str
    quantity: int
    unit_supply_price_fen: int
    supply_cost_fen: int
    refunded_supply_fen: int
    earlier_batches_fen: int
    amount_fen: int
    order_id: int
    order_line_id: int


def statement_lines(
    session: DbSession, actor: Actor, settlement_id: int,
) -> tuple[SupplierSettlement, list[StatementLine]]:
    """A batch the actor may see and its items, in order of payment."""
    batch = get_settlement(session, actor, settlement_id)
    item = SupplierSettlementItem
    other = aliased(SupplierSettlementItem)
    earlier = (
        select(other.order_line_id.label("line_id"), func.sum(other.amount_fen).label("fen"))
        .where(other.settlement_id < settlement_id,
               other.order_line_id.in_(select(item.order_line_id)
                                       .where(item.settlement_id == settlement_id)))
        .group_by(other.order_line_id)
        .subquery()
    )
    rows = session.execute(
        select(Order.number, Order.paid_at, Order.completed_at, OrderLine.title,
               OrderLine.sku_name, Sku.code, OrderLine.quantity,
               OrderLine.unit_supply_price_fen, LineSplit.supplier_fen,
               func.coalesce(earlier.c.fen, 0), item.amount_fen, item.order_id,
               item.order_line_id)
        .join(OrderLine, OrderLine.id == item.order_line_id)
        .join(Order, Order.id == item.order_id)
        .join(LineSplit, LineSplit.order_line_id == item.order_line_id)
        .outerjoin(Sku, Sku.id == OrderLine.sku_id)
        .outerjoin(earlier, earlier.c.line_id == item.order_line_id)
        .where(item.settlement_id == settlement_id)
        .order_by(Order.paid_at, Order.id, item.order_line_id)
    ).all()
    lines = []
    for (number, paid_at, completed_at, title, sku_name, code, quantity, unit, supply,
         before, amount, order_id, line_id) in rows:
        before, amount = int(before), int(amount)
        label = f"{code} {sku_name}".strip() if code else sku_name
        lines.append(StatementLine(
            number, paid_at, completed_at, title, label, quantity, unit, supply,
            supply - before - amount, before, amount, order_id, line_id))
    return batch, lines




def _time(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value else ""


STATEMENT_HEADER = (
    "order number", "paid at (UTC)", "completed at (UTC)", "product", "SKU", "quantity",
    "unit supply price", "supply cost", "refunded supply share", "earlier batches",
    "amount in this batch",
)


def statement_csv(session: DbSession, actor: Actor, settlement_id: int) -> str:
    """The batch's statement as CSV: a header, one row per item, a total row (yuan).

    Operators may read any batch's statement, supplier staff their own batches'
    (another supplier's is NotFound); anyone else is Forbidden.
    """
    batch, lines = statement_lines(session, actor, settlement_id)
    # Product titles and SKU names come from suppliers: csv_text neutralises formulas.
    rows: list[Sequence[object]] = []
    for line in lines:
        rows.append((
            line.order_number, _time(line.paid_at), _time(line.completed_at),
            line.title, line.sku, line.quantity,
            format_yuan(line.unit_supply_price_fen),
            format_yuan(line.supply_cost_fen), format_yuan(line.refunded_supply_fen),
            format_yuan(line.earlier_batches_fen), format_yuan(line.amount_fen),
        ))
    totals: Sequence[int] = [
        sum(getattr(line, name) for line in lines)
        for name in ("supply_cost_fen", "refunded_supply_fen", "earlier_batches_fen",
                     "amount_fen")
    ]
    # The items always add up to the batch (both written in one transaction); a
    # statement that did not would be a bug worth failing loudly on.
    if totals[-1] != batch.amount_fen:
        raise RuntimeError(f"settlement {batch.id}: items add up to {totals[-1]} fen, "
                           f"the batch says {batch.amount_fen} fen")
    rows.append(("total", "", "", "", "", sum(line.quantity for line in lines), "",
                 *(format_yuan(fen) for fen in totals)))
    return csv_text(STATEMENT_HEADER, rows)
