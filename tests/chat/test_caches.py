"""The per-process caches that keep browsing cheap: lists and followers."""
from __future__ import annotations

from bots.messages import Inbound, InboundKind
from core.models import Role, User, UserRole
from storefront.browse_cache import BrowseCache
from storefront.storefront import respond
from tests.support.factories import make_category, make_product
from tests.support.settings import reconfigure
from webapp.extensions import db


def test_browse_cache_reuses_a_value_until_it_is_old():
    cache = BrowseCache(ttl=60)
    calls = []
    assert cache.get_or_compute("k", lambda: calls.append(1) or "v1") == "v1"
    assert cache.get_or_compute("k", lambda: calls.append(1) or "v2") == "v1"
    assert len(calls) == 1
    assert BrowseCache(ttl=0).get_or_compute("k", lambda: "fresh") == "fresh"


def test_browse_cache_is_bounded():
    cache = BrowseCache(ttl=60, size=2)
    for key in "abc":
        cache.get_or_compute(key, lambda key=key: key)
    assert cache.get_or_compute("a", lambda: "recomputed") == "recomputed"


def _text(replies):
    return " ".join(getattr(r, "text", "") or getattr(r, "title", "") for r in replies)


def test_lists_lag_by_at_most_the_cache_time_but_stay_correct_without_it(app):
    reconfigure(app, CHAT_BROWSE_CACHE_SECONDS=60)
    app.extensions.pop("chatshop.browse_cache", None)
    tea = make_category("茶叶")
    make_product(category=tea, title="龙井")
    first = _text(respond(db.session, "o-cache-1", Inbound(InboundKind.TEXT, "分类")))
    assert "茶叶" in first
    make_product(category=make_category("水果"), title="芒果")
    cached = _text(respond(db.session, "o-cache-1", Inbound(InboundKind.TEXT, "分类")))
    assert "水果" not in cached  # served from the cache
    app.extensions.pop("chatshop.browse_cache", None)
    reconfigure(app, CHAT_BROWSE_CACHE_SECONDS=0)
    fresh = _text(respond(db.session, "o-cache-1", Inbound(InboundKind.TEXT, "分类")))
    assert "水果" in fresh


def test_follow_and_unfollow_always_reach_the_database(app):
    respond(db.session, "o-cache-2", Inbound(InboundKind.TEXT, "help"))
    respond(db.session, "o-cache-2", Inbound(InboundKind.UNSUBSCRIBE))
    db.session.rollback()
    user = db.session.query(User).filter_by(openid="o-cache-2").one()
    assert user.subscribed is False
    respond(db.session, "o-cache-2", Inbound(InboundKind.SUBSCRIBE))
    db.session.rollback()
    assert db.session.get(User, user.id).subscribed is True


def test_a_new_role_is_seen_after_the_follower_cache_expires(app):
    respond(db.session, "o-cache-3", Inbound(InboundKind.TEXT, "help"))
    cache = app.extensions["chatshop.chat_followers"]
    user = db.session.query(User).filter_by(openid="o-cache-3").one()
    user.roles.append(UserRole(role=str(Role.DISTRIBUTOR)))
    db.session.commit()
    cache.ttl = 0
    actor = cache.actor(db.session, "o-cache-3", InboundKind.TEXT)
    assert Role.DISTRIBUTOR in actor.roles
