"""Who may be bound under whom, and how distributor status and tiers change.

Everything here decides from plain values; the services in :mod:`referral`
read those values from the database, ask, and write what was decided.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class BindingSource(StrEnum):
    """How someone came to be bound."""

    QR = "qr"
    LINK = "link"
    INVITE_CODE = "invite_code"
    OPERATOR = "operator"


class BindingMode(StrEnum):
    """The operator's rule for a second touch."""

    FIRST_TOUCH = "first_touch"  # the first distributor keeps the person for good
    FIRST_TOUCH_EXPIRING = "first_touch_expiring"  # ... for N days, then a new touch may rebind
    LAST_TOUCH = "last_touch"  # every new touch rebinds


class Eligibility(StrEnum):
    """Who becomes a distributor on applying."""

    MANUAL = "manual"  # an operator approves each application
    EVERYONE = "everyone"  # approved at once
    SPEND = "spend"  # approved once the applicant's completed purchases reach a threshold


class DistributorStatus(StrEnum):
    """Where a distributor record is in its life."""

    PENDING = "pending"
    ACTIVE = "active"
    FROZEN = "frozen"
    REVOKED = "revoked"
    REJECTED = "rejected"


class InactiveUpline(StrEnum):
    """What a frozen or revoked distributor in a chain means for the levels above."""

    SKIP = "skip"  # the chain closes up: the next active distributor takes the level
    # The level stays theirs and earns nothing: that share stays with the platform.
    FORFEIT = "forfeit"


# Operator decisions on a distributor: action -> (statuses it applies to, status after).
TRANSITIONS: dict[str, tuple[frozenset[DistributorStatus], DistributorStatus]] = {
    "approve": (frozenset({DistributorStatus.PENDING, DistributorStatus.REJECTED}),
                DistributorStatus.ACTIVE),
    "reject": (frozenset({DistributorStatus.PENDING}), DistributorStatus.REJECTED),
    "freeze": (frozenset({DistributorStatus.ACTIVE}), DistributorStatus.FROZEN),
    "unfreeze": (frozenset({DistributorStatus.FROZEN}), DistributorStatus.ACTIVE),
    "revoke": (frozenset({DistributorStatus.ACTIVE, DistributorStatus.FROZEN}),
               DistributorStatus.REVOKED),
    "reinstate": (frozenset({DistributorStatus.REVOKED}), DistributorStatus.ACTIVE),
}


class TransitionRefused(ValueError):
    """The action does not apply to a distributor in this status."""


def next_status(current: str, action: str) -> DistributorStatus:
    """The status ``action`` leads to from ``current``; refuses what does not apply."""
    if action not in TRANSITIONS:
        raise TransitionRefused(f"unknown action {action!r}")
    allowed, after = TRANSITIONS[action]
    if current not in allowed:
        raise TransitionRefused(f"cannot {action} a distributor who is {current}")
    return after


@dataclass(frozen=True)
class CurrentBinding:
    """What a user is bound to now."""

    upline_id: int
    bound_at: datetime
    expires_at: datetime | None

    def live(self, now: datetime) -> bool:
        """True while the binding counts (not past its expiry)."""
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True)
class BindingRequest:
    """Someone asks to bind ``user_id`` under ``upline_id``."""

    user_id: int
    upline_id: int
    source: BindingSource
    upline_status: str | None  # the upline's distributor status; None = not a distributor
    creates_cycle: bool  # the upline is in the user's own downline


@dataclass(frozen=True)
class BindingDecision:
    """What to do: ``bind`` (new or replacing), ``keep`` (nothing changes) or ``refuse``."""

    outcome: str
    reason: str = ""
    expires_at: datetime | None = None

    @property
    def changes(self) -> bool:
        """True when the tree changes."""
        return self.outcome == "bind"


class Refusal(StrEnum):
    """Why a binding is refused (stable codes: the chat and API word them)."""

    SELF = "self"
    CYCLE = "cycle"
    NOT_DISTRIBUTOR = "not_distributor"
    INACTIVE = "distributor_inactive"


def decide_binding(
    request: BindingRequest,
    current: CurrentBinding | None,
    mode: BindingMode,
    binding_days: int | None,
    now: datetime,
) -> BindingDecision:
    """Apply the binding rules: never self, never a cycle, only onto an active distributor.

    A touch on the distributor one is already bound to keeps the binding as it
    is (the same scan delivered twice binds once). An operator's action rebinds
    whatever the mode; anyone else's touch rebinds only as the mode allows.
    """
    if request.user_id == request.upline_id:
        return BindingDecision("refuse", Refusal.SELF)
    if request.upline_status is None:
        return BindingDecision("refuse", Refusal.NOT_DISTRIBUTOR)
    if request.upline_status != DistributorStatus.ACTIVE:
        return BindingDecision("refuse", Refusal.INACTIVE)
    if request.creates_cycle:
        return BindingDecision("refuse", Refusal.CYCLE)
    expires_at = (
        now + timedelta(days=binding_days)
        if mode is BindingMode.FIRST_TOUCH_EXPIRING and binding_days
        and request.source is not BindingSource.OPERATOR
        else None
    )
    if current is None:
        return BindingDecision("bind", "new", expires_at)
    if current.upline_id == request.upline_id and current.live(now):
        return BindingDecision("keep", "already bound")
    if request.source is BindingSource.OPERATOR:
        return BindingDecision("bind", "operator", None)
    if mode is BindingMode.LAST_TOUCH:
        return BindingDecision("bind", "last touch", None)
    if mode is BindingMode.FIRST_TOUCH_EXPIRING and not current.live(now):
        return BindingDecision("bind", "previous binding expired", expires_at)
    return BindingDecision("keep", "first touch")


@dataclass(frozen=True)
class TierRule:
    """A tier and the thresholds that earn it."""

    tier_id: int
    rank: int
    min_own_spend_fen: int = 0
    min_own_sales_fen: int = 0
    min_team_sales_fen: int = 0
    min_completed_orders: int = 0


@dataclass(frozen=True)
class Performance:
    """A distributor's figures, from completed orders net of refunds."""

    own_spend_fen: int = 0
    own_sales_fen: int = 0
    team_sales_fen: int = 0
    completed_orders: int = 0


def earned_tier(rules: Sequence[TierRule], figures: Performance, current_rank: int | None) -> (
    TierRule | None
):
    """The highest tier ``figures`` reach, if it is above the current one (upgrades only)."""
    reached = [
        rule for rule in rules
        if figures.own_spend_fen >= rule.min_own_spend_fen
        and figures.own_sales_fen >= rule.min_own_sales_fen
        and figures.team_sales_fen >= rule.min_team_sales_fen
        and figures.completed_orders >= rule.min_completed_orders
    ]
    if not reached:
        return None
    best = max(reached, key=lambda rule: rule.rank)
    if current_rank is not None and best.rank <= current_rank:
        return None
    return best


@dataclass(frozen=True)
class Ancestor:
    """One distributor above a buyer, as the tree walk found them."""

    user_id: int
    hops: int  # 1 = the buyer's direct upline
    status: str
    tier_code: str | None


@dataclass(frozen=True)
class ChainMember:
    """One level of an attribution chain."""

    level: int  # 0 = the buyer themselves (a distributor buying), 1 = direct upline, ...
    distributor_id: int
    tier_code: str | None
    earns: bool


def attribution_chain(
    ancestors: Sequence[Ancestor], levels: int, rule: InactiveUpline,
    buyer: Ancestor | None = None,
) -> list[ChainMember]:
    """The levels that may earn on a buyer's order, from the ancestors nearest first.

    ``buyer`` is the buyer's own distributor record when they have one: an
    active distributor buying appears as level 0 (whether that earns is the
    commission plan's self-purchase setting). With ``skip``, frozen and revoked
    distributors are passed over and the next active one takes the level; with
    ``forfeit`` they keep their level and earn nothing.
    """
    chain: list[ChainMember] = []
    if buyer is not None and buyer.status == DistributorStatus.ACTIVE:
        chain.append(ChainMember(0, buyer.user_id, buyer.tier_code, True))
    level = 0
    for ancestor in sorted(ancestors, key=lambda a: a.hops):
        if level >= levels:
            break
        active = ancestor.status == DistributorStatus.ACTIVE
        if not active and rule is InactiveUpline.SKIP:
            continue
        level += 1
        chain.append(ChainMember(level, ancestor.user_id, ancestor.tier_code, active))
    return chain
