"""Distributor lifecycle: applying, the operator's decisions, tiers and invite codes."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from core.actors import Actor
from core.bounds import MAX_TIER_RANK, text_problem, within
from core.clock import utcnow
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.journal import announce, audit
from core.models import Distributor, DistributorTier, Order, OrderStatus, Role, User, UserRole
from core.uow import DbSession, unit_of_work
from referral.domain.codes import new_invite_code, normalise_invite_code
from referral.domain.guardrails import GuardrailError, check_tier_criteria
from referral.domain.rules import (
    DistributorStatus,
    Eligibility,
    TransitionRefused,
    next_status,
)
from referral.settings import current_rules

MAX_REASON = 200
_CODE_ATTEMPTS = 8

# Who may use what: the statuses each kind of distributor tool accepts.
ACTIVE_ONLY = frozenset({DistributorStatus.ACTIVE})  # earning tools: code, QR, withdrawing
# The team views: a frozen distributor may still look (and earns nothing).
TEAM_STATUSES = frozenset({DistributorStatus.ACTIVE, DistributorStatus.FROZEN})


class DistributorRefused(Forbidden):
    """The user's distributor status does not allow this; ``status`` is theirs ("" if none)."""

    def __init__(self, message: str, status: str, **details: Any) -> None:
        super().__init__(message, **details)
        self.status = status


class NotADistributor(DistributorRefused):
    """The user never applied to be a distributor."""


class DistributorNotActive(DistributorRefused):
    """The user's distributor record is in a status this needs not (pending, frozen ...)."""


class DistributorRevoked(Conflict):
    """A revoked distributor applied again: only an operator reinstates them."""


def distributor_of(session: DbSession, user_id: int) -> Distributor | None:
    """The user's distributor record, if they ever applied."""
    return session.get(Distributor, user_id)


def require_distributor(
    session: DbSession, user_id: int, allowed: frozenset[DistributorStatus] = ACTIVE_ONLY,
    *, action: str = "do this",
) -> Distributor:
    """The user's distributor record when its status is one of ``allowed``.

    The one eligibility check for every distributor tool (chat, API, withdrawals).
    Raises :class:`NotADistributor` when there is no record and
    :class:`DistributorNotActive` when its status is not allowed; both are
    ``Forbidden`` and say "only <allowed> distributors can <action> (yours: <status>)".
    """
    record = distributor_of(session, user_id)
    status = str(record.status) if record is not None else ""
    if record is not None and record.status in allowed:
        return record
    who = " or ".join(sorted(str(s) for s in allowed))
    message = f"only {who} distributors can {action} (yours: {status or 'none'})"
    if record is None:
        raise NotADistributor(message, status)
    raise DistributorNotActive(message, status)


def require_active_distributor(session: DbSession, user_id: int, *,
                               action: str = "do this") -> Distributor:
    """The user's distributor record if active (see :func:`require_distributor`)."""
    return require_distributor(session, user_id, ACTIVE_ONLY, action=action)


def find_by_invite_code(session: DbSession, text: str) -> Distributor | None:
    """The distributor whose invite code ``text`` is (case and spaces ignored)."""
    code = normalise_invite_code(text)
    if code is None:
        return None
    return session.scalar(select(Distributor).where(Distributor.invite_code == code))


def completed_spend(session: DbSession, user_id: int) -> int:
    """What the user paid for orders that completed, net of refunds, in fen."""
    return int(session.scalar(
        select(func.coalesce(func.sum(Order.total_fen - Order.refunded_fen), 0))
        .where(Order.buyer_id == user_id, Order.completed_at.is_not(None),
               Order.status.in_((OrderStatus.COMPLETED, OrderStatus.PARTIALLY_REFUNDED)))
    ) or 0)


def _grant_role(session: DbSession, user_id: int) -> None:
    user = session.get(User, user_id)
    if user is not None and not user.has_role(Role.DISTRIBUTOR):
        session.add(UserRole(user_id=user_id, role=str(Role.DISTRIBUTOR)))


def _activate(session: DbSession, record: Distributor, actor_id: int | None, why: str) -> None:
    before = record.status
    record.status = DistributorStatus.ACTIVE
    record.decided_at = utcnow()
    record.decided_by = actor_id
    record.status_reason = why
    _grant_role(session, record.user_id)
    audit(session, actor_id, "distributor.approved", "user", record.user_id,
          before=before, reason=why)
    announce(session, "distributor.status_changed", user_id=record.user_id,
             status=str(DistributorStatus.ACTIVE), before=before)


def apply(session: DbSession, user_id: int) -> Distributor:
    """Apply to become a distributor; the operator's eligibility rule decides at once or later.

    Applying again while pending or active changes nothing. A rejected applicant
    may apply again; a revoked distributor may not (an operator reinstates).
    Becoming a distributor never costs anything (a compliance guardrail).
    """
    for _attempt in range(_CODE_ATTEMPTS):
        try:
            return _apply_once(session, user_id)
        except IntegrityError:
            # Two applications racing, or an invite code collision: the next pass
            # sees the winner's row or draws a new code.
            continue
    raise Conflict("could not allocate an invite code; try again")


def _apply_once(session: DbSession, user_id: int) -> Distributor:
    with unit_of_work(session):
        if session.get(User, user_id) is None:
            raise NotFound("no such user")
        rules = current_rules(session)
        record = session.get(Distributor, user_id, with_for_update=True)
        if record is not None and record.status == DistributorStatus.REVOKED:
            raise DistributorRevoked(
                "your distributor status was revoked; please contact the operator")
        if record is not None and record.status != DistributorStatus.REJECTED:
            return record
        if record is None:
            record = Distributor(user_id=user_id, status=DistributorStatus.PENDING,
                                 invite_code=new_invite_code())
            session.add(record)
        else:
            record.status = DistributorStatus.PENDING
            record.applied_at = utcnow()
        session.flush()
        audit(session, user_id, "distributor.applied", "user", user_id,
              eligibility=str(rules.eligibility))
        if rules.eligibility is Eligibility.EVERYONE:
            _activate(session, record, None, "everyone may distribute")
        elif rules.eligibility is Eligibility.SPEND and (
            completed_spend(session, user_id) >= rules.eligibility_spend_fen
        ):
            _activate(session, record, None, "spend threshold reached")
        return record


def approve_on_spend(session: DbSession, user_id: int) -> bool:
    """Approve a pending application once the spend threshold is reached (after completion)."""
    with unit_of_work(session):
        rules = current_rules(session)
        if rules.eligibility is not Eligibility.SPEND:
            return False
        record = session.get(Distributor, user_id, with_for_update=True)
        if record is None or record.status != DistributorStatus.PENDING:
            return False
        if completed_spend(session, user_id) < rules.eligibility_spend_fen:
            return False
        _activate(session, record, None, "spend threshold reached")
        return True


def decide(
    session: DbSession, actor: Actor, user_id: int, action: str, reason: str = "",
) -> Distributor:
    """An operator's decision: approve, reject, freeze, unfreeze, revoke or reinstate."""
    actor.require(Role.OPERATOR)
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"reason: at most {MAX_REASON} characters", field="reason")
    if action in ("reject", "freeze", "revoke") and not reason:
        raise InvalidInput(f"a reason is required to {action}", field="reason")
    with unit_of_work(session):
        record = session.get(Distributor, user_id, with_for_update=True)
        if record is None:
            raise NotFound("no distributor record for this user")
        try:
            after = next_status(record.status, action)
        except TransitionRefused as exc:
            raise Conflict(str(exc)) from None
        if after is DistributorStatus.ACTIVE:
            _activate(session, record, actor.user_id, reason)
            return record
        before = record.status
        record.status = after
        if after is DistributorStatus.REVOKED:
            # Revoked is the end of distributing: the role goes too (reinstating grants it
            # again); a frozen distributor keeps it and may still look at their team.
            session.execute(delete(UserRole).where(UserRole.user_id == user_id,
                                                   UserRole.role == str(Role.DISTRIBUTOR)))
        record.decided_at = utcnow()
        record.decided_by = actor.user_id
        record.status_reason = reason
        audit(session, actor.user_id, f"distributor.{action}", "user", user_id,
              before=before, after=str(after), reason=reason)
        announce(session, "distributor.status_changed", user_id=user_id, status=str(after),
                 before=before)
        return record


# -- tiers ------------------------------------------------------------------------------


def list_tiers(session: DbSession) -> list[DistributorTier]:
    """Every tier, lowest rank first."""
    return list(session.scalars(select(DistributorTier).order_by(DistributorTier.rank)))


def _tier_values(values: Mapping[str, Any]) -> dict[str, Any]:
    criteria = {k: v for k, v in values.items() if k not in ("code", "name", "rank")}
    try:
        clean: dict[str, Any] = check_tier_criteria(criteria)
    except GuardrailError as exc:
        raise InvalidInput(str(exc)) from None
    for key in ("code", "name"):
        if key in values:
            text = str(values[key]).strip()
            if not text or len(text) > (32 if key == "code" else 64):
                raise InvalidInput(f"{key}: 1 to {32 if key == 'code' else 64} characters",
                                   field=key)
            problem = text_problem(text)
            if problem:
                raise InvalidInput(f"{key}: {problem}", field=key)
            clean[key] = text
    if "rank" in values:
        rank = values["rank"]
        if not within(rank, 1, MAX_TIER_RANK):
            raise InvalidInput(f"rank must be a whole number from 1 to {MAX_TIER_RANK}",
                               field="rank")
        clean["rank"] = rank
    return clean


def save_tier(
    session: DbSession, actor: Actor, values: Mapping[str, Any], tier_id: int | None = None,
) -> DistributorTier:
    """Create a tier, or change one; codes and ranks are unique."""
    actor.require(Role.OPERATOR)
    clean = _tier_values(values)
    try:
        with unit_of_work(session):
            if tier_id is None:
                missing = {"code", "name", "rank"} - set(clean)
                if missing:
                    raise InvalidInput("missing: " + ", ".join(sorted(missing)))
                tier = DistributorTier(**clean)
                session.add(tier)
            else:
                found = session.get(DistributorTier, tier_id)
                if found is None:
                    raise NotFound("no such tier")
                tier = found
                for key, value in clean.items():
                    setattr(tier, key, value)
            session.flush()
            audit(session, actor.user_id, "distributor_tier.saved", "distributor_tier", tier.id,
                  **clean)
    except IntegrityError:
        raise Conflict("a tier with this code or rank exists") from None
    return tier


def set_tier(
    session: DbSession, actor: Actor, user_id: int, tier_id: int | None, reason: str,
) -> Distributor:
    """An operator sets a distributor's tier (the only way down); audited with the reason."""
    actor.require(Role.OPERATOR)
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise InvalidInput(f"a reason of 1 to {MAX_REASON} characters is required",
                           field="reason")
    with unit_of_work(session):
        record = session.get(Distributor, user_id, with_for_update=True)
        if record is None:
            raise NotFound("no distributor record for this user")
        tier = None
        if tier_id is not None:
            tier = session.get(DistributorTier, tier_id)
            if tier is None:
                raise NotFound("no such tier")
        before = record.tier.code if record.tier else None
        record.tier_id = tier_id
        record.tier = tier
        audit(session, actor.user_id, "distributor.tier_set", "user", user_id,
              before=before, after=tier.code if tier else None, reason=reason)
        return record
