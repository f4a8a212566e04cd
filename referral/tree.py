"""Reading the referral tree: the chain above a user, the team below a distributor.

The tree is an adjacency list (``referral_bindings``: user → direct upline).
Every walk is a single recursive query, so the number of round trips never
depends on the depth. Walking up stops as soon as enough distributors are
found, which makes the attribution chain cost the same at depth 10 and depth
10 000 (see docs/referral.md for the measurements and the alternatives).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Select, String, and_, bindparam, case, func, literal, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from core.clock import utcnow
from core.models import (
    Distributor,
    DistributorTier,
    Order,
    OrderReferral,
    OrderStatus,
    ReferralBinding,
    User,
)
from core.models.base import UTCDateTime
from core.uow import DbSession
from referral.domain.rules import Ancestor, DistributorStatus

# A walk longer than this is a corrupted tree (a cycle cannot be created through the
# services); it stops the recursion instead of looping.
MAX_WALK = 1_000_000
# Orders whose sales count for a team: paid and not cancelled (refunds are netted out).
SALE_STATUSES = (
    OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.COMPLETED, OrderStatus.REFUNDING,
    OrderStatus.PARTIALLY_REFUNDED,
)


def _live(binding: Any, now: datetime) -> ColumnElement[bool]:
    """The binding has not expired (``binding`` is the model or an alias of it)."""
    return or_(binding.expires_at.is_(None), binding.expires_at > now)


@dataclass(frozen=True)
class Walk:
    """What a walk up the tree found."""

    own: Ancestor | None  # the user's own distributor record, if any
    above: list[Ancestor]  # the distributors above, nearest first
    source: str | None  # how the user was bound to their direct upline


@functools.cache
def _walk_up(count_inactive: bool) -> Select[Any]:
    """The walk-up statement, built once per variant (parameters: user_id, now, enough)."""
    binding = aliased(ReferralBinding)
    member_status = aliased(Distributor)
    counts = (
        member_status.user_id.is_not(None) if count_inactive
        else member_status.status == DistributorStatus.ACTIVE
    )
    counted = case((counts, 1), else_=0)
    anchor = select(
        bindparam("user_id", type_=Integer).label("member_id"),
        literal(0, Integer).label("hops"),
        literal(0, Integer).label("found"),
        literal(None, String).label("via"),
    ).cte("up", recursive=True)
    # ``found`` counts the distributors met above the user *before* this member;
    # the member itself is counted when deciding whether to walk past it.
    step = (
        select(
            binding.upline_id,
            (anchor.c.hops + 1).label("hops"),
            (anchor.c.found + case((anchor.c.hops > 0, counted), else_=0)).label("found"),
            binding.source,
        )
        .select_from(anchor)
        .join(binding, and_(binding.user_id == anchor.c.member_id,
                            or_(binding.expires_at.is_(None),
                                binding.expires_at > bindparam("now", type_=UTCDateTime()))))
        .outerjoin(member_status, member_status.user_id == anchor.c.member_id)
        .where(
            anchor.c.hops < MAX_WALK,
            anchor.c.found + case((anchor.c.hops > 0, counted), else_=0)
            < bindparam("enough", type_=Integer),
        )
    )
    walk = anchor.union_all(step)
    return (
        select(walk.c.member_id, walk.c.hops, Distributor.status, DistributorTier.code,
               walk.c.via)
        .select_from(walk)
        .outerjoin(Distributor, Distributor.user_id == walk.c.member_id)
        .outerjoin(DistributorTier, DistributorTier.id == Distributor.tier_id)
        .order_by(walk.c.hops)
    )


def ancestors(
    session: DbSession, user_id: int, *, enough: int, count_inactive: bool = False,
    now: datetime | None = None,
) -> Walk:
    """The user's own distributor record and the distributors above them, nearest first.

    The walk stops once ``enough`` active distributors (or, with
    ``count_inactive``, distributors of any status) have been found above the
    user, so its cost depends on the levels wanted, not on the depth. One query,
    built once: it runs inside every payment.
    """
    rows = session.execute(
        _walk_up(count_inactive),
        {"user_id": user_id, "now": now or utcnow(), "enough": enough},
    ).all()
    own: Ancestor | None = None
    above: list[Ancestor] = []
    source: str | None = None
    for member_id, hops, status, tier, via in rows:
        found = Ancestor(member_id, hops, status or "", tier)
        if hops == 0:
            own = found if status else None
        else:
            above.append(found)
            if hops == 1:
                source = via
    return Walk(own, above, source)


def _upward(user_id: int, *, live_at: datetime | None = None, stop_at: int | None = None) -> Any:
    """The walk from ``user_id`` up the tree: (member_id, hops), hops 0 = the user.

    ``live_at``: follow only bindings live then (else expired ones too);
    ``stop_at``: do not walk past that user.
    """
    binding = aliased(ReferralBinding)
    anchor = select(
        literal(user_id, Integer).label("member_id"), literal(0, Integer).label("hops")
    ).cte("walk_up", recursive=True)
    link = binding.user_id == anchor.c.member_id
    if live_at is not None:
        link = and_(link, _live(binding, live_at))
    step = (
        select(binding.upline_id, (anchor.c.hops + 1).label("hops"))
        .select_from(anchor).join(binding, link).where(anchor.c.hops < MAX_WALK)
    )
    if stop_at is not None:
        step = step.where(anchor.c.member_id != stop_at)
    return anchor.union_all(step)


@dataclass(frozen=True)
class UplineChain:
    """The users above someone, nearest first, and how deep they are in the tree."""

    members: list[tuple[int, str, str]]  # (user id, nickname, distributor status)
    depth: int


def upline_chain(session: DbSession, user_id: int, limit: int = 50) -> UplineChain:
    """The nearest ``limit`` users above ``user_id`` and its depth (operators' view)."""
    walk = _upward(user_id, live_at=utcnow())
    depth = session.scalar(select(func.max(walk.c.hops))) or 0
    rows = session.execute(
        select(walk.c.member_id, User.nickname, Distributor.status)
        .select_from(walk)
        .join(User, User.id == walk.c.member_id)
        .outerjoin(Distributor, Distributor.user_id == walk.c.member_id)
        .where(walk.c.hops > 0, walk.c.hops <= limit)
        .order_by(walk.c.hops)
    ).all()
    return UplineChain([(uid, name, status or "") for uid, name, status in rows], int(depth))


def has_downline(session: DbSession, user_id: int) -> bool:
    """True if anyone is bound under ``user_id``."""
    return session.scalar(
        select(ReferralBinding.user_id).where(ReferralBinding.upline_id == user_id).limit(1)
    ) is not None


def is_above(session: DbSession, upper_id: int, user_id: int) -> bool:
    """True if ``upper_id`` is somewhere in the chain above ``user_id`` (expired links too)."""
    walk = _upward(user_id, stop_at=upper_id)
    found = session.scalar(
        select(walk.c.member_id).where(walk.c.member_id == upper_id, walk.c.hops > 0).limit(1)
    )
    return found is not None


def _descendants(distributor_id: int, now: datetime) -> Any:
    binding = aliased(ReferralBinding)
    anchor = (
        select(ReferralBinding.user_id.label("member_id"), literal(1, Integer).label("depth"))
        .where(ReferralBinding.upline_id == distributor_id, _live(ReferralBinding, now))
        .cte("team", recursive=True)
    )
    step = (
        select(binding.user_id, (anchor.c.depth + 1).label("depth"))
        .select_from(anchor)
        .join(binding, and_(binding.upline_id == anchor.c.member_id, _live(binding, now)))
        .where(anchor.c.depth < MAX_WALK)
    )
    return anchor.union_all(step)


@dataclass(frozen=True)
class TeamStats:
    """A distributor's team: head counts and the sales attributed to them by level."""

    direct_count: int
    team_size: int
    sales_by_level: dict[int, int] = field(default_factory=dict)  # level -> fen, net of refunds
    orders_by_level: dict[int, int] = field(default_factory=dict)

    @property
    def team_sales_fen(self) -> int:
        """Sales at every commission level together."""
        return sum(self.sales_by_level.values())


def team_stats(
    session: DbSession, distributor_id: int, *, since: datetime | None = None,
    until: datetime | None = None,
) -> TeamStats:
    """Head counts of the whole team and its sales by level in ``[since, until)``.

    Team sales are the paid orders whose attribution chain (snapshotted at
    payment) holds the distributor at levels 1..3, net of refunds; the buyer's
    position in today's tree does not rewrite them. Three queries.
    """
    now = utcnow()
    direct = session.scalar(
        select(func.count()).select_from(ReferralBinding)
        .where(ReferralBinding.upline_id == distributor_id, _live(ReferralBinding, now))
    ) or 0
    team = _descendants(distributor_id, now)
    size = session.scalar(select(func.count()).select_from(team)) or 0
    query = (
        select(OrderReferral.level, func.count(), func.sum(Order.total_fen - Order.refunded_fen))
        .join(Order, Order.id == OrderReferral.order_id)
        .where(
            OrderReferral.distributor_id == distributor_id,
            OrderReferral.level >= 1,
            Order.status.in_(SALE_STATUSES),
        )
        .group_by(OrderReferral.level)
    )
    if since is not None:
        query = query.where(Order.paid_at >= since)
    if until is not None:
        query = query.where(Order.paid_at < until)
    sales: dict[int, int] = {}
    orders: dict[int, int] = {}
    for level, count, total in session.execute(query).all():
        sales[int(level)] = int(total or 0)
        orders[int(level)] = int(count)
    return TeamStats(int(direct), int(size), sales, orders)


@dataclass(frozen=True)
class DownlineMember:
    """Someone bound directly under a distributor."""

    user_id: int
    nickname: str
    source: str
    bound_at: datetime
    distributor_status: str
    direct_count: int


def direct_downline(
    session: DbSession, distributor_id: int, *, offset: int = 0, limit: int = 20,
) -> tuple[int, list[DownlineMember]]:
    """The people bound directly under a distributor, newest first, with the total.

    Like every team view, only live bindings count: an expired first touch is no
    longer anyone's team.
    """
    now = utcnow()
    total = session.scalar(
        select(func.count()).select_from(ReferralBinding)
        .where(ReferralBinding.upline_id == distributor_id, _live(ReferralBinding, now))
    ) or 0
    below = aliased(ReferralBinding)
    their_direct = (
        select(func.count()).select_from(below)
        .where(below.upline_id == ReferralBinding.user_id, _live(below, now))
        .scalar_subquery()
    )
    rows = session.execute(
        select(ReferralBinding.user_id, User.nickname, ReferralBinding.source,
               ReferralBinding.bound_at, Distributor.status, their_direct)
        .join(User, User.id == ReferralBinding.user_id)
        .outerjoin(Distributor, Distributor.user_id == ReferralBinding.user_id)
        .where(ReferralBinding.upline_id == distributor_id, _live(ReferralBinding, now))
        .order_by(ReferralBinding.bound_at.desc(), ReferralBinding.user_id.desc())
        .offset(offset).limit(limit)
    ).all()
    return int(total), [
        DownlineMember(uid, name, source, bound_at, status or "", int(count or 0))
        for uid, name, source, bound_at, status, count in rows
    ]
