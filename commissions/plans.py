"""Commission plan versions: the rules a paid order line is split by, validated when built.

A :class:`PlanVersion` is one immutable version of the operator's commission
plan. Editing a plan makes a new version; an order is always split by the
version that was active when it was paid. Building a ``PlanVersion`` validates
it, so an invalid plan cannot exist: every problem found is reported at once in
one :class:`PlanError`.

Rules (where issue 5 is silent, these are the decisions):

- **Levels** 1..3, default 2; 3 only with ``three_levels_acknowledged=True``
  (compliance guardrail, as in ``referral.domain.guardrails``); never more.
- **Rates** are integer basis points (0..10 000), one per level, applied to the
  line's **base**: ``"paid"`` (what the buyer paid for the line) or
  ``"margin"`` (paid − supply cost, the default).
- **Which rate a level earns** on a line, first match wins:
  1. the product's override, 2. the category's override, 3. the rates of the
  tier held by the chain member at that level, 4. the plan's default rates.
  Overrides beat tiers because an override states what a product or category
  can afford (typically a thin-margin item paying less); a tier is a reward on
  the standard rates, not a way around a product's economics. An override or
  a tier gives the rates of every level; a tier the plan does not list, or no
  tier, earns the default rates.
- **Cap** (``cap_bp``, 0..10 000, default 10 000): the commissions of one line
  never add up to more than ``floor(cap_bp × margin / 10 000)``.
  *What saving guarantees*: the highest rates any line can combine (per level
  the highest of the default and every tier, or any one override) add up to at
  most ``cap_bp``. With base ``"margin"`` this proves the cap can never bind.
  With base ``"paid"`` no plan with a positive rate could be proven safe (a
  line with a 1-fen margin would break any cap), so saving only guarantees the
  cap holds for lines without supply cost; for the rest, the split scales the
  line's commissions down pro rata to fit the cap (see ``commissions.split``).
  The split enforces the cap on every line whatever the plan says.
- **Self-purchase** (``self_purchase_earns``, default False): when the buyer is
  a member of their own chain, the buyer's level is *forfeited*, not skipped:
  it pays nobody (the money stays with the platform) and the other members keep
  their levels and rates. Skipping would move a deeper ancestor into a paid
  level, which the compliance limit on levels is meant to prevent.
- **Return window** (``return_window_days``, integer 0..365, default 7, China's
  seven-day no-reason return): how long after completion commission stays
  pending before settlement may make it available. The upper bound keeps every
  date computed from it (``completed_at + window``) far inside what a datetime
  can hold.
- Ids in the override tables are row ids (1..2**31 - 1); tier codes are text
  of 1..32 characters (``core.bounds`` holds every limit).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from core.bounds import MAX_ID, MAX_LEVELS, MAX_RETURN_WINDOW_DAYS, text_problem
from core.money import FULL_RATE_BP, is_int

BASE_PAID = "paid"
BASE_MARGIN = "margin"
BASES = (BASE_PAID, BASE_MARGIN)
DEFAULT_LEVELS = 2
DEFAULT_RETURN_WINDOW_DAYS = 7

MAX_TIER_CODE = 32  # the tier code column's length

Rates = tuple[int, ...]


class PlanError(ValueError):
    """A plan that breaks the rules; ``problems`` lists every reason, each safe to show."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class PlanVersion:
    """One version of a commission plan (see the module docstring for the rules).

    ``rates_bp`` has one rate per level (index 0 = level 1). The override and
    tier tables map a category id, product id or tier code to such a tuple.
    Sequences given as lists are frozen into tuples, and tables are copied, so
    later changes to the caller's objects cannot reach a validated plan.
    """

    rates_bp: Rates
    levels: int = DEFAULT_LEVELS
    base: str = BASE_MARGIN
    cap_bp: int = FULL_RATE_BP
    category_rates_bp: Mapping[int, Rates] = field(default_factory=dict, hash=False)
    product_rates_bp: Mapping[int, Rates] = field(default_factory=dict, hash=False)
    tier_rates_bp: Mapping[str, Rates] = field(default_factory=dict, hash=False)
    self_purchase_earns: bool = False
    return_window_days: int = DEFAULT_RETURN_WINDOW_DAYS
    three_levels_acknowledged: bool = False

    def __post_init__(self) -> None:
        # Frozen dataclass: normalise through object.__setattr__, before validating.
        object.__setattr__(self, "rates_bp", _frozen_rates(self.rates_bp))
        for name in ("category_rates_bp", "product_rates_bp", "tier_rates_bp"):
            object.__setattr__(self, name, _frozen_table(getattr(self, name)))
        problems = _problems(self)
        if problems:
            raise PlanError(problems)

    def rate_bp(self, level: int, *, product_id: int, category_id: int | None,
                tier: str | None) -> int:
        """The rate level ``level`` earns on a line of this product and category, for a
        chain member holding ``tier``: product override, else category override, else
        the tier's rates, else the default. Levels the plan does not pay earn 0."""
        if not 1 <= level <= self.levels:
            return 0
        if product_id in self.product_rates_bp:
            rates = self.product_rates_bp[product_id]
        elif category_id is not None and category_id in self.category_rates_bp:
            rates = self.category_rates_bp[category_id]
        elif tier is not None and tier in self.tier_rates_bp:
            rates = self.tier_rates_bp[tier]
        else:
            rates = self.rates_bp
        return rates[level - 1]

    def max_total_rate_bp(self) -> int:
        """The highest sum of rates any one line can combine over all its levels."""
        return max(total for _, total in _rate_combinations(self))


def _frozen_rates(value: object) -> object:
    return tuple(value) if isinstance(value, list | tuple) else value


def _frozen_table(value: object) -> object:
    if isinstance(value, Mapping):
        return {key: _frozen_rates(rates) for key, rates in value.items()}
    return value


def _problems(plan: PlanVersion) -> list[str]:
    problems: list[str] = []
    levels_ok = is_int(plan.levels) and 1 <= plan.levels <= MAX_LEVELS
    if not levels_ok:
        problems.append(f"levels must be 1, 2 or 3 (got {_shown(plan.levels)})")
    for flag in ("three_levels_acknowledged", "self_purchase_earns"):
        if not isinstance(getattr(plan, flag), bool):
            problems.append(f"{flag} must be true or false (got {_shown(getattr(plan, flag))})")
    if levels_ok and plan.levels == MAX_LEVELS and plan.three_levels_acknowledged is not True:
        problems.append("3 levels are allowed only with three_levels_acknowledged set "
                        "(compliance guardrail: 2 by default, 3 at most)")
    if plan.base not in BASES:
        problems.append(f"base must be 'paid' or 'margin' (got {_shown(plan.base)})")
    if not (is_int(plan.cap_bp) and 0 <= plan.cap_bp <= FULL_RATE_BP):
        problems.append(f"cap_bp must be a whole number of basis points from 0 to "
                        f"{FULL_RATE_BP} (got {_shown(plan.cap_bp)})")
    if not (is_int(plan.return_window_days)
            and 0 <= plan.return_window_days <= MAX_RETURN_WINDOW_DAYS):
        problems.append(f"return_window_days must be a whole number of days from 0 to "
                        f"{MAX_RETURN_WINDOW_DAYS} (got {_shown(plan.return_window_days)})")
    levels = plan.levels if levels_ok else None
    problems += _rates_problems("rates_bp", plan.rates_bp, levels)
    problems += _table_problems("category_rates_bp", plan.category_rates_bp, levels, "category")
    problems += _table_problems("product_rates_bp", plan.product_rates_bp, levels, "product")
    problems += _table_problems("tier_rates_bp", plan.tier_rates_bp, levels, "tier")
    # The cap can only be checked on rates that are themselves sound.
    if not problems:
        for source, total in _rate_combinations(plan):
            if total > plan.cap_bp:
                problems.append(f"{source} can add up to {total} bp on one line, over the "
                                f"cap of {plan.cap_bp} bp")
    return problems


def _rates_problems(name: str, rates: object, levels: int | None) -> list[str]:
    if not isinstance(rates, tuple):
        return [f"{name} must be a list of rates in basis points, one per level "
                f"(got {_shown(rates)})"]
    problems: list[str] = []
    if levels is not None and len(rates) != levels:
        problems.append(f"{name} must have one rate per level: {levels} (got {len(rates)})")
    for index, rate in enumerate(rates):
        if not (is_int(rate) and 0 <= rate <= FULL_RATE_BP):
            problems.append(f"{name} level {index + 1}: a rate must be a whole number of basis "
                            f"points from 0 to {FULL_RATE_BP} (got {_shown(rate)})")
    return problems


def _shown(value: object) -> str:
    # Problems are shown to the caller: a huge number or text is cut short, and text
    # that cannot be encoded is shown escaped, so the message itself is always safe.
    if isinstance(value, int) and value.bit_length() > 64:
        return "a number too large"  # repr() of a huge int is slow, or refused outright
    text = ascii(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _table_problems(name: str, table: object, levels: int | None, kind: str) -> list[str]:
    if not isinstance(table, Mapping):
        return [f"{name} must map a {kind} to its rates (got {_shown(table)})"]
    problems: list[str] = []
    for key, rates in table.items():
        if kind == "tier":
            if not (isinstance(key, str) and key.strip() and len(key) <= MAX_TIER_CODE
                    and text_problem(key) is None):
                problems.append(f"{name}: a tier code must be a non-empty text of at most "
                                f"{MAX_TIER_CODE} characters (got {_shown(key)})")
        elif not (is_int(key) and 0 < key <= MAX_ID):
            problems.append(f"{name}: a {kind} id must be a positive whole number, at most "
                            f"{MAX_ID} (got {_shown(key)})")
        problems += _rates_problems(f"{name}[{_shown(key)}]", rates, levels)
    return problems


def _rate_combinations(plan: PlanVersion) -> list[tuple[str, int]]:
    """Every way a line can pick its rates, as (what it is, highest total in bp)."""
    # Without an override, each level may be held by a member of any tier (or none).
    per_level = [max([plan.rates_bp[i], *(rates[i] for rates in plan.tier_rates_bp.values())])
                 for i in range(plan.levels)]
    found = [("the default and tier rates", sum(per_level))]
    found += [(f"the override of category {key}", sum(rates))
              for key, rates in plan.category_rates_bp.items()]
    found += [(f"the override of product {key}", sum(rates))
              for key, rates in plan.product_rates_bp.items()]
    return found
