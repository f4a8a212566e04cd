"""Distributors' lifecycle, settings, tiers and the chain snapshot at payment."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.actors import Actor
from core.clock import utcnow
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.models import (
    Distributor,
    DistributorTier,
    Order,
    OrderReferral,
    ReferralSettings,
    Role,
    User,
)
from referral import distributors, settings
from referral.binding import bind
from referral.domain.rules import BindingSource
from referral.tiers import after_order_completed, performance
from tests.support.db import db_snapshot
from tests.support.factories import make_distributor, make_user, place_order
from tests.support.payments import install_fake_gateway, signed_pay_notify
from tests.support.referral import audit_count, set_rules
from webapp.extensions import db
from workers.jobs import referral_after_completion
from workers.outbox import HANDLERS


@pytest.fixture
def shop(any_app):
    return any_app


def operator() -> Actor:
    return Actor.of(make_user(Role.OPERATOR))


def roles_of(user_id: int) -> list[str]:
    db.session.expire_all()
    return db.session.get(User, user_id).role_names


# -- applying and deciding --------------------------------------------------------------


def test_manual_approval(shop):
    bob = make_user()
    record = distributors.apply(db.session, bob.id)
    assert record.status == "pending" and len(record.invite_code) == 8
    assert distributors.apply(db.session, bob.id).invite_code == record.invite_code
    assert audit_count("distributor.applied", bob) == 1
    assert "distributor" not in roles_of(bob.id)
    ops = operator()
    with pytest.raises(Forbidden):
        distributors.decide(db.session, Actor.of(make_user()), bob.id, "approve")
    approved = distributors.decide(db.session, ops, bob.id, "approve")
    assert approved.status == "active" and approved.decided_by == ops.user_id
    assert "distributor" in roles_of(bob.id)
    with pytest.raises(InvalidInput):  # freezing needs a reason
        distributors.decide(db.session, ops, bob.id, "freeze")
    assert distributors.decide(db.session, ops, bob.id, "freeze", "complaint").status == "frozen"
    with pytest.raises(Conflict):
        distributors.decide(db.session, ops, bob.id, "approve")
    assert "distributor" in roles_of(bob.id)  # frozen keeps the role (read-only views)
    assert distributors.decide(db.session, ops, bob.id, "revoke", "fraud").status == "revoked"
    assert "distributor" not in roles_of(bob.id)
    with pytest.raises(Conflict):  # a revoked distributor cannot simply apply again
        distributors.apply(db.session, bob.id)
    with pytest.raises(NotFound):
        distributors.decide(db.session, ops, make_user().id, "approve")
    assert distributors.decide(db.session, ops, bob.id, "reinstate").status == "active"
    assert "distributor" in roles_of(bob.id)


def test_rejected_applicants_may_apply_again(shop):
    bob = make_user()
    distributors.apply(db.session, bob.id)
    distributors.decide(db.session, operator(), bob.id, "reject", "incomplete profile")
    assert distributors.apply(db.session, bob.id).status == "pending"


def test_everyone_eligible_is_approved_at_once(shop):
    set_rules(eligibility="everyone")
    bob = make_user()
    assert distributors.apply(db.session, bob.id).status == "active"
    assert "distributor" in roles_of(bob.id)


def _completed_order(buyer: User, price: int) -> Order:
    order = place_order((price, 1), buyer=buyer)
    order.status = "completed"
    order.paid_at = order.completed_at = utcnow()
    db.session.commit()
    return order


def test_spend_threshold_approves_when_reached(shop):
    set_rules(eligibility="spend", eligibility_spend_fen=10_000)
    bob = make_user()
    assert distributors.apply(db.session, bob.id).status == "pending"
    order = _completed_order(bob, 6_000)
    assert after_order_completed(db.session, order.id) == 0
    order = _completed_order(bob, 4_000)
    assert after_order_completed(db.session, order.id) == 1
    assert db.session.get(Distributor, bob.id).status == "active"
    rich = make_user()
    _completed_order(rich, 10_000)
    assert distributors.apply(db.session, rich.id).status == "active"


# -- settings and guardrails ------------------------------------------------------------


def test_settings_change_is_audited_and_guarded(shop):
    ops = operator()
    rules = settings.change_rules(db.session, ops, {"binding_mode": "last_touch"})
    assert rules.binding_mode == "last_touch" and rules.levels == 2
    assert audit_count("referral.settings_changed") == 1
    before = db_snapshot()
    for bad in ({"levels": 4, "three_levels_acknowledged": True}, {"levels": 3},
                {"levels": 0}, {"levels": "2"}, {"entry_fee_fen": 9900},
                {"binding_mode": "forever"}, {"binding_mode": "first_touch_expiring"},
                {"eligibility": "spend"}, {"colour": "red"},
                {"three_levels_acknowledged": "yes"}):
        with pytest.raises(InvalidInput):
            settings.change_rules(db.session, ops, bad)
    assert db_snapshot() == before
    with pytest.raises(Forbidden):
        settings.change_rules(db.session, Actor.of(make_user()), {"levels": 1})
    three = settings.change_rules(db.session, ops, {"levels": 3, "three_levels_acknowledged": True})
    assert three.levels == 3
    assert db.session.get(ReferralSettings, 1).levels == 3


def test_the_database_refuses_three_levels_without_acknowledgement(shop):
    from sqlalchemy.exc import IntegrityError

    db.session.add(ReferralSettings(id=1, levels=3, three_levels_acknowledged=False))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


# -- tiers ------------------------------------------------------------------------------


def test_tiers_are_saved_within_the_guardrails(shop):
    ops = operator()
    silver = distributors.save_tier(db.session, ops, {"code": "silver", "name": "Silver",
                                                     "rank": 10, "min_own_sales_fen": 1000})
    with pytest.raises(InvalidInput):
        distributors.save_tier(db.session, ops, {"code": "x", "name": "X", "rank": 11,
                                                 "min_team_size": 100})
    with pytest.raises(Conflict):
        distributors.save_tier(db.session, ops, {"code": "silver", "name": "Again", "rank": 12})
    changed = distributors.save_tier(db.session, ops, {"min_own_sales_fen": 2000}, silver.id)
    assert changed.min_own_sales_fen == 2000
    assert [t.code for t in distributors.list_tiers(db.session)] == ["silver"]


def test_tier_upgrade_on_completion_and_downgrade_only_by_operator(shop):
    silver = DistributorTier(code="silver", name="Silver", rank=10, min_own_sales_fen=5_000)
    gold = DistributorTier(code="gold", name="Gold", rank=20, min_own_sales_fen=5_000,
                           min_team_sales_fen=20_000)
    db.session.add_all([silver, gold])
    db.session.commit()
    alice = make_distributor()
    buyer = make_user()
    bind(db.session, buyer.id, alice.id, BindingSource.QR)
    order = _completed_order(buyer, 6_000)
    db.session.add(OrderReferral(order_id=order.id, level=1, distributor_id=alice.id))
    db.session.commit()
    assert performance(db.session, alice.id).own_sales_fen == 6_000
    assert after_order_completed(db.session, order.id) == 1
    assert db.session.get(Distributor, alice.id).tier.code == "silver"
    assert audit_count("distributor.tier_upgraded", alice) == 1
    assert after_order_completed(db.session, order.id) == 0  # idempotent
    ops = operator()
    with pytest.raises(InvalidInput):
        distributors.set_tier(db.session, ops, alice.id, None, "")
    distributors.set_tier(db.session, ops, alice.id, None, "policy breach")
    assert db.session.get(Distributor, alice.id).tier_id is None
    assert audit_count("distributor.tier_set", alice) == 1


def test_the_completion_handler_is_registered_and_runs(shop):
    assert [h.name for h in HANDLERS["order.completed"]] == ["referral_tiers"]
    set_rules(eligibility="spend", eligibility_spend_fen=100)
    bob = make_user()
    distributors.apply(db.session, bob.id)
    order = _completed_order(bob, 500)
    assert referral_after_completion({"order_id": order.id, "number": order.number}) == 1


# -- the snapshot at payment ------------------------------------------------------------


def _pay(app, body: bytes) -> None:
    response = app.test_client().post("/wechat/pay/notify", data=body, content_type="text/xml")
    db.session.rollback()
    assert response.status_code == 200 and b"SUCCESS" in response.data


def test_paid_orders_snapshot_their_chain_once(shop):
    install_fake_gateway(shop)
    top = make_distributor()
    alice = make_distributor(upline=top)
    buyer = make_user()
    bind(db.session, buyer.id, alice.id, BindingSource.INVITE_CODE)
    order = place_order((1990, 2), buyer=buyer)
    notify = signed_pay_notify(shop, order.number, order.total_fen)
    _pay(shop, notify)
    _pay(shop, notify)  # the notify again: nothing more
    db.session.expire_all()
    paid = db.session.get(Order, order.id)
    assert paid.status == "paid"
    assert paid.attribution["source"] == "invite_code"
    assert [(m["level"], m["distributor_id"]) for m in paid.attribution["members"]] == [
        (1, alice.id), (2, top.id)]
    rows = db.session.execute(
        select(OrderReferral.level, OrderReferral.distributor_id)
        .where(OrderReferral.order_id == order.id).order_by(OrderReferral.level)
    ).all()
    assert [tuple(r) for r in rows] == [(1, alice.id), (2, top.id)]
    # Later tree changes never rewrite the paid order.
    distributors.decide(db.session, operator(), alice.id, "freeze", "audit")
    db.session.expire_all()
    assert db.session.get(Order, order.id).attribution == paid.attribution
    assert db.session.scalar(select(func.count()).select_from(OrderReferral)) == 2
