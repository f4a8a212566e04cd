"""Bindings under real concurrency: one binding per person, never a loop."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from referral.binding import BindingRefused, bind
from referral.domain.rules import BindingSource
from referral.tree import is_above
from tests.support.factories import make_distributor, make_user
from tests.support.referral import audit_count, set_rules, upline_of
from webapp.extensions import db


def _race(app, attempts):
    """Run ``attempts`` (user id, upline id) at the same moment; outcome per attempt."""
    start = threading.Barrier(len(attempts))

    def attempt(pair):
        user_id, upline_id = pair
        with app.app_context():
            start.wait()
            try:
                return "bound" if bind(db.session, user_id, upline_id, BindingSource.QR).changed \
                    else "kept"
            except BindingRefused as exc:
                return str(exc.code)
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        return list(pool.map(attempt, attempts))


@pytest.mark.parametrize("shop", ["app", "pg_app"])
def test_the_same_scan_from_several_servers_binds_once(shop, request):
    app = request.getfixturevalue(shop)
    alice = make_distributor()
    bob = make_user()
    outcomes = _race(app, [(bob.id, alice.id)] * 8)
    assert sorted(outcomes) == ["bound"] + ["kept"] * 7
    assert upline_of(bob) == alice.id
    assert audit_count("referral.bound", bob) == 1


def test_first_touch_race_between_distributors_has_one_winner(pg_app):
    uplines = [make_distributor() for _ in range(6)]
    bob = make_user()
    outcomes = _race(pg_app, [(bob.id, u.id) for u in uplines])
    assert outcomes.count("bound") == 1 and outcomes.count("kept") == 5
    assert upline_of(bob) == uplines[outcomes.index("bound")].id
    assert audit_count("referral.bound", bob) == 1


def test_two_distributors_binding_each_other_at_once_never_make_a_loop(pg_app):
    set_rules(binding_mode="last_touch")
    for _ in range(5):
        a, b = make_distributor(), make_distributor()
        outcomes = _race(pg_app, [(a.id, b.id), (b.id, a.id)])
        assert sorted(outcomes) == ["bound", "cycle"]
        db.session.expire_all()
        assert not (is_above(db.session, a.id, b.id) and is_above(db.session, b.id, a.id))
