"""WeChat identities: find or create the user behind an openid."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from core.errors import InvalidInput
from core.journal import audit
from core.models import Role, User, UserRole
from core.uow import DbSession, unit_of_work

MAX_OPENID = 64


def user_for_openid(session: DbSession, openid: str) -> User | None:
    """The user with this openid, if any."""
    # Roles in the same round trip: this runs for every chat message.
    return session.scalar(
        select(User).where(User.openid == openid).options(joinedload(User.roles))
    )


def ensure_wechat_user(session: DbSession, openid: str, *, subscribed: bool | None = None) -> User:
    """The user behind ``openid``, created as a consumer on first contact.

    Safe when two requests for a new openid race: the unique openid decides and
    the loser reads the winner's row.
    """
    if not openid or len(openid) > MAX_OPENID or not openid.isprintable():
        raise InvalidInput("invalid openid")
    user = user_for_openid(session, openid)
    if user is not None and (subscribed is None or user.subscribed == subscribed):
        return user
    try:
        with unit_of_work(session):
            user = user_for_openid(session, openid)
            if user is None:
                user = User(openid=openid, nickname="", roles=[UserRole(role=str(Role.CONSUMER))])
                session.add(user)
                session.flush()
                audit(session, user.id, "user.created", "user", user.id, source="wechat")
            if subscribed is not None:
                user.subscribed = subscribed
    except IntegrityError:
        user = user_for_openid(session, openid)
        if user is None:
            raise
    return user
