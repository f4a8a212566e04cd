"""Helpers for the referral tests: distributors and trees built straight in the database."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from core.models import AuditEntry, Distributor, ReferralBinding, ReferralSettings, Role, User
from referral.domain.codes import new_invite_code
from referral.settings import ReferralRules
from tests.support.factories import make_user
from webapp.extensions import db


def make_distributor(status: str = "active", *, upline: User | None = None,
                     tier_id: int | None = None) -> User:
    """A user with a distributor record (and the role when active), optionally bound."""
    roles = (Role.CONSUMER, Role.DISTRIBUTOR) if status == "active" else (Role.CONSUMER,)
    user = make_user(*roles)
    db.session.add(Distributor(user_id=user.id, status=status, invite_code=new_invite_code(),
                               tier_id=tier_id))
    if upline is not None:
        db.session.add(ReferralBinding(user_id=user.id, upline_id=upline.id, source="qr"))
    db.session.commit()
    return user


def link(user: User, upline: User, **values: Any) -> None:
    """Bind ``user`` under ``upline`` directly (test setup, no rules)."""
    db.session.add(ReferralBinding(user_id=user.id, upline_id=upline.id, source="qr", **values))
    db.session.commit()


def set_rules(**values: Any) -> None:
    """Store referral settings directly (test setup)."""
    row = db.session.get(ReferralSettings, 1) or ReferralSettings(id=1)
    defaults = ReferralRules()
    for key in ReferralRules.__dataclass_fields__:
        value = values.get(key, getattr(defaults, key))
        setattr(row, key, str(value) if isinstance(value, str) else value)
    db.session.add(row)
    db.session.commit()


def upline_of(user: User) -> int | None:
    """Who ``user`` is bound to now, read from the database."""
    db.session.rollback()  # end any read snapshot (SQLite WAL keeps it)
    return db.session.scalar(
        select(ReferralBinding.upline_id).where(ReferralBinding.user_id == user.id)
    )


def audit_count(action: str, user: User | None = None) -> int:
    """How many audit rows of ``action`` (about ``user``) exist."""
    db.session.rollback()
    query = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
    if user is not None:
        query = query.where(AuditEntry.subject_id == str(user.id))
    return int(db.session.scalar(query) or 0)
