"""Builders for the referral API tests: distributors, bindings and attributed orders."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from core.models import AuditEntry, Distributor, ReferralBinding, Role, User
from referral.attribution import chain_snapshot, record_attribution
from referral.domain.codes import new_invite_code
from shop import checkout
from shop.domain.addresses import validate_address
from tests.api.conftest import GOOD_ADDRESS, mark_paid
from tests.support.factories import make_product, make_user
from webapp.extensions import db

ADDRESS = validate_address(**GOOD_ADDRESS)


def make_distributor(status: str = "active", *, upline: User | None = None) -> User:
    """A user with a distributor record of ``status`` (the role once approved), maybe bound."""
    approved = status in ("active", "frozen", "revoked")
    user = make_user(*((Role.CONSUMER, Role.DISTRIBUTOR) if approved else (Role.CONSUMER,)))
    db.session.add(Distributor(user_id=user.id, status=status, invite_code=new_invite_code()))
    if upline is not None:
        db.session.add(ReferralBinding(user_id=user.id, upline_id=upline.id, source="qr"))
    db.session.commit()
    return user


def link(user: User, upline: User) -> None:
    """Bind ``user`` under ``upline`` straight in the database (setup, no rules)."""
    db.session.add(ReferralBinding(user_id=user.id, upline_id=upline.id, source="qr"))
    db.session.commit()


def invite_code(user: User) -> str:
    """The invite code of ``user``'s distributor record."""
    record = db.session.get(Distributor, user.id)
    assert record is not None
    code = record.invite_code
    db.session.commit()
    return code


def upline_of(user: User) -> int | None:
    """Who ``user`` is bound to, read from the database."""
    db.session.expire_all()
    found = db.session.scalar(
        select(ReferralBinding.upline_id).where(ReferralBinding.user_id == user.id)
    )
    db.session.commit()
    return found


def audit_rows(action: str, subject: User | None = None) -> list[AuditEntry]:
    """Audit rows of ``action`` (about ``subject``), oldest first."""
    query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    if subject is not None:
        query = query.where(AuditEntry.subject_type == "user",
                            AuditEntry.subject_id == str(subject.id))
    rows = list(db.session.scalars(query))
    db.session.commit()
    return rows


def count(model: Any) -> int:
    """Rows in ``model``'s table."""
    total = int(db.session.scalar(select(func.count()).select_from(model)) or 0)
    db.session.commit()
    return total


def paid_order(buyer: User, price_fen: int = 1000) -> int:
    """A paid order of ``buyer`` with its attribution chain recorded, as payment does."""
    _, sku = make_product(price_fen=price_fen, supply_price_fen=price_fen // 2)
    order = checkout.checkout(db.session, buyer.id, [(sku.id, 1)], ADDRESS)
    order_id = order.id
    mark_paid(order_id)
    record_attribution(db.session, order_id, chain_snapshot(db.session, buyer.id))
    db.session.commit()
    return order_id
