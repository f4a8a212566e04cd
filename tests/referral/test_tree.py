"""The tree on SQLite and PostgreSQL: chains at any depth, team views, the operator's view."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, insert

from core.clock import utcnow
from core.models import (
    Distributor,
    DistributorTier,
    Order,
    OrderReferral,
    ReferralBinding,
    User,
)
from referral.attribution import chain_snapshot
from referral.tree import ancestors, direct_downline, is_above, team_stats, upline_chain
from tests.support.factories import link, make_distributor, make_user
from tests.support.referral import set_rules
from webapp.extensions import db


@pytest.fixture
def shop(any_app):
    return any_app


def chain_of(length: int) -> list[int]:
    """``length`` active distributors, each bound under the previous one; ids top first."""
    first = db.session.get(User, make_distributor().id)
    ids = [first.id]
    users = [{"nickname": f"d{n}", "subscribed": False, "avatar_url": "",
              "created_at": utcnow()} for n in range(length - 1)]
    new_ids = [db.session.execute(insert(User).values(**u)).inserted_primary_key[0]
               for u in users]
    db.session.execute(insert(Distributor), [
        {"user_id": uid, "status": "active", "invite_code": f"C{uid:07d}"[-8:],
         "status_reason": ""} for uid in new_ids])
    rows = []
    for upper, lower in zip([first.id, *new_ids], new_ids, strict=False):
        rows.append({"user_id": lower, "upline_id": upper, "source": "qr", "scene": "",
                     "bound_at": utcnow()})
    if rows:
        db.session.execute(insert(ReferralBinding), rows)
    db.session.commit()
    ids.extend(new_ids)
    return ids


def count_queries(fn):
    engine = db.engine
    seen: list[str] = []

    def before(conn, cursor, statement, params, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        result = fn()
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return result, len(seen)


def test_chain_lookup_is_one_query_at_any_depth(shop):
    ids = chain_of(400)
    shallow, deep = make_user(), make_user()
    link(shallow, db.session.get(User, ids[9]))  # the 10th distributor: depth 10
    link(deep, db.session.get(User, ids[-1]))  # depth 400
    db.session.commit()
    for buyer_id, expected in ((shallow.id, [ids[9], ids[8]]), (deep.id, [ids[-1], ids[-2]])):
        db.session.expire_all()
        snap, queries = count_queries(lambda b=buyer_id: chain_snapshot(db.session, b))
        assert [m["distributor_id"] for m in snap["members"]] == expected
        assert [m["level"] for m in snap["members"]] == [1, 2]
        assert snap["source"] == "qr" and snap["levels"] == 2
        assert queries == 2  # the settings and the walk, whatever the depth


def test_three_levels_when_acknowledged(shop):
    set_rules(levels=3, three_levels_acknowledged=True)
    ids = chain_of(5)
    buyer = make_user()
    link(buyer, db.session.get(User, ids[-1]))
    snap = chain_snapshot(db.session, buyer.id)
    assert [m["distributor_id"] for m in snap["members"]] == [ids[4], ids[3], ids[2]]


def test_skip_walks_past_inactive_distributors(shop):
    ids = chain_of(6)
    for uid in (ids[5], ids[3]):
        db.session.get(Distributor, uid).status = "frozen"
    db.session.commit()
    buyer = make_user()
    link(buyer, db.session.get(User, ids[5]))
    snap = chain_snapshot(db.session, buyer.id)
    assert [(m["level"], m["distributor_id"]) for m in snap["members"]] == [(1, ids[4]),
                                                                          (2, ids[2])]


def test_forfeit_keeps_the_levels(shop):
    set_rules(inactive_upline="forfeit")
    ids = chain_of(4)
    db.session.get(Distributor, ids[3]).status = "revoked"
    db.session.commit()
    buyer = make_user()
    link(buyer, db.session.get(User, ids[3]))
    snap = chain_snapshot(db.session, buyer.id)
    assert [(m["level"], m["distributor_id"], m["earns"]) for m in snap["members"]] == [
        (1, ids[3], False), (2, ids[2], True)]


def test_a_distributor_buying_appears_at_level_zero_with_their_tier(shop):
    tier = DistributorTier(code="gold", name="Gold", rank=20)
    db.session.add(tier)
    db.session.commit()
    top = make_distributor()
    me = make_distributor(upline=top, tier_id=tier.id)
    snap = chain_snapshot(db.session, me.id)
    assert [(m["level"], m["distributor_id"], m["tier"]) for m in snap["members"]] == [
        (0, me.id, "gold"), (1, top.id, None)]


def test_an_expired_binding_ends_the_chain(shop):
    set_rules(binding_mode="first_touch_expiring", binding_days=7)
    top = make_distributor()
    buyer = make_user()
    link(buyer, top, expires_at=utcnow() - timedelta(minutes=1))
    assert chain_snapshot(db.session, buyer.id)["members"] == []
    walk = ancestors(db.session, buyer.id, enough=2)
    assert walk.above == [] and walk.own is None


def test_unbound_buyer_has_an_empty_chain(shop):
    snap = chain_snapshot(db.session, make_user().id)
    assert snap["members"] == [] and snap["source"] is None


def test_team_stats_and_downline(shop):
    top = make_distributor()
    middle = make_distributor(upline=top)
    leaves = [make_user() for _ in range(3)]
    for leaf in leaves[:2]:
        link(leaf, top)
    link(leaves[2], middle)
    # two paid orders attributed to ``top``: at level 1 and level 2; one cancelled one
    now = utcnow()
    for n, (buyer, level, status) in enumerate([(leaves[0], 1, "paid"), (leaves[2], 2, "completed"),
                                                 (leaves[1], 1, "cancelled")]):
        order = Order(number=f"T{n}", buyer_id=buyer.id, status=status, goods_fen=1000,
                      total_fen=1000 + n, refunded_fen=0 if n != 1 else 100, recipient="r",
                      phone="1", shipping_address="a", expires_at=now, paid_at=now)
        db.session.add(order)
        db.session.flush()
        db.session.add(OrderReferral(order_id=order.id, level=level, distributor_id=top.id))
    db.session.commit()
    stats = team_stats(db.session, top.id)
    assert (stats.direct_count, stats.team_size) == (3, 4)
    assert stats.sales_by_level == {1: 1000, 2: 901} and stats.orders_by_level == {1: 1, 2: 1}
    assert stats.team_sales_fen == 1901
    later = team_stats(db.session, top.id, since=now + timedelta(seconds=1))
    assert later.sales_by_level == {} and later.team_size == 4
    total, members = direct_downline(db.session, top.id, limit=2)
    assert total == 3 and len(members) == 2
    everyone = direct_downline(db.session, top.id)[1]
    assert {m.user_id: m.direct_count for m in everyone}[middle.id] == 1
    assert {m.user_id: m.distributor_status for m in everyone}[middle.id] == "active"


def test_operator_view_of_the_upline_and_is_above(shop):
    ids = chain_of(30)
    buyer = make_user()
    link(buyer, db.session.get(User, ids[-1]))
    view = upline_chain(db.session, buyer.id, limit=5)
    assert view.depth == 30
    assert [m[0] for m in view.members] == list(reversed(ids))[:5]
    assert is_above(db.session, ids[0], buyer.id)
    assert not is_above(db.session, buyer.id, ids[0])
    assert upline_chain(db.session, ids[0]).depth == 0


def test_expired_bindings_are_nobodys_team(shop):
    top = make_distributor()
    live, lapsed = make_user(), make_user()
    link(live, top)
    link(lapsed, top, expires_at=utcnow() - timedelta(seconds=1))
    stats = team_stats(db.session, top.id)
    assert (stats.direct_count, stats.team_size) == (1, 1)
    total, members = direct_downline(db.session, top.id)
    assert total == 1 and [m.user_id for m in members] == [live.id]

