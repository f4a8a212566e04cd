"""Referral test setup and readers: rules stored directly, bindings and audit rows read afresh."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from core.models import AuditEntry, Distributor, ReferralBinding, ReferralSettings, User
from referral.settings import ReferralRules
from webapp.extensions import db


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


def audit_rows(action: str, subject: User | None = None) -> list[AuditEntry]:
    """Audit rows of ``action`` (about ``subject``), oldest first."""
    query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    if subject is not None:
        query = query.where(AuditEntry.subject_type == "user",
                            AuditEntry.subject_id == str(subject.id))
    rows = list(db.session.scalars(query))
    db.session.commit()
    return rows


def invite_code(user: User) -> str:
    """The invite code of ``user``'s distributor record."""
    record = db.session.get(Distributor, user.id)
    assert record is not None
    code = record.invite_code
    db.session.commit()
    return code


def count(model: Any) -> int:
    """Rows in ``model``'s table."""
    total = int(db.session.scalar(select(func.count()).select_from(model)) or 0)
    db.session.commit()
    return total
