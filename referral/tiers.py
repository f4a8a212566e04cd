"""Tier upgrades and spend-based approval, evaluated when orders complete.

Figures count completed orders net of refunds:
- own spend: what the distributor paid for their own completed orders;
- own sales: completed orders attributed to them at level 1 (their direct customers);
- team sales: completed orders attributed to them at any level 1..3;
- completed orders: their own completed purchases.
Upgrades only: a tier goes down only by an operator's audited decision.
"""
from __future__ import annotations

from sqlalchemy import func, select

from core.journal import audit
from core.models import Distributor, DistributorTier, Order, OrderReferral, OrderStatus
from core.uow import DbSession, unit_of_work
from referral.distributors import approve_on_spend, list_tiers
from referral.domain.rules import DistributorStatus, Performance, TierRule, earned_tier

COMPLETED = (OrderStatus.COMPLETED, OrderStatus.PARTIALLY_REFUNDED)


def performance(session: DbSession, user_id: int) -> Performance:
    """A distributor's figures from completed orders, net of refunds (two queries)."""
    net = Order.total_fen - Order.refunded_fen
    done = Order.completed_at.is_not(None) & Order.status.in_(COMPLETED)
    spend, count = session.execute(
        select(func.coalesce(func.sum(net), 0), func.count())
        .where(Order.buyer_id == user_id, done)
    ).one()
    own_sales, team_sales = session.execute(
        select(
            func.coalesce(func.sum(net).filter(OrderReferral.level == 1), 0),
            func.coalesce(func.sum(net).filter(OrderReferral.level >= 1), 0),
        )
        .join(Order, Order.id == OrderReferral.order_id)
        .where(OrderReferral.distributor_id == user_id, done)
    ).one()
    return Performance(int(spend), int(own_sales), int(team_sales), int(count))


def _rules(tiers: list[DistributorTier]) -> list[TierRule]:
    return [
        TierRule(t.id, t.rank, t.min_own_spend_fen, t.min_own_sales_fen, t.min_team_sales_fen,
                 t.min_completed_orders)
        for t in tiers
    ]


def upgrade_tier(session: DbSession, user_id: int) -> DistributorTier | None:
    """Move an active distributor up to the best tier their figures reach; the new tier or None."""
    with unit_of_work(session):
        record = session.get(Distributor, user_id, with_for_update=True)
        if record is None or record.status != DistributorStatus.ACTIVE:
            return None
        tiers = list_tiers(session)
        if not tiers:
            return None
        figures = performance(session, user_id)
        current_rank = record.tier.rank if record.tier else None
        earned = earned_tier(_rules(tiers), figures, current_rank)
        if earned is None:
            return None
        tier = next(t for t in tiers if t.id == earned.tier_id)
        before = record.tier.code if record.tier else None
        record.tier_id = tier.id
        record.tier = tier
        audit(session, None, "distributor.tier_upgraded", "user", user_id, before=before,
              after=tier.code, own_spend_fen=figures.own_spend_fen,
              own_sales_fen=figures.own_sales_fen, team_sales_fen=figures.team_sales_fen,
              completed_orders=figures.completed_orders)
        return tier


def after_order_completed(session: DbSession, order_id: int) -> int:
    """Re-evaluate the buyer and everyone the order is attributed to; how many changed."""
    order = session.get(Order, order_id)
    if order is None:
        return 0
    changed = int(approve_on_spend(session, order.buyer_id))
    members = session.scalars(
        select(OrderReferral.distributor_id).where(OrderReferral.order_id == order_id)
    ).all()
    for user_id in dict.fromkeys([order.buyer_id, *members]):
        if upgrade_tier(session, user_id) is not None:
            changed += 1
    return changed
