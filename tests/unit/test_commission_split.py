"""The split of paid lines and its reversal on refunds: exact to the fen, by example and by law."""
from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commissions.plans import BASE_MARGIN, BASE_PAID, PlanVersion
from commissions.prorata import allocate
from commissions.split import (
    ChainMember,
    LineSplit,
    OrderLine,
    SplitError,
    reversal_after,
    reverse_for_refund,
    split_order,
)

BUYER = 99
TWO_UP = (ChainMember(1, 10), ChainMember(2, 20))


def _amounts(split: LineSplit) -> list[tuple[int, int, int]]:
    return [(c.level, c.distributor_id, c.amount_fen) for c in split.commissions]


def _one(line: OrderLine, chain=TWO_UP, plan=None, buyer=BUYER) -> LineSplit:
    plan = plan or PlanVersion((1000, 500))
    return split_order([line], chain, buyer, plan).lines[0]


# -- worked examples, computed by hand


def test_two_levels_on_margin():
    # margin 3999: 10 % → 399.9 → 399, 5 % → 199.95 → 199, platform 3999 − 598 = 3401.
    split = _one(OrderLine(1, 9999, 6000, product_id=5))
    assert _amounts(split) == [(1, 10, 399), (2, 20, 199)]
    assert [(c.base_fen, c.rate_bp, c.capped) for c in split.commissions] == [
        (3999, 1000, False), (3999, 500, False)]
    assert (split.supplier_fen, split.commission_fen, split.platform_fen) == (6000, 598, 3401)


def test_paid_base_is_scaled_down_to_the_cap():
    # raw 1000 + 500 = 1500 fen, but the cap is 50 % of a 500 fen margin = 250 fen:
    # 1000 × 250 / 1500 = 166.7 → 166, 500 × 250 / 1500 = 83.3 → 83, platform 500 − 249.
    plan = PlanVersion((1000, 500), base=BASE_PAID, cap_bp=5000)
    split = _one(OrderLine(1, 10_000, 9500, product_id=5), plan=plan)
    assert _amounts(split) == [(1, 10, 166), (2, 20, 83)]
    assert all(c.capped and c.base_fen == 10_000 for c in split.commissions)
    assert split.platform_fen == 251


def test_paid_base_under_the_cap_is_untouched():
    plan = PlanVersion((1000, 500), base=BASE_PAID, cap_bp=5000)
    split = _one(OrderLine(1, 10_000, 5000, product_id=5), plan=plan)
    assert _amounts(split) == [(1, 10, 1000), (2, 20, 500)]
    assert split.platform_fen == 3500


def test_tiers_and_overrides():
    plan = PlanVersion((1000, 500), tier_rates_bp={"gold": (2000, 800)},
                       category_rates_bp={3: (300, 100)}, product_rates_bp={8: (0, 50)})
    chain = (ChainMember(1, 10, "gold"), ChainMember(2, 20, "silver"))
    line = OrderLine(1, 2000, 1000, product_id=5)  # margin 1000
    assert _amounts(_one(line, chain, plan)) == [(1, 10, 200), (2, 20, 50)]
    in_category = OrderLine(1, 2000, 1000, product_id=5, category_id=3)
    assert _amounts(_one(in_category, chain, plan)) == [(1, 10, 30), (2, 20, 10)]
    overridden = OrderLine(1, 2000, 1000, product_id=8, category_id=3)
    # Level 1 earns 0 fen under the product override: no commission line at all.
    assert _amounts(_one(overridden, chain, plan)) == [(2, 20, 5)]


def test_self_purchase_forfeits_the_buyers_level():
    chain = (ChainMember(1, BUYER), ChainMember(2, 20))
    line = OrderLine(1, 9999, 6000, product_id=5)
    split = _one(line, chain)
    assert _amounts(split) == [(2, 20, 199)]  # level 2 keeps its level and rate
    assert split.platform_fen == 3999 - 199
    earning = PlanVersion((1000, 500), self_purchase_earns=True)
    assert _amounts(_one(line, chain, earning)) == [(1, BUYER, 399), (2, 20, 199)]


def test_a_member_who_does_not_earn_keeps_the_level_and_is_paid_nothing():
    chain = (ChainMember(1, 10, earns=False), ChainMember(2, 20))
    split = _one(OrderLine(1, 9999, 6000, product_id=5), chain)
    assert _amounts(split) == [(2, 20, 199)]
    assert split.platform_fen == 3999 - 199


def test_only_the_plans_levels_earn_and_an_empty_chain_leaves_all_to_the_platform():
    chain = (ChainMember(3, 30), ChainMember(1, 10), ChainMember(2, 20))
    split = _one(OrderLine(1, 9999, 6000, product_id=5), chain, PlanVersion((1000,), levels=1))
    assert _amounts(split) == [(1, 10, 399)]
    alone = _one(OrderLine(1, 9999, 6000, product_id=5), ())
    assert (alone.commissions, alone.platform_fen) == ((), 3999)


def test_no_margin_no_commission_and_tiny_lines():
    assert _one(OrderLine(1, 5000, 5000, product_id=5)).commissions == ()
    paid_base = PlanVersion((1000, 500), base=BASE_PAID)
    assert _one(OrderLine(1, 5000, 5000, product_id=5), plan=paid_base).platform_fen == 0
    one_fen = _one(OrderLine(1, 1, 0, product_id=5), plan=PlanVersion((10_000,), levels=1))
    assert (_amounts(one_fen), one_fen.platform_fen) == ([(1, 10, 1)], 0)
    free = _one(OrderLine(1, 0, 0, product_id=5))
    assert (free.supplier_fen, free.commissions, free.platform_fen) == (0, (), 0)


def test_order_totals():
    lines = [OrderLine(1, 9999, 6000, product_id=5), OrderLine(2, 500, 100, product_id=6)]
    split = split_order(lines, TWO_UP, BUYER, PlanVersion((1000, 500)))
    assert [line.line_id for line in split.lines] == [1, 2]
    assert (split.paid_fen, split.supplier_fen, split.commission_fen, split.platform_fen) == (
        10_499, 6100, 598 + 40 + 20, 3401 + 340)
    assert len(split.commission_lines) == 4


def test_three_successive_thirds_refund_everything_exactly():
    split = _one(OrderLine(1, 9999, 6000, product_id=5))  # 6000 / 399 + 199 / 3401
    refunds = [reverse_for_refund(split, before, 3333) for before in (0, 3333, 6666)]
    as_rows = [(r.supplier_fen, *(c.amount_fen for c in r.commissions), r.platform_fen)
               for r in refunds]
    # Each third is 2000 / 133 / 66.33 / 1133.67; the leftover fen goes where it is due first.
    assert as_rows == [(2000, 133, 66, 1134), (2001, 133, 66, 1133), (1999, 133, 67, 1134)]
    assert [sum(column) for column in zip(*as_rows, strict=True)] == [6000, 399, 199, 3401]
    assert reversal_after(split, 6666).supplier_fen == 4001


@pytest.mark.parametrize(
    "line, message",
    [
        (OrderLine(1, 100, 120, 5), "less than its supply cost"),
        (OrderLine(1, -1, 0, 5), "paid_fen must be"),
        (OrderLine(1, 100, -1, 5), "supply_cost_fen must be"),
        (OrderLine(1, 100.0, 10, 5), "paid_fen must be"),  # type: ignore[arg-type]
        (OrderLine(1, True, 0, 5), "paid_fen must be"),
        (OrderLine("1", 100, 10, 5), "line_id must be"),  # type: ignore[arg-type]
        (OrderLine(1, 100, 10, None), "product_id must be"),  # type: ignore[arg-type]
        (OrderLine(1, 100, 10, 5, "shoes"), "category_id must be"),  # type: ignore[arg-type]
    ],
)
def test_refused_lines(line, message):
    with pytest.raises(SplitError, match=message):
        split_order([line], TWO_UP, BUYER, PlanVersion((1000, 500)))


@pytest.mark.parametrize(
    "chain, message",
    [
        ((ChainMember(2, 20),), "levels 1..1"),
        ((ChainMember(1, 10), ChainMember(1, 20)), "levels 1..2"),
        ((ChainMember(0, 10),), "levels 1..1"),
        ((ChainMember(1, 10), ChainMember(2, 10)), "appears twice"),
        ((ChainMember(1, "10"),), "whole numbers"),  # type: ignore[arg-type]
        ((ChainMember(True, 10),), "whole numbers"),
        ((ChainMember(1, 10, 3),), "tier must be"),  # type: ignore[arg-type]
        (((1, 10),), "not a chain member"),
    ],
)
def test_refused_chains(chain, message):
    with pytest.raises(SplitError, match=message):
        split_order([OrderLine(1, 100, 10, 5)], chain, BUYER, PlanVersion((1000, 500)))


def test_refused_orders():
    plan = PlanVersion((1000, 500))
    line = OrderLine(1, 100, 10, 5)
    with pytest.raises(SplitError, match="at least one line"):
        split_order([], TWO_UP, BUYER, plan)
    with pytest.raises(SplitError, match="appears twice"):
        split_order([line, line], TWO_UP, BUYER, plan)
    with pytest.raises(SplitError, match="buyer_id"):
        split_order([line], TWO_UP, None, plan)
    with pytest.raises(SplitError, match="PlanVersion"):
        split_order([line], TWO_UP, BUYER, {"rates_bp": (1000, 500)})
    with pytest.raises(SplitError, match="not an order line"):
        split_order([(1, 100, 10, 5)], TWO_UP, BUYER, plan)


@pytest.mark.parametrize(
    "before, refund, message",
    [
        (0, 10_000, "more than the 9999 fen left"),
        (9000, 1000, "more than the 999 fen left"),
        (9999, 1, "more than the 0 fen left"),
        (0, 0, "refund_fen must be"),
        (0, -5, "refund_fen must be"),
        (0, 1.5, "refund_fen must be"),
        (0, True, "refund_fen must be"),
        (-1, 5, "refunded_before_fen must be"),
        (10_000, 5, "refunded_before_fen must be"),
    ],
)
def test_refused_refunds(before, refund, message):
    split = _one(OrderLine(1, 9999, 6000, product_id=5))
    with pytest.raises(SplitError, match=message):
        reverse_for_refund(split, before, refund)


# -- laws over random plans, chains, lines and refunds

TIERS = ("silver", "gold", "vip")


@st.composite
def rate_vectors(draw, levels: int, budget: int) -> tuple[int, ...]:
    """``levels`` rates adding up to at most ``budget``."""
    cuts = sorted(draw(st.lists(st.integers(0, budget), min_size=levels, max_size=levels)))
    return tuple(high - low for low, high in zip([0, *cuts], cuts, strict=False))


@st.composite
def plans(draw) -> PlanVersion:
    """Valid plans, often right at their cap."""
    levels = draw(st.integers(1, 3))
    cap = draw(st.one_of(st.just(10_000), st.integers(0, 10_000)))
    # Per level, the highest rate any tier may have: together within the cap.
    ceiling = draw(rate_vectors(levels, cap))

    def within_ceiling() -> tuple[int, ...]:
        return tuple(draw(st.one_of(st.just(top), st.integers(0, top))) for top in ceiling)

    return PlanVersion(
        within_ceiling(),
        levels=levels,
        base=draw(st.sampled_from((BASE_PAID, BASE_MARGIN))),
        cap_bp=cap,
        tier_rates_bp={tier: within_ceiling() for tier in draw(st.sets(st.sampled_from(TIERS)))},
        category_rates_bp={key: draw(rate_vectors(levels, cap))
                           for key in draw(st.sets(st.integers(1, 3), max_size=2))},
        product_rates_bp={key: draw(rate_vectors(levels, cap))
                          for key in draw(st.sets(st.integers(1, 4), max_size=2))},
        self_purchase_earns=draw(st.booleans()),
        return_window_days=draw(st.integers(0, 30)),
        three_levels_acknowledged=levels == 3 or draw(st.booleans()),
    )


@st.composite
def chains(draw) -> tuple[ChainMember, ...]:
    """0–4 members (one more than any plan pays), ids that often include the buyer's."""
    size = draw(st.integers(0, 4))
    ids = draw(st.lists(st.integers(1, 6), min_size=size, max_size=size, unique=True))
    members = [ChainMember(level, distributor, draw(st.sampled_from((None, "bronze", *TIERS))))
               for level, distributor in enumerate(ids, start=1)]
    return tuple(draw(st.permutations(members)))


fen = st.one_of(st.integers(0, 3), st.integers(0, 20_000), st.integers(0, 10**10))


@st.composite
def order_lines(draw) -> list[OrderLine]:
    """1–4 lines, including free lines, 1-fen lines and lines without margin."""
    lines = []
    for line_id in range(1, draw(st.integers(1, 4)) + 1):
        paid = draw(fen)
        supply = draw(st.one_of(st.just(paid), st.just(0), st.integers(0, paid)))
        lines.append(OrderLine(line_id, paid, supply, draw(st.integers(1, 5)),
                               draw(st.one_of(st.none(), st.integers(1, 4)))))
    return lines


buyers = st.integers(1, 7)


@settings(max_examples=400, deadline=None)
@given(plans(), chains(), buyers, order_lines())
def test_split_laws(plan, chain, buyer, lines):
    split = split_order(lines, chain, buyer, plan)
    assert [s.line_id for s in split.lines] == [line.line_id for line in lines]
    earners = {m.level: m for m in chain if m.level <= plan.levels
               and (plan.self_purchase_earns or m.distributor_id != buyer)}
    for line, s in zip(lines, split.lines, strict=True):
        margin = line.paid_fen - line.supply_cost_fen
        base = line.paid_fen if plan.base == BASE_PAID else margin
        ceiling = plan.cap_bp * margin // 10_000
        # Every fen accounted for, nothing negative, the supplier gets its supply cost.
        assert s.paid_fen == line.paid_fen == s.supplier_fen + s.commission_fen + s.platform_fen
        assert s.supplier_fen == line.supply_cost_fen
        assert s.platform_fen >= 0
        assert all(c.amount_fen > 0 for c in s.commissions)
        assert s.commission_fen <= ceiling
        if margin == 0:
            assert s.commissions == ()
        levels = [c.level for c in s.commissions]
        assert levels == sorted(set(levels))
        due = {}
        for level, member in earners.items():
            rate = plan.rate_bp(level, product_id=line.product_id,
                                category_id=line.category_id, tier=member.tier)
            due[level] = (member.distributor_id, rate, base * rate // 10_000)
        capped = sum(amount for _, _, amount in due.values()) > ceiling
        for c in s.commissions:
            distributor, rate, amount = due[c.level]
            assert (c.line_id, c.distributor_id, c.base_fen, c.rate_bp, c.capped) == (
                line.line_id, distributor, base, rate, capped)
            assert c.amount_fen <= amount
        if capped:
            # Only ever with a paid base; scaling loses less than one fen per commission.
            assert plan.base == BASE_PAID
            assert ceiling - len(due) < s.commission_fen <= ceiling
        else:
            # Exactly the floored rate, and every positive commission has its line.
            assert _amounts(s) == [(level, d, a) for level, (d, _, a) in sorted(due.items()) if a]
    assert split.paid_fen == split.supplier_fen + split.commission_fen + split.platform_fen


@settings(max_examples=300, deadline=None)
@given(plans(), chains(), buyers, order_lines(), st.data())
def test_partial_refunds_reverse_pro_rata_and_end_exactly(plan, chain, buyer, lines, data):
    for split in split_order(lines, chain, buyer, plan).lines:
        paid = split.paid_fen
        if paid == 0:
            continue  # nothing to refund
        shares = [split.supplier_fen, *(c.amount_fen for c in split.commissions),
                  split.platform_fen]
        cuts = data.draw(st.lists(st.integers(1, paid - 1), max_size=6, unique=True)) \
            if paid > 1 else []
        reversed_so_far = [0] * len(shares)
        for before, after in itertools.pairwise([0, *sorted(cuts), paid]):
            refund = reverse_for_refund(split, before, after - before)
            parts = [refund.supplier_fen, *(c.amount_fen for c in refund.commissions),
                     refund.platform_fen]
            assert refund.refund_fen == after - before == sum(parts)
            assert all(part >= 0 for part in parts)
            assert [(c.level, c.distributor_id) for c in refund.commissions] == [
                (c.level, c.distributor_id) for c in split.commissions]
            reversed_so_far = [a + b for a, b in zip(reversed_so_far, parts, strict=True)]
            # Never more than the share; at least its floored pro-rata part; no drift.
            for done, share in zip(reversed_so_far, shares, strict=True):
                assert share * after // paid <= done <= share
                assert done * paid - share * after < len(shares) * paid
            target = reversal_after(split, after)
            assert reversed_so_far == [target.supplier_fen,
                                       *(c.amount_fen for c in target.commissions),
                                       target.platform_fen]
        assert reversed_so_far == shares
        with pytest.raises(SplitError, match="left to refund"):
            reverse_for_refund(split, paid, 1)


# -- the allocation behind refunds, exhaustively on small wholes


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 15), min_size=1, max_size=5))
def test_allocation_takes_one_fen_at_a_time(shares):
    whole = sum(shares)
    previous = allocate(shares, 0)
    assert previous == (0,) * len(shares)
    for taken in range(1, whole + 1):
        current = allocate(shares, taken)
        steps = [b - a for a, b in zip(previous, current, strict=True)]
        assert sorted(steps) == [0] * (len(shares) - 1) + [1]
        assert all(share * taken // whole <= got <= share
                   for share, got in zip(shares, current, strict=True))
        previous = current
    assert previous == tuple(shares)


def test_allocation_ties_go_to_the_share_listed_first():
    assert allocate([1, 1], 1) == (1, 0)
    assert allocate([2, 2, 2], 4) == (2, 1, 1)
    assert allocate([3, 1], 1) == (1, 0)  # due at 1/3 before 1/1


@pytest.mark.parametrize("shares, taken", [([1, 2], 4), ([1, 2], -1), ([3, -1], 1)])
def test_allocation_refuses_impossible_takes(shares, taken):
    with pytest.raises(ValueError, match="cannot take"):
        allocate(shares, taken)
