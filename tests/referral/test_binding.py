"""Binding people under distributors on SQLite and PostgreSQL: rules, history, refusals."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.actors import Actor
from core.clock import utcnow
from core.errors import Forbidden, InvalidInput, NotFound
from core.models import AuditEntry, Distributor, OutboxMessage, ReferralBinding, Role
from referral.binding import (
    BindingRefused,
    bind,
    bind_by_invite_code,
    bind_by_scene,
    move_user,
)
from referral.domain.rules import BindingSource
from tests.support.db import db_snapshot
from tests.support.factories import link, make_distributor, make_user
from tests.support.referral import audit_count, set_rules, upline_of
from webapp.extensions import db

QR = BindingSource.QR


@pytest.fixture
def shop(any_app):
    return any_app


def operator() -> Actor:
    return Actor.of(make_user(Role.OPERATOR))


def test_a_new_consumer_is_bound_with_history_and_no_reward(shop):
    alice = make_distributor()
    bob = make_user()
    result = bind(db.session, bob.id, alice.id, QR, scene="qrscene_dist_1")
    assert result.changed and result.upline_id == alice.id and result.previous_upline_id is None
    assert result.upline_name == alice.nickname
    assert upline_of(bob) == alice.id
    row = db.session.get(ReferralBinding, bob.id)
    assert (row.source, row.scene, row.expires_at) == ("qr", "qrscene_dist_1", None)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "referral.bound"))
    assert entry.subject_id == str(bob.id)
    assert entry.details["source"] == "qr" and entry.details["upline_id"] == alice.id
    assert entry.details["scene"] == "qrscene_dist_1"
    # No reward for recruiting: a binding announces nothing that could pay anyone.
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_the_same_touch_twice_binds_once(shop):
    alice = make_distributor()
    bob = make_user()
    first = bind(db.session, bob.id, alice.id, QR, scene="dist_x")
    second = bind(db.session, bob.id, alice.id, QR, scene="dist_x")
    assert first.changed and not second.changed
    assert second.upline_id == alice.id and second.upline_name == alice.nickname
    assert audit_count("referral.bound", bob) == 1


def test_first_touch_keeps_the_first_distributor(shop):
    alice, carol = make_distributor(), make_distributor()
    bob = make_user()
    bind(db.session, bob.id, alice.id, QR)
    kept = bind(db.session, bob.id, carol.id, BindingSource.INVITE_CODE)
    assert not kept.changed and kept.upline_id == alice.id and kept.reason == "first touch"
    assert upline_of(bob) == alice.id
    assert audit_count("referral.bound", bob) == 1


def test_last_touch_rebinds_and_keeps_history(shop):
    set_rules(binding_mode="last_touch")
    alice, carol = make_distributor(), make_distributor()
    bob = make_user()
    bind(db.session, bob.id, alice.id, QR)
    moved = bind(db.session, bob.id, carol.id, BindingSource.LINK)
    assert moved.changed and moved.previous_upline_id == alice.id
    assert upline_of(bob) == carol.id
    history = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "referral.bound").order_by(AuditEntry.id)
    ).all()
    assert [(h.details["previous_upline_id"], h.details["upline_id"], h.details["source"])
            for h in history] == [(None, alice.id, "qr"), (alice.id, carol.id, "link")]


def test_expiring_first_touch(shop):
    set_rules(binding_mode="first_touch_expiring", binding_days=7)
    alice, carol = make_distributor(), make_distributor()
    bob = make_user()
    bind(db.session, bob.id, alice.id, QR)
    row = db.session.get(ReferralBinding, bob.id)
    assert row.expires_at is not None
    assert timedelta(days=6, hours=23) < row.expires_at - utcnow() <= timedelta(days=7)
    assert not bind(db.session, bob.id, carol.id, QR).changed
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert bind(db.session, bob.id, carol.id, QR).changed
    assert upline_of(bob) == carol.id


@pytest.mark.parametrize("status", ["frozen", "revoked", "pending", "rejected"])
def test_never_onto_an_inactive_distributor(shop, status):
    frozen = make_distributor(status)
    bob = make_user()
    before = db_snapshot()
    with pytest.raises(BindingRefused) as refused:
        bind(db.session, bob.id, frozen.id, QR)
    assert refused.value.code == "distributor_inactive" and refused.value.status_code == 409
    assert db_snapshot() == before


def test_never_onto_someone_who_is_not_a_distributor(shop):
    plain, bob = make_user(), make_user()
    with pytest.raises(BindingRefused) as refused:
        bind(db.session, bob.id, plain.id, QR)
    assert refused.value.code == "not_distributor"
    assert upline_of(bob) is None


def test_never_self(shop):
    alice = make_distributor()
    before = db_snapshot()
    with pytest.raises(BindingRefused) as refused:
        bind(db.session, alice.id, alice.id, QR)
    assert refused.value.code == "self"
    assert db_snapshot() == before


def test_never_a_cycle(shop):
    set_rules(binding_mode="last_touch")
    top = make_distributor()
    middle = make_distributor(upline=top)
    bottom = make_distributor(upline=middle)
    before = db_snapshot()
    for upline in (middle, bottom):
        with pytest.raises(BindingRefused) as refused:
            bind(db.session, top.id, upline.id, QR)
        assert refused.value.code == "cycle"
    with pytest.raises(BindingRefused):
        move_user(db.session, operator_actor := operator(), top.id, bottom.id, "test")
    assert operator_actor.is_operator()
    assert db_snapshot() | {"users": [], "user_roles": []} == before | {"users": [],
                                                                    "user_roles": []}


def test_unknown_users_are_not_found(shop):
    alice = make_distributor()
    with pytest.raises(NotFound):
        bind(db.session, 999_999, alice.id, QR)
    with pytest.raises(NotFound):
        bind(db.session, alice.id, 999_999, QR)


def test_scenes(shop):
    alice = make_distributor()
    bob = make_user()
    assert bind_by_scene(db.session, bob.id, f"qrscene_dist_{alice.id}").upline_id == alice.id
    assert db.session.get(ReferralBinding, bob.id).scene == f"qrscene_dist_{alice.id}"
    for bad in ("", "qrscene_", "dist_abc", "promo_7", "dist_" + "1" * 30):
        with pytest.raises(InvalidInput):
            bind_by_scene(db.session, make_user().id, bad)
    with pytest.raises(NotFound):  # a scene for a user who no longer exists
        bind_by_scene(db.session, make_user().id, "dist_987654321")


def test_invite_codes(shop):
    alice = make_distributor()
    code = db.session.get(Distributor, alice.id).invite_code
    bob = make_user()
    typed = f" {code[:4].lower()} {code[4:]} "
    result = bind_by_invite_code(db.session, bob.id, typed, BindingSource.INVITE_CODE)
    assert result.changed and upline_of(bob) == alice.id
    assert db.session.get(ReferralBinding, bob.id).source == "invite_code"
    with pytest.raises(InvalidInput):
        bind_by_invite_code(db.session, make_user().id, "nope", BindingSource.INVITE_CODE)
    with pytest.raises(NotFound):
        bind_by_invite_code(db.session, make_user().id, "ZZZZZZZZ", BindingSource.INVITE_CODE)


def test_operator_moves_a_subtree_with_a_reason(shop):
    top, other = make_distributor(), make_distributor()
    middle = make_distributor(upline=top)
    leaf = make_user()
    link(leaf, middle)
    ops = operator()
    with pytest.raises(InvalidInput):
        move_user(db.session, ops, middle.id, other.id, "  ")
    with pytest.raises(Forbidden):
        move_user(db.session, Actor.of(make_user()), middle.id, other.id, "because")
    result = move_user(db.session, ops, middle.id, other.id, "ticket 42")
    assert result.changed and upline_of(middle) == other.id
    assert upline_of(leaf) == middle.id  # the subtree came along
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "referral.bound")
        .order_by(AuditEntry.id.desc())
    )
    assert entry.actor_id == ops.user_id and entry.details["reason"] == "ticket 42"
    assert entry.details["source"] == "operator"
    # detaching makes them a root, also audited
    assert move_user(db.session, ops, middle.id, None, "left the programme").changed
    assert upline_of(middle) is None
    assert audit_count("referral.bound", middle) == 2
