"""Compliance guardrails of the referral scheme, enforced in code.

Multi-level distribution is lawful in China only within limits: rewards come
from sales, never from recruiting people or from entry fees, and the chain that
earns on a sale is short. ChatShop pays at most three levels, two by default,
and three only when the operator has explicitly acknowledged it. Every rule
here refuses with :class:`GuardrailError`; tests prove each refusal.
"""
from __future__ import annotations

from collections.abc import Mapping

from core.bounds import MAX_AMOUNT_FEN, MAX_COUNT, within

DEFAULT_LEVELS = 2
MAX_LEVELS = 3

# What a tier may require. Deliberately absent: anything that counts people
# (team size, direct recruits): a tier earned by recruiting is a reward for
# recruiting.
TIER_CRITERIA = ("min_own_spend_fen", "min_own_sales_fen", "min_team_sales_fen",
                 "min_completed_orders")
HEADCOUNT_WORDS = ("recruit", "member", "team_size", "downline", "headcount", "invite", "people")
# Names a setting might take if someone tried to charge people for joining.
ENTRY_FEE_WORDS = ("fee", "deposit", "entry_price", "join_price", "membership_price")


class GuardrailError(ValueError):
    """A setting the compliance guardrails refuse; the message says why."""


def check_levels(levels: object, three_levels_acknowledged: bool) -> int:
    """The number of paid levels, if allowed: 1..3, and 3 only when acknowledged."""
    if isinstance(levels, bool) or not isinstance(levels, int):
        raise GuardrailError("levels must be a whole number")
    if levels < 1:
        raise GuardrailError("levels must be at least 1")
    if levels > MAX_LEVELS:
        raise GuardrailError(f"at most {MAX_LEVELS} levels may earn commission")
    if levels == MAX_LEVELS and not three_levels_acknowledged:
        raise GuardrailError(
            "3 levels needs the explicit acknowledgement setting (three_levels_acknowledged)"
        )
    return levels


def check_tier_criteria(criteria: Mapping[str, object]) -> dict[str, int]:
    """Tier thresholds, if every one is a sales figure (never a head count) within bounds."""
    clean: dict[str, int] = {}
    for name, value in criteria.items():
        if name not in TIER_CRITERIA:
            if any(word in name for word in HEADCOUNT_WORDS):
                raise GuardrailError(
                    f"{name}: a tier may not depend on how many people someone brought in"
                )
            raise GuardrailError(f"{name}: unknown tier criterion")
        # Thresholds above any real figure would only overflow the column they go in.
        ceiling = MAX_COUNT if name == "min_completed_orders" else MAX_AMOUNT_FEN
        if not within(value, 0, ceiling):
            raise GuardrailError(f"{name} must be a whole number of "
                                 f"{'orders' if ceiling == MAX_COUNT else 'fen'} "
                                 f"from 0 to {ceiling}")
        clean[name] = value
    return clean


def check_no_entry_fee(settings: Mapping[str, object]) -> None:
    """Refuse any setting that would make becoming a distributor cost money."""
    for name in settings:
        if any(word in name for word in ENTRY_FEE_WORDS):
            raise GuardrailError(f"{name}: becoming a distributor can never cost money")

