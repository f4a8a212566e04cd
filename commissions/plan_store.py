"""Commission plan versions in the database: the active one, and saving a new one.

Saving never edits a version: it adds version n + 1, which applies to orders
paid from then on; paid orders keep the version they were split by.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from commissions.plans import PlanError, PlanVersion
from core.actors import Actor
from core.bounds import MAX_RETURN_WINDOW_DAYS, is_whole
from core.errors import Conflict, InvalidInput
from core.journal import audit
from core.models import CommissionPlanVersion, Role
from core.uow import DbSession, unit_of_work

log = logging.getLogger(__name__)

# Until an operator saves a plan: 10 % and 5 % of the margin on two levels.
DEFAULT_PLAN = PlanVersion((1000, 500))
_TABLES = ("category_rates_bp", "product_rates_bp", "tier_rates_bp")
_FIELDS = ("rates_bp", "levels", "base", "cap_bp", *_TABLES, "self_purchase_earns",
           "return_window_days", "three_levels_acknowledged")


@dataclass(frozen=True)
class ActivePlan:
    """The plan version in force: its id (None for the built-in default) and rules."""

    version_id: int | None
    version: int
    plan: PlanVersion


def rules_of(plan: PlanVersion) -> dict[str, Any]:
    """A plan as JSON-ready values (table keys become strings, as JSON requires)."""
    out: dict[str, Any] = {}
    for name in _FIELDS:
        value = getattr(plan, name)
        if name in _TABLES:
            value = {str(key): list(rates) for key, rates in value.items()}
        elif name == "rates_bp":
            value = list(value)
        out[name] = value
    return out


def plan_from_rules(rules: Mapping[str, Any]) -> PlanVersion:
    """Build (and so validate) a plan from JSON-like values; PlanError lists the problems."""
    unknown = sorted(set(rules) - set(_FIELDS))
    if unknown:
        raise PlanError([f"unknown plan setting: {name}" for name in unknown])
    if "rates_bp" not in rules:
        raise PlanError(["rates_bp is required"])
    values = dict(rules)
    for name in _TABLES:
        table = values.get(name)
        if table is None:
            continue
        if not isinstance(table, Mapping):
            raise PlanError([f"{name} must map ids or tier codes to rates"])
        converted: dict[Any, Any] = {}
        for key, rates in table.items():
            if name == "tier_rates_bp":
                converted[str(key)] = rates
            elif isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
                converted[int(key)] = rates
            else:
                raise PlanError([f"{name}: {key!r} is not an id"])
        values[name] = converted
    try:
        return PlanVersion(**values)
    except TypeError as exc:  # e.g. a list where a number belongs
        raise PlanError([str(exc)]) from None


def stored_plan(version_id: int, rules: Mapping[str, Any]) -> PlanVersion:
    """The plan of a saved version, as the money paths read it.

    Versions saved before the return window had an upper bound may hold any whole
    number of days there. Such a window is read as the longest one allowed, so no
    date computed from it can overflow and a pay notify or a receipt confirmation
    never fails on an old version; saving a new version still refuses it.
    """
    window = rules.get("return_window_days")
    if is_whole(window) and window > MAX_RETURN_WINDOW_DAYS:
        log.warning("plan version %s: return window of %s days read as %s", version_id,
                    window if window.bit_length() <= 64 else "(huge)", MAX_RETURN_WINDOW_DAYS)
        rules = {**rules, "return_window_days": MAX_RETURN_WINDOW_DAYS}
    return plan_from_rules(rules)


def active_plan(session: DbSession) -> ActivePlan:
    """The newest saved version, or the built-in default when none was saved."""
    row = session.scalar(
        select(CommissionPlanVersion).order_by(CommissionPlanVersion.version.desc()).limit(1)
    )
    if row is None:
        return ActivePlan(None, 0, DEFAULT_PLAN)
    return ActivePlan(row.id, row.version, stored_plan(row.id, row.rules))


def plan_version(session: DbSession, version_id: int | None) -> PlanVersion:
    """The rules of a stored version (None: the built-in default)."""
    if version_id is None:
        return DEFAULT_PLAN
    row = session.get(CommissionPlanVersion, version_id)
    if row is None:
        raise InvalidInput(f"no plan version {version_id}")
    return stored_plan(row.id, row.rules)


def save_plan(
    session: DbSession, actor: Actor, rules: Mapping[str, Any], note: str = "",
) -> CommissionPlanVersion:
    """Validate and store a new plan version (operators only); audited."""
    actor.require(Role.OPERATOR)
    try:
        plan = plan_from_rules(rules)
    except PlanError as exc:
        raise InvalidInput("the plan breaks the rules", problems=list(exc.problems)) from None
    try:
        with unit_of_work(session):
            latest = session.scalar(select(func.max(CommissionPlanVersion.version))) or 0
            row = CommissionPlanVersion(version=latest + 1, rules=rules_of(plan),
                                        note=note.strip()[:200], created_by=actor.user_id)
            session.add(row)
            session.flush()
            audit(session, actor.user_id, "commission_plan.saved", "commission_plan",
                  row.version, rules=row.rules, note=row.note)
    except IntegrityError:
        raise Conflict("another plan version was saved at the same moment; try again") from None
    return row
