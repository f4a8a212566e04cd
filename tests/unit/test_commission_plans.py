"""Commission plan versions: rate precedence, the cap guarantee, and every refusal."""
from __future__ import annotations

import ast
import itertools
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from commissions.plans import (
    BASE_MARGIN,
    BASE_PAID,
    PlanError,
    PlanVersion,
)

ROOT = Path(__file__).resolve().parents[2]
PURE_MODULES = ("plans.py", "split.py", "prorata.py", "csv_export.py", "maturity.py")
# The pure stdlib modules of core that the commission rules share with every layer.
PURE_CORE_MODULES = ("core.money", "core.bounds")


def test_defaults_follow_the_guardrails():
    plan = PlanVersion((1000, 500))
    assert plan.levels == 2
    assert plan.base == BASE_MARGIN
    assert plan.cap_bp == 10_000
    assert plan.self_purchase_earns is False
    assert plan.return_window_days == 7
    assert plan.three_levels_acknowledged is False


def test_three_levels_when_acknowledged():
    plan = PlanVersion((1000, 500, 200), levels=3, three_levels_acknowledged=True)
    assert plan.rate_bp(3, product_id=1, category_id=None, tier=None) == 200


def test_lists_are_frozen_and_tables_copied():
    rates = [1000, 500]
    tiers = {"gold": [1500, 500]}
    plan = PlanVersion(rates, tier_rates_bp=tiers)
    rates[0] = 9999
    tiers["gold"][0] = 9999
    tiers["vip"] = [9000, 900]
    assert plan.rates_bp == (1000, 500)
    assert dict(plan.tier_rates_bp) == {"gold": (1500, 500)}
    assert plan == PlanVersion((1000, 500), tier_rates_bp={"gold": (1500, 500)})
    hash(plan)


def test_rate_precedence_product_then_category_then_tier_then_default():
    plan = PlanVersion(
        (1000, 500),
        category_rates_bp={10: (800, 300)},
        product_rates_bp={7: (200, 100)},
        tier_rates_bp={"gold": (1500, 700)},
    )

    def rate(level: int, product: int, category: int | None, tier: str | None) -> int:
        return plan.rate_bp(level, product_id=product, category_id=category, tier=tier)

    assert rate(1, 7, 10, "gold") == 200  # product override beats everything
    assert rate(2, 7, None, None) == 100
    assert rate(1, 8, 10, "gold") == 800  # category override beats the tier
    assert rate(1, 8, 11, "gold") == 1500  # the tier replaces the default
    assert rate(2, 8, None, "gold") == 700
    assert rate(1, 8, 11, "unknown") == 1000  # a tier the plan does not list: default
    assert rate(1, 8, None, None) == 1000
    assert rate(3, 8, None, None) == 0  # a level the plan does not pay
    assert rate(0, 8, None, None) == 0


def test_max_total_rate_combines_the_highest_rate_of_each_level():
    plan = PlanVersion((1000, 500), tier_rates_bp={"a": (1500, 100), "b": (900, 800)},
                       category_rates_bp={1: (2000, 0)})
    assert plan.max_total_rate_bp() == 2300  # 1500 (tier a) + 800 (tier b)


def test_paid_base_within_the_cap_is_accepted():
    plan = PlanVersion((3000, 2000), base=BASE_PAID, cap_bp=5000)
    assert plan.base == BASE_PAID


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"levels": 0, "rates_bp": ()}, "levels must be 1, 2 or 3"),
        ({"levels": 4, "rates_bp": (1, 1, 1, 1)}, "levels must be 1, 2 or 3"),
        ({"levels": True, "rates_bp": (1,)}, "levels must be 1, 2 or 3"),
        ({"levels": 2.0}, "levels must be 1, 2 or 3"),
        ({"levels": 3, "rates_bp": (1, 1, 1)}, "three_levels_acknowledged"),
        ({"levels": 3, "rates_bp": (1, 1, 1), "three_levels_acknowledged": 1},
         "three_levels_acknowledged must be true or false"),
        ({"self_purchase_earns": "yes"}, "self_purchase_earns must be true or false"),
        ({"base": "gross"}, "base must be 'paid' or 'margin'"),
        ({"cap_bp": -1}, "cap_bp must be"),
        ({"cap_bp": 10_001}, "cap_bp must be"),
        ({"cap_bp": True}, "cap_bp must be"),
        ({"cap_bp": 5000.0}, "cap_bp must be"),
        ({"return_window_days": -1}, "return_window_days must be"),
        ({"return_window_days": 7.5}, "return_window_days must be"),
        ({"return_window_days": False}, "return_window_days must be"),
        ({"rates_bp": (1000,)}, "one rate per level: 2 \\(got 1\\)"),
        ({"rates_bp": (1000, 500, 100)}, "one rate per level: 2 \\(got 3\\)"),
        ({"rates_bp": (-1, 500)}, "level 1: a rate must be"),
        ({"rates_bp": (1000, 10_001)}, "level 2: a rate must be"),
        ({"rates_bp": (10.5, 500)}, "level 1: a rate must be"),
        ({"rates_bp": (True, 500)}, "level 1: a rate must be"),
        ({"rates_bp": (Decimal(1000), 500)}, "level 1: a rate must be"),
        ({"rates_bp": 1000}, "rates_bp must be a list"),
        ({"rates_bp": "1000"}, "rates_bp must be a list"),
        ({"category_rates_bp": {0: (1, 1)}}, "category id must be a positive"),
        ({"category_rates_bp": {"shoes": (1, 1)}}, "category id must be a positive"),
        ({"product_rates_bp": {True: (1, 1)}}, "product id must be a positive"),
        ({"product_rates_bp": {5: (1,)}}, "product_rates_bp\\[5\\] must have one rate"),
        ({"product_rates_bp": {5: (1, -2)}}, "product_rates_bp\\[5\\] level 2"),
        ({"product_rates_bp": [(5, (1, 1))]}, "product_rates_bp must map a product"),
        ({"tier_rates_bp": {"": (1, 1)}}, "tier code must be a non-empty text"),
        ({"tier_rates_bp": {3: (1, 1)}}, "tier code must be a non-empty text"),
        ({"tier_rates_bp": {"gold": (1, 1.5)}}, "tier_rates_bp\\['gold'\\] level 2"),
        ({"rates_bp": (6000, 5000)}, "default and tier rates can add up to 11000 bp"),
        ({"cap_bp": 1400}, "default and tier rates can add up to 1500 bp.*cap of 1400"),
        ({"tier_rates_bp": {"gold": (9000, 1000)}, "cap_bp": 9999},
         "default and tier rates can add up to 10000 bp"),
        # The highest rate of each level may come from different tiers.
        ({"tier_rates_bp": {"a": (5000, 0), "b": (0, 5001)}},
         "default and tier rates can add up to 10001 bp"),
        ({"category_rates_bp": {3: (3000, 2001)}, "cap_bp": 5000}, "category 3 can add up"),
        ({"product_rates_bp": {9: (5000, 5000)}, "base": "paid", "cap_bp": 9000},
         "product 9 can add up to 10000 bp"),
    ],
)
def test_refused_plans(kwargs, message):
    arguments = {"rates_bp": (1000, 500), **kwargs}
    with pytest.raises(PlanError, match=message) as caught:
        PlanVersion(**arguments)
    assert isinstance(caught.value, ValueError)


def test_every_problem_is_reported_at_once():
    with pytest.raises(PlanError) as caught:
        PlanVersion((1.5, 500), base="gross", cap_bp=-5,
                    return_window_days=-1, tier_rates_bp={"": (1, 1)})
    assert len(caught.value.problems) == 5
    assert str(caught.value) == "; ".join(caught.value.problems)


# -- the cap guarantee, against a brute-force enumeration of every line a plan can meet

TIERS = ("silver", "gold", "vip")
rates = st.one_of(st.integers(0, 2000), st.integers(0, 10_000))


@st.composite
def plan_arguments(draw):
    levels = draw(st.integers(1, 3))
    vector = st.tuples(*[rates] * levels)
    return {
        "levels": levels,
        "three_levels_acknowledged": True,
        "base": draw(st.sampled_from((BASE_PAID, BASE_MARGIN))),
        "cap_bp": draw(st.one_of(st.just(10_000), st.integers(0, 10_000))),
        "rates_bp": draw(vector),
        "tier_rates_bp": draw(st.dictionaries(st.sampled_from(TIERS), vector, max_size=3)),
        "category_rates_bp": draw(st.dictionaries(st.integers(1, 3), vector, max_size=2)),
        "product_rates_bp": draw(st.dictionaries(st.integers(1, 3), vector, max_size=2)),
    }


def _brute_force_highest_total(args) -> int:
    """Resolve every level for every possible line and chain, the slow and obvious way."""
    levels = args["levels"]
    products = [*args["product_rates_bp"], 99]  # 99: a product without an override
    categories = [*args["category_rates_bp"], None]
    highest = 0
    for product, category in itertools.product(products, categories):
        for tiers in itertools.product([None, "other", *args["tier_rates_bp"]], repeat=levels):
            total = 0
            for level, tier in enumerate(tiers):
                if product in args["product_rates_bp"]:
                    total += args["product_rates_bp"][product][level]
                elif category in args["category_rates_bp"]:
                    total += args["category_rates_bp"][category][level]
                elif tier in args["tier_rates_bp"]:
                    total += args["tier_rates_bp"][tier][level]
                else:
                    total += args["rates_bp"][level]
            highest = max(highest, total)
    return highest


@settings(max_examples=300, deadline=None)
@given(plan_arguments())
def test_a_plan_is_accepted_exactly_when_no_line_can_exceed_its_cap(args):
    highest = _brute_force_highest_total(args)
    event("refused" if highest > args["cap_bp"] else "accepted")
    if highest > args["cap_bp"]:
        with pytest.raises(PlanError, match="over the cap"):
            PlanVersion(**args)
    else:
        plan = PlanVersion(**args)
        assert plan.max_total_rate_bp() == highest


# -- layering: the pure commission modules use the standard library only


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("name", PURE_MODULES)
def test_pure_commission_modules_import_only_the_standard_library(name):
    modules = _imported_modules(ROOT / "commissions" / name)
    foreign = {module for module in modules
               if module.split(".")[0] not in sys.stdlib_module_names
               and module.split(".")[0] != "commissions"
               and module not in PURE_CORE_MODULES
               and module != "__future__"}
    assert not foreign, f"commissions/{name} imports {sorted(foreign)}"
    # Inside the package, only the other pure modules.
    siblings = {module.split(".")[1] + ".py" for module in modules
                if module.startswith("commissions.")}
    assert siblings <= set(PURE_MODULES)


@pytest.mark.parametrize("name", PURE_CORE_MODULES)
def test_the_shared_pure_core_modules_import_only_the_standard_library(name):
    path = ROOT / (name.replace(".", "/") + ".py")
    foreign = {module for module in _imported_modules(path)
               if module.split(".")[0] not in sys.stdlib_module_names
               and module not in PURE_CORE_MODULES
               and module != "__future__"}
    assert not foreign, f"{name} imports {sorted(foreign)}"
