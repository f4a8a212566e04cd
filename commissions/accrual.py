"""Booking a paid order: split every line and post the money, in the payment's transaction.

One ledger transaction per paid order: WeChat Pay clearing gives the order's
total; each supplier's payable gets its lines' supply cost, each distributor's
pending balance their commission lines, the platform the rest (and any
shipping fee). A constant number of statements whatever the number of lines
or levels (the plan, two multi-row inserts, one posting); bench/settlement.py
counts them.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert

from commissions import ledger
from commissions.ledger import Leg
from commissions.plan_store import ActivePlan, active_plan
from commissions.split import ChainMember, OrderLine, OrderSplit, split_order
from core.journal import announce
from core.models import CommissionLine, LineSplit, Order
from core.uow import DbSession


def chain_for_plan(snapshot: Mapping[str, Any] | None, self_purchase_earns: bool) -> (
    list[ChainMember]
):
    """The split's chain from an order's attribution snapshot.

    Level 0 of the snapshot is the buyer when they are a distributor: with
    self-purchase earning they take level 1 and their uplines move one level
    up; otherwise the uplines keep their levels and the buyer earns nothing.
    """
    members = list((snapshot or {}).get("members", []))
    own = [m for m in members if m["level"] == 0]
    uplines = sorted((m for m in members if m["level"] >= 1), key=lambda m: m["level"])
    shift = 1 if self_purchase_earns and own else 0
    chain = [ChainMember(1, own[0]["distributor_id"], own[0]["tier"])] if shift else []
    chain += [ChainMember(m["level"] + shift, m["distributor_id"], m["tier"],
                          earns=bool(m.get("earns", True)))
              for m in uplines]
    return chain


def split_paid_order(order: Order, snapshot: Mapping[str, Any] | None, active: ActivePlan) -> (
    OrderSplit
):
    """The split of ``order``'s lines under ``active`` (pure: nothing written)."""
    lines = [
        OrderLine(line.id, line.amount_fen, line.supply_cost_fen, line.product_id,
                  line.category_id)
        for line in order.lines
    ]
    chain = chain_for_plan(snapshot, active.plan.self_purchase_earns)
    return split_order(lines, chain, order.buyer_id, active.plan)


def paid_order_legs(order: Order, split: OrderSplit, suppliers: Mapping[int, int]) -> list[Leg]:
    """The ledger legs of a paid order (``suppliers``: order line id -> supplier id)."""
    legs = [Leg(ledger.CLEARING, ledger.PLATFORM_OWNER, -order.total_fen)]
    for line in split.lines:
        legs.append(Leg(ledger.SUPPLIER_PAYABLE, suppliers[line.line_id], line.supplier_fen))
        legs.append(Leg(ledger.PLATFORM, ledger.PLATFORM_OWNER, line.platform_fen))
        legs.extend(Leg(ledger.DISTRIBUTOR_PENDING, c.distributor_id, c.amount_fen)
                    for c in line.commissions)
    legs.append(Leg(ledger.PLATFORM, ledger.PLATFORM_OWNER, order.shipping_fen))
    return legs


def book_paid_order(session: DbSession, order: Order, snapshot: Mapping[str, Any] | None) -> (
    OrderSplit
):
    """Split a just-paid order and post it; call inside the payment's unit of work."""
    active = active_plan(session)
    split = split_paid_order(order, snapshot, active)
    suppliers = {line.id: line.supplier_id for line in order.lines}
    session.execute(insert(LineSplit).values([
        {"order_line_id": line.line_id, "order_id": order.id,
         "supplier_id": suppliers[line.line_id], "plan_version_id": active.version_id,
         "paid_fen": line.paid_fen, "supplier_fen": line.supplier_fen,
         "commission_fen": line.commission_fen, "platform_fen": line.platform_fen}
        for line in split.lines
    ]))
    commissions = split.commission_lines
    if commissions:
        window = active.plan.return_window_days
        session.execute(insert(CommissionLine).values([
            {"kind": "commission", "order_id": order.id, "order_line_id": c.line_id,
             "distributor_id": c.distributor_id, "level": c.level,
             "plan_version_id": active.version_id, "base_fen": c.base_fen,
             "rate_bp": c.rate_bp, "amount_fen": c.amount_fen, "status": "pending",
             "return_window_days": window}
            for c in commissions
        ]))
    # Every distributor earning here gets an available balance now too, so settlement
    # can move pending to available with set-based statements.
    ledger.post(session, "order.paid", "order", order.id, paid_order_legs(order, split, suppliers),
                key=f"order.paid:{order.id}", memo=order.number,
                open_accounts=[(ledger.DISTRIBUTOR_AVAILABLE, c.distributor_id)
                               for c in commissions])
    if commissions:
        earned: dict[int, int] = {}
        for c in commissions:
            earned[c.distributor_id] = earned.get(c.distributor_id, 0) + c.amount_fen
        announce(session, "commission.earned", order_id=order.id, number=order.number,
                 earnings=[{"distributor_id": d, "amount_fen": fen}
                           for d, fen in sorted(earned.items())])
    return split


def book_late_payment(session: DbSession, order: Order) -> None:
    """Money for a cancelled order: held apart until the automatic refund returns it."""
    ledger.post(session, "payment.late", "order", order.id, [
        Leg(ledger.CLEARING, ledger.PLATFORM_OWNER, -order.total_fen),
        Leg(ledger.LATE_PAYMENTS, ledger.PLATFORM_OWNER, order.total_fen),
    ], key=f"payment.late:{order.id}", memo=order.number)
