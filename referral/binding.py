"""Binding people under distributors: by QR scene, share link, invite code or operator.

Every change of a user's upline is one audit row (``referral.bound``) with the
source, scene, previous and new upline and time; the same touch delivered
twice binds once. Changes that could create a cycle (the user being bound
is a distributor, so may have people under them) are serialised tree-wide so two concurrent
rebindings cannot close a loop between them.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from core.actors import Actor
from core.clock import utcnow
from core.errors import Conflict, InvalidInput, NotFound
from core.journal import audit
from core.models import Distributor, ReferralBinding, Role, User
from core.uow import DbSession, unit_of_work
from referral.domain.codes import distributor_in_scene, normalise_invite_code
from referral.domain.rules import (
    BindingRequest,
    BindingSource,
    CurrentBinding,
    Refusal,
    decide_binding,
)
from referral.settings import current_rules
from referral.tree import has_downline, is_above

log = logging.getLogger(__name__)

MAX_SCENE = 64
MAX_REASON = 200
# pg_advisory_xact_lock key for tree changes that could create a cycle ("ref" "tree").
TREE_LOCK_KEY = 0x7265_6674_7265_65


class BindingRefused(Conflict):
    """The binding rules refuse this binding; ``code`` says which rule."""

    error_code = "binding_refused"

    def __init__(self, code: Refusal, message: str) -> None:
        super().__init__(message, reason=str(code))
        self.code = code


_MESSAGES = {
    Refusal.SELF: "you cannot be bound under yourself",
    Refusal.CYCLE: "that distributor is in this user's own team (it would make a loop)",
    Refusal.NOT_DISTRIBUTOR: "that user is not a distributor",
    Refusal.INACTIVE: "that distributor is not active",
}


@dataclass(frozen=True)
class BindResult:
    """What a binding attempt did."""

    changed: bool
    upline_id: int | None  # the upline after the attempt
    previous_upline_id: int | None
    upline_name: str = ""
    reason: str = ""


def _lock_tree(session: DbSession) -> None:
    # SQLite serialises writers already (BEGIN IMMEDIATE); PostgreSQL needs the lock.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": TREE_LOCK_KEY})


def bind(
    session: DbSession, user_id: int, upline_id: int, source: BindingSource, *,
    scene: str = "", actor_id: int | None = None, reason: str = "",
) -> BindResult:
    """Bind ``user_id`` under the distributor ``upline_id`` if the rules allow it.

    Raises :class:`BindingRefused` (self, cycle, not a distributor, inactive)
    or ``NotFound`` when either user does not exist; nothing changes then.
    """
    scene = (scene or "")[:MAX_SCENE]
    try:
        return _bind_once(session, user_id, upline_id, source, scene, actor_id, reason)
    except IntegrityError:
        # A concurrent first binding of the same user won the insert: decide again
        # against what it wrote (usually "already bound" or "first touch keeps").
        return _bind_once(session, user_id, upline_id, source, scene, actor_id, reason)


def _bind_once(
    session: DbSession, user_id: int, upline_id: int, source: BindingSource, scene: str,
    actor_id: int | None, reason: str,
) -> BindResult:
    now = utcnow()
    with unit_of_work(session):
        if session.get(User, user_id) is None:
            raise NotFound("no such user")
        upline_user = session.get(User, upline_id)
        if upline_user is None:
            raise NotFound("no such distributor")
        rules = current_rules(session)
        upline = session.get(Distributor, upline_id)
        # Only someone with a distributor record can have (or get) people under them,
        # so only their rebinding can close a loop with a concurrent one.
        risky = session.get(Distributor, user_id) is not None
        if risky:
            _lock_tree(session)
        row = session.get(ReferralBinding, user_id, with_for_update=True)
        current = (
            CurrentBinding(row.upline_id, row.bound_at, row.expires_at) if row else None
        )
        request = BindingRequest(
            user_id=user_id,
            upline_id=upline_id,
            source=source,
            upline_status=upline.status if upline else None,
            creates_cycle=risky and has_downline(session, user_id)
            and is_above(session, user_id, upline_id),
        )
        decision = decide_binding(request, current, rules.binding_mode, rules.binding_days, now)
        name = upline_user.nickname
        if decision.outcome == "refuse":
            code = Refusal(decision.reason)
            raise BindingRefused(code, _MESSAGES[code])
        previous = current.upline_id if current else None
        if not decision.changes:
            return BindResult(False, previous, previous, name if previous == upline_id else "",
                              decision.reason)
        if row is None:
            session.add(ReferralBinding(user_id=user_id, upline_id=upline_id, source=str(source),
                                        scene=scene, bound_at=now,
                                        expires_at=decision.expires_at))
        else:
            row.upline_id = upline_id
            row.source = str(source)
            row.scene = scene
            row.bound_at = now
            row.expires_at = decision.expires_at
        session.flush()
        audit(session, actor_id if actor_id is not None else user_id, "referral.bound", "user",
              user_id, source=str(source), scene=scene, previous_upline_id=previous,
              upline_id=upline_id, rule=decision.reason, reason=reason,
              expires_at=decision.expires_at.isoformat() if decision.expires_at else None)
        return BindResult(True, upline_id, previous, name, decision.reason)


def record_refusal(session: DbSession, user_id: int, source: BindingSource, scene: str,
                   refusal: BindingRefused) -> None:
    """Keep a refused attempt in the audit log (self, cycle, inactive distributor)."""
    with unit_of_work(session):
        audit(session, user_id, "referral.bind_refused", "user", user_id, source=str(source),
              scene=scene[:MAX_SCENE], refusal=str(refusal.code))


def bind_by_scene(session: DbSession, user_id: int, scene: str) -> BindResult:
    """Bind after a QR scan ("qrscene_dist_42" on subscribe, "dist_42" on SCAN)."""
    upline_id = distributor_in_scene(scene)
    if upline_id is None:
        raise InvalidInput("not a distributor's QR code", field="scene")
    return bind(session, user_id, upline_id, BindingSource.QR, scene=scene)


def bind_by_invite_code(
    session: DbSession, user_id: int, code_text: str, source: BindingSource,
) -> BindResult:
    """Bind by an invite code typed in the chat or carried by a share link."""
    code = normalise_invite_code(code_text)
    if code is None:
        raise InvalidInput("that is not an invite code (8 letters and digits)", field="code")
    upline_id = session.scalar(select(Distributor.user_id).where(Distributor.invite_code == code))
    if upline_id is None:
        raise NotFound("no distributor has this invite code")
    return bind(session, user_id, upline_id, source, scene=code)


def move_user(
    session: DbSession, actor: Actor, user_id: int, upline_id: int | None, reason: str,
) -> BindResult:
    """An operator moves a user, with everyone under them, to a new upline (or to none).

    Audited with the reason; a move into the user's own team is refused (no cycle).
    """
    actor.require(Role.OPERATOR)
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise InvalidInput(f"a reason of 1 to {MAX_REASON} characters is required",
                           field="reason")
    if upline_id is not None:
        return bind(session, user_id, upline_id, BindingSource.OPERATOR,
                    actor_id=actor.user_id, reason=reason)
    with unit_of_work(session):
        if session.get(User, user_id) is None:
            raise NotFound("no such user")
        row = session.get(ReferralBinding, user_id, with_for_update=True)
        if row is None:
            return BindResult(False, None, None, reason="not bound")
        previous = row.upline_id
        session.delete(row)
        audit(session, actor.user_id, "referral.bound", "user", user_id,
              source=str(BindingSource.OPERATOR), scene="", previous_upline_id=previous,
              upline_id=None, rule="operator", reason=reason, expires_at=None)
        return BindResult(True, None, previous, reason="operator")
