"""Builders and readers for the chat's referral tests (chat and end-to-end)."""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from core.models import AuditEntry, Distributor, ReferralBinding, User
from referral.domain.codes import new_invite_code
from webapp.extensions import db


def make_distributor_of(user_id: int, status: str = "active") -> str:
    """Give an existing user a distributor record of ``status``; returns the invite code."""
    code = new_invite_code()
    db.session.add(Distributor(user_id=user_id, status=status, invite_code=code))
    db.session.commit()
    return code


def invite_code_of(user_id: int) -> str:
    """The invite code of a distributor."""
    db.session.rollback()
    record = db.session.get(Distributor, user_id)
    assert record is not None
    return record.invite_code


def binding_of(user_id: int) -> ReferralBinding | None:
    """The user's current binding, read afresh."""
    db.session.rollback()
    return db.session.get(ReferralBinding, user_id)


def user_by_openid(openid: str) -> User:
    """The app's user behind a WeChat openid."""
    db.session.rollback()
    user = db.session.scalar(select(User).where(User.openid == openid))
    assert user is not None
    return user


def audit_rows(action: str, user_id: int) -> list[AuditEntry]:
    """Audit rows of ``action`` about the user, oldest first."""
    db.session.rollback()
    return list(db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.action == action, AuditEntry.subject_type == "user",
               AuditEntry.subject_id == str(user_id))
        .order_by(AuditEntry.id)
    ))


@dataclass(frozen=True)
class FakeQrCode:
    """What ``referral.qrcodes.ensure_qr_code`` returns."""

    ticket: str
    url: str
    image_url: str


@dataclass
class FakeReferralTools:
    """Stand-ins for referral.qrcodes / posters / links, recording their calls."""

    qr_calls: list[int] = field(default_factory=list)
    posters: list[tuple[int, str]] = field(default_factory=list)

    def ensure_qr_code(self, session: Any, user_id: int) -> FakeQrCode:
        """A QR code whose picture names the user."""
        self.qr_calls.append(user_id)
        return FakeQrCode(f"ticket-{user_id}", f"http://weixin.qq.com/q/{user_id}",
                          f"http://qr.test/show?ticket=ticket-{user_id}")

    def request_poster(self, user_id: int, openid: str) -> None:
        """Remember the request (the real one enqueues a job)."""
        self.posters.append((user_id, openid))

    @staticmethod
    def share_url(public_base_url: str, invite_code: str) -> str:
        """A share link carrying the code."""
        return f"{public_base_url}/share/{invite_code}"


def install_fake_tools(monkeypatch: pytest.MonkeyPatch) -> FakeReferralTools:
    """Put the fakes in place of the real QR code, poster and share-link functions."""
    tools = FakeReferralTools()
    for name, attrs in (
        ("referral.qrcodes", {"ensure_qr_code": tools.ensure_qr_code}),
        ("referral.posters", {"request_poster": tools.request_poster}),
        ("referral.links", {"share_url": tools.share_url}),
    ):
        module = importlib.import_module(name)
        for attr, value in attrs.items():
            monkeypatch.setattr(module, attr, value)
    return tools
