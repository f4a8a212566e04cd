"""Read-only queries the referral API needs beyond the services: lists, current upline, history.

Nothing here writes; every function takes a session (or builds a statement)
and returns plain values or ORM rows.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, or_, select

from core.clock import utcnow
from core.models import AuditEntry, Distributor, ReferralBinding, User
from core.uow import DbSession

# The audit action every change of a user's upline writes (referral.binding).
BOUND_ACTION = "referral.bound"


@dataclass(frozen=True)
class NamedDistributor:
    """A distributor record with its user's nickname (what lists show)."""

    record: Distributor
    nickname: str


def distributor_listing(
    session: DbSession, *, status: str | None = None, offset: int = 0, limit: int = 20,
) -> tuple[int, list[NamedDistributor]]:
    """Distributor records (optionally of one status), newest application first, with the total."""
    where = [Distributor.status == status] if status is not None else []
    total = session.scalar(select(func.count()).select_from(Distributor).where(*where)) or 0
    rows = session.execute(
        select(Distributor, User.nickname)
        .join(User, User.id == Distributor.user_id)
        .where(*where)
        .order_by(Distributor.applied_at.desc(), Distributor.user_id.desc())
        .offset(offset).limit(limit)
    ).all()
    return int(total), [NamedDistributor(record, nickname) for record, nickname in rows]


def named_distributor(session: DbSession, user_id: int) -> NamedDistributor | None:
    """One user's distributor record with their nickname, if they ever applied."""
    row = session.execute(
        select(Distributor, User.nickname)
        .join(User, User.id == Distributor.user_id)
        .where(Distributor.user_id == user_id)
    ).first()
    return NamedDistributor(row[0], row[1]) if row else None


@dataclass(frozen=True)
class Upline:
    """Who a user is bound to right now, and how."""

    upline_id: int
    nickname: str
    source: str
    scene: str
    bound_at: datetime
    expires_at: datetime | None


def current_upline(session: DbSession, user_id: int, now: datetime | None = None) -> Upline | None:
    """The user's live binding (an expired one no longer counts), else None."""
    now = now or utcnow()
    row = session.execute(
        select(ReferralBinding, User.nickname)
        .join(User, User.id == ReferralBinding.upline_id)
        .where(ReferralBinding.user_id == user_id,
               or_(ReferralBinding.expires_at.is_(None), ReferralBinding.expires_at > now))
    ).first()
    if row is None:
        return None
    binding, nickname = row
    return Upline(binding.upline_id, nickname, binding.source, binding.scene, binding.bound_at,
                  binding.expires_at)


def binding_history_query(user_id: int) -> Select[AuditEntry]:
    """Every change of a user's upline (the audit rows), newest first."""
    return (
        select(AuditEntry)
        .where(AuditEntry.subject_type == "user", AuditEntry.subject_id == str(user_id),
               AuditEntry.action == BOUND_ACTION)
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
    )
