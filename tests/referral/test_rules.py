"""The pure referral rules: binding decisions, chains, tiers, codes and the guardrails."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from referral.domain.codes import (
    INVITE_ALPHABET,
    distributor_in_scene,
    new_invite_code,
    normalise_invite_code,
    scene_for,
)
from referral.domain.guardrails import (
    GuardrailError,
    check_levels,
    check_no_entry_fee,
    check_tier_criteria,
)
from referral.domain.rules import (
    Ancestor,
    BindingMode,
    BindingRequest,
    BindingSource,
    CurrentBinding,
    InactiveUpline,
    Performance,
    TierRule,
    TransitionRefused,
    attribution_chain,
    decide_binding,
    earned_tier,
    next_status,
)

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def request(user=1, upline=2, *, source=BindingSource.QR, status="active", cycle=False):
    return BindingRequest(user, upline, source, status, cycle)


def bound_to(upline, *, days_ago=1, expires_in=None):
    bound_at = NOW - timedelta(days=days_ago)
    expires = NOW + timedelta(days=expires_in) if expires_in is not None else None
    return CurrentBinding(upline, bound_at, expires)


# -- binding ----------------------------------------------------------------------------


@pytest.mark.parametrize("req, reason", [
    (request(user=5, upline=5), "self"),
    (request(status=None), "not_distributor"),
    (request(status="frozen"), "distributor_inactive"),
    (request(status="revoked"), "distributor_inactive"),
    (request(status="pending"), "distributor_inactive"),
    (request(cycle=True), "cycle"),
])
def test_refusals(req, reason):
    decision = decide_binding(req, None, BindingMode.LAST_TOUCH, None, NOW)
    assert (decision.outcome, decision.reason) == ("refuse", reason)
    assert not decision.changes


def test_operator_cannot_bind_onto_an_inactive_distributor_or_make_a_cycle():
    for req in (request(source=BindingSource.OPERATOR, status="frozen"),
                request(source=BindingSource.OPERATOR, cycle=True)):
        assert decide_binding(req, bound_to(9), BindingMode.FIRST_TOUCH, None,
                              NOW).outcome == "refuse"


def test_first_binding_binds_in_every_mode():
    for mode in BindingMode:
        decision = decide_binding(request(), None, mode, 30, NOW)
        assert decision.outcome == "bind"


def test_first_touch_keeps_the_first_distributor():
    decision = decide_binding(request(upline=3), bound_to(2), BindingMode.FIRST_TOUCH, None, NOW)
    assert (decision.outcome, decision.reason) == ("keep", "first touch")


def test_the_same_touch_twice_keeps_the_binding_in_every_mode():
    for mode in BindingMode:
        decision = decide_binding(request(upline=2), bound_to(2), mode, 30, NOW)
        assert (decision.outcome, decision.reason) == ("keep", "already bound")


def test_last_touch_rebinds():
    decision = decide_binding(request(upline=3), bound_to(2), BindingMode.LAST_TOUCH, None, NOW)
    assert decision.outcome == "bind" and decision.expires_at is None


def test_expiring_first_touch_sets_the_expiry_and_rebinds_only_after_it():
    first = decide_binding(request(), None, BindingMode.FIRST_TOUCH_EXPIRING, 30, NOW)
    assert first.expires_at == NOW + timedelta(days=30)
    live = bound_to(2, expires_in=5)
    assert decide_binding(request(upline=3), live, BindingMode.FIRST_TOUCH_EXPIRING, 30,
                          NOW).outcome == "keep"
    lapsed = bound_to(2, days_ago=31, expires_in=-1)
    again = decide_binding(request(upline=3), lapsed, BindingMode.FIRST_TOUCH_EXPIRING, 30, NOW)
    assert again.outcome == "bind" and again.expires_at == NOW + timedelta(days=30)
    # the same distributor after expiry renews the binding
    renewed = decide_binding(request(upline=2), lapsed, BindingMode.FIRST_TOUCH_EXPIRING, 30, NOW)
    assert renewed.outcome == "bind"


def test_operator_rebinds_whatever_the_mode_without_expiry():
    for mode in BindingMode:
        decision = decide_binding(request(upline=3, source=BindingSource.OPERATOR), bound_to(2),
                                  mode, 30, NOW)
        assert decision.outcome == "bind" and decision.expires_at is None


# -- status -----------------------------------------------------------------------------


def test_status_transitions():
    assert next_status("pending", "approve") == "active"
    assert next_status("active", "freeze") == "frozen"
    assert next_status("frozen", "unfreeze") == "active"
    assert next_status("frozen", "revoke") == "revoked"
    assert next_status("revoked", "reinstate") == "active"
    for current, action in [("active", "approve"), ("pending", "freeze"),
                            ("revoked", "unfreeze"), ("active", "dance")]:
        with pytest.raises(TransitionRefused):
            next_status(current, action)


# -- chains -----------------------------------------------------------------------------


def ancestors(*statuses):
    return [Ancestor(100 + hops, hops, status, None) for hops, status in enumerate(statuses, 1)]


def test_chain_takes_the_nearest_levels():
    chain = attribution_chain(ancestors("active", "active", "active"), 2, InactiveUpline.SKIP)
    assert [(m.level, m.distributor_id, m.earns) for m in chain] == [(1, 101, True),
                                                                    (2, 102, True)]


def test_skip_closes_the_chain_over_inactive_distributors():
    chain = attribution_chain(ancestors("frozen", "active", "revoked", "active"), 2,
                              InactiveUpline.SKIP)
    assert [(m.level, m.distributor_id) for m in chain] == [(1, 102), (2, 104)]


def test_forfeit_keeps_levels_and_pays_nobody_for_inactive_ones():
    chain = attribution_chain(ancestors("frozen", "active", "active"), 2, InactiveUpline.FORFEIT)
    assert [(m.level, m.distributor_id, m.earns) for m in chain] == [(1, 101, False),
                                                                    (2, 102, True)]


def test_a_distributor_buying_is_level_zero():
    me = Ancestor(7, 0, "active", "gold")
    chain = attribution_chain(ancestors("active"), 2, InactiveUpline.SKIP, buyer=me)
    assert [(m.level, m.distributor_id, m.tier_code) for m in chain] == [(0, 7, "gold"),
                                                                        (1, 101, None)]
    frozen_me = Ancestor(7, 0, "frozen", None)
    assert [m.level for m in attribution_chain(ancestors("active"), 2, InactiveUpline.SKIP,
                                               buyer=frozen_me)] == [1]


# -- tiers ------------------------------------------------------------------------------

TIERS = [TierRule(1, 10, min_own_sales_fen=100), TierRule(2, 20, min_own_sales_fen=1000,
                                                          min_team_sales_fen=5000)]


def test_earned_tier_is_the_highest_reached_and_only_upwards():
    assert earned_tier(TIERS, Performance(own_sales_fen=99), None) is None
    assert earned_tier(TIERS, Performance(own_sales_fen=100), None).tier_id == 1
    assert earned_tier(TIERS, Performance(own_sales_fen=1000, team_sales_fen=5000),
                       None).tier_id == 2
    assert earned_tier(TIERS, Performance(own_sales_fen=1000, team_sales_fen=4999),
                       None).tier_id == 1
    # never a downgrade, never a no-op "upgrade"
    assert earned_tier(TIERS, Performance(own_sales_fen=100), 20) is None
    assert earned_tier(TIERS, Performance(own_sales_fen=100), 10) is None


# -- codes ------------------------------------------------------------------------------


def test_invite_codes():
    code = new_invite_code()
    assert len(code) == 8 and set(code) <= set(INVITE_ALPHABET)
    assert normalise_invite_code(f" {code[:4].lower()}-{code[4:]} ") == code
    for bad in ("", "ABC", "ABCDEFG0", "ABCDEFGHI", "ABCD EFG", "<script>", "ＡＢＣＤ２３４５"):
        assert normalise_invite_code(bad) is None


def test_scenes():
    assert scene_for(42) == "dist_42"
    assert distributor_in_scene("dist_42") == 42
    assert distributor_in_scene("qrscene_dist_42") == 42
    for bad in (None, "", "dist_", "dist_0", "dist_-1", "dist_1x", "qrscene_foo",
                "dist_" + "9" * 19):
        assert distributor_in_scene(bad) is None


# -- guardrails -------------------------------------------------------------------------


def test_levels_guardrail():
    assert check_levels(2, False) == 2
    assert check_levels(3, True) == 3
    for levels, ack in [(3, False), (4, True), (0, True), (True, True), (2.0, True)]:
        with pytest.raises(GuardrailError):
            check_levels(levels, ack)


def test_tiers_cannot_reward_recruiting():
    assert check_tier_criteria({"min_own_sales_fen": 10}) == {"min_own_sales_fen": 10}
    for criteria in ({"min_team_size": 10}, {"min_direct_recruits": 3}, {"min_downline": 1},
                     {"min_own_sales_fen": -1}, {"min_own_sales_fen": 1.5}, {"colour": 1}):
        with pytest.raises(GuardrailError):
            check_tier_criteria(criteria)


def test_no_entry_fee():
    check_no_entry_fee({"levels": 2})
    for name in ("entry_fee_fen", "deposit_fen", "membership_price"):
        with pytest.raises(GuardrailError):
            check_no_entry_fee({name: 100})
