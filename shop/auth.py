"""API tokens: issue, look up, revoke. Only a SHA-256 of each token is stored."""
from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from core.clock import utcnow
from core.journal import audit
from core.models import ApiToken, Role, User, UserRole
from core.uow import DbSession, unit_of_work

TOKEN_PREFIX = "cs_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(session: DbSession, user_id: int, label: str = "") -> str:
    """Create a new bearer token for a user and return it (shown once, never stored)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with unit_of_work(session):
        session.add(ApiToken(user_id=user_id, token_sha256=_digest(token), label=label[:64]))
        audit(session, user_id, "token.issued", "user", user_id, label=label[:64])
    return token


def user_for_token(session: DbSession, token: str) -> User | None:
    """The user a valid, unrevoked token belongs to, or None."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        return None
    row = session.scalar(
        select(ApiToken)
        .where(ApiToken.token_sha256 == _digest(token), ApiToken.revoked_at.is_(None))
        # One round trip for token, user and roles: this runs on every API call.
        .options(joinedload(ApiToken.user).joinedload(User.roles))
    )
    return row.user if row is not None else None


def revoke_token(session: DbSession, token: str) -> bool:
    """Revoke a token; True if it was active."""
    with unit_of_work(session):
        result = session.execute(
            update(ApiToken)
            .where(ApiToken.token_sha256 == _digest(token), ApiToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
    return result.rowcount == 1  # type: ignore[attr-defined]


def grant_role(session: DbSession, user: User, role: Role) -> None:
    """Give a user a role (no-op if held); the caller commits."""
    if not user.has_role(role):
        user.roles.append(UserRole(role=str(role)))
