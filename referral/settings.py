"""The operator's referral settings: read them, change them within the guardrails."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from core.actors import Actor
from core.bounds import MAX_AMOUNT_FEN, MAX_BINDING_DAYS
from core.clock import utcnow
from core.errors import InvalidInput
from core.journal import audit
from core.models import ReferralSettings, Role
from core.uow import DbSession, unit_of_work
from referral.domain.guardrails import (
    DEFAULT_LEVELS,
    GuardrailError,
    check_levels,
    check_no_entry_fee,
)
from referral.domain.rules import BindingMode, Eligibility, InactiveUpline


@dataclass(frozen=True)
class ReferralRules:
    """The settings as plain values (what the services and the pure rules take)."""

    eligibility: Eligibility = Eligibility.MANUAL
    eligibility_spend_fen: int = 0
    binding_mode: BindingMode = BindingMode.FIRST_TOUCH
    binding_days: int | None = None
    levels: int = DEFAULT_LEVELS
    three_levels_acknowledged: bool = False
    inactive_upline: InactiveUpline = InactiveUpline.SKIP

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {key: (str(value) if isinstance(value, str) else value)
                for key, value in asdict(self).items()}


def _rules(row: ReferralSettings | None) -> ReferralRules:
    if row is None:
        return ReferralRules()
    return ReferralRules(
        eligibility=Eligibility(row.eligibility),
        eligibility_spend_fen=row.eligibility_spend_fen,
        binding_mode=BindingMode(row.binding_mode),
        binding_days=row.binding_days,
        levels=row.levels,
        three_levels_acknowledged=row.three_levels_acknowledged,
        inactive_upline=InactiveUpline(row.inactive_upline),
    )


def current_rules(session: DbSession) -> ReferralRules:
    """The settings in force (the defaults until an operator saves any)."""
    return _rules(session.get(ReferralSettings, 1))


def _whole(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{name} must be a whole number from {low} to {high}", field=name)
    return value


def _choice(name: str, value: object, kind: type[Any]) -> Any:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(str(member) for member in kind)
        raise InvalidInput(f"{name} must be one of: {allowed}", field=name) from None


def checked_rules(changes: Mapping[str, object], base: ReferralRules) -> ReferralRules:
    """``base`` with ``changes`` applied, if the result obeys every rule and guardrail."""
    try:
        check_no_entry_fee(changes)
    except GuardrailError as exc:
        raise InvalidInput(str(exc)) from None
    known = set(ReferralRules.__dataclass_fields__)
    unknown = sorted(set(changes) - known)
    if unknown:
        raise InvalidInput("unknown settings: " + ", ".join(unknown))
    values = asdict(base) | dict(changes)
    eligibility = _choice("eligibility", values["eligibility"], Eligibility)
    mode = _choice("binding_mode", values["binding_mode"], BindingMode)
    inactive = _choice("inactive_upline", values["inactive_upline"], InactiveUpline)
    spend = _whole("eligibility_spend_fen", values["eligibility_spend_fen"], 0,
                   MAX_AMOUNT_FEN)
    if eligibility is Eligibility.SPEND and spend <= 0:
        raise InvalidInput("the spend rule needs eligibility_spend_fen above 0")
    days = values["binding_days"]
    if mode is BindingMode.FIRST_TOUCH_EXPIRING:
        days = _whole("binding_days", days, 1, MAX_BINDING_DAYS)
    elif days is not None:
        days = _whole("binding_days", days, 1, MAX_BINDING_DAYS)
    acknowledged = values["three_levels_acknowledged"]
    if not isinstance(acknowledged, bool):
        raise InvalidInput("three_levels_acknowledged must be true or false")
    try:
        levels = check_levels(values["levels"], acknowledged)
    except GuardrailError as exc:
        raise InvalidInput(str(exc), field="levels") from None
    return ReferralRules(eligibility, spend, mode, days, levels, acknowledged, inactive)


def change_rules(session: DbSession, actor: Actor, changes: Mapping[str, object]) -> ReferralRules:
    """Save new settings (operators only); the change and the old values are audited."""
    actor.require(Role.OPERATOR)
    with unit_of_work(session):
        row = session.get(ReferralSettings, 1, with_for_update=True)
        before = _rules(row)
        after = checked_rules(changes, before)
        if row is None:
            row = ReferralSettings(id=1)
            session.add(row)
        for key, value in asdict(after).items():
            setattr(row, key, str(value) if isinstance(value, str) else value)
        row.updated_at = utcnow()
        row.updated_by = actor.user_id
        audit(session, actor.user_id, "referral.settings_changed", "referral_settings", 1,
              before=before.as_dict(), after=after.as_dict())
    return after
