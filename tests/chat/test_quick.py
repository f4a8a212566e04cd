"""respond_quickly: answers from memory alone (follower and browse caches), or declines."""
from __future__ import annotations

from typing import Any

import pytest

from bots.messages import Inbound, InboundKind, TextReply
from storefront.state_store import Conversation
from storefront.storefront import respond, respond_quickly, state_store
from tests.support.factories import make_category, make_product
from tests.support.settings import reconfigure
from tests.support.wechat_messages import fields, post, text_xml
from webapp.extensions import db
from webapp.redis_conn import get_redis

OPENID = "o-quick-buyer"


def _held(openid: str = OPENID) -> Conversation:
    store = state_store()
    return store.lock_request(openid).conversation(get_redis().get(f"chat:state:{openid}"))


def _say(text: str, openid: str = OPENID) -> str:
    replies = respond(db.session, openid, Inbound(InboundKind.TEXT, text))
    db.session.rollback()
    return "\n".join(r.text for r in replies if isinstance(r, TextReply))


@pytest.fixture
def shop(app: Any) -> Any:
    reconfigure(app, CHAT_BROWSE_CACHE_SECONDS=60)
    app.extensions.pop("chatshop.browse_cache", None)
    tea = make_category("茶叶")
    make_product(category=tea, title="龙井", price_fen=2980)
    db.session.commit()
    return app


def test_an_unknown_follower_is_never_answered_quickly(shop):
    held = _held("o-quick-stranger")
    assert respond_quickly("o-quick-stranger", Inbound(InboundKind.TEXT, "菜单"), held) is None
    assert held.outcome == "keep"


def test_a_cached_list_is_answered_quickly_like_respond_would(shop):
    slow = _say("分类")  # the first time fills the follower and browse caches
    held = _held()
    quick = respond_quickly(OPENID, Inbound(InboundKind.TEXT, "分类"), held)
    assert quick is not None and "\n".join(r.text for r in quick) == slow
    assert held.outcome == "save" and held.saved.listing["kind"] == "categories"
    # Menus and help need no intent at all.
    assert respond_quickly(OPENID, Inbound(InboundKind.TEXT, "help"), _held())


@pytest.mark.parametrize("text", ["搜索 从没搜过", "购物车", "订单", "1"])
def test_whatever_needs_the_database_is_declined_untouched(shop, text):
    _say("分类")
    held = _held()
    assert respond_quickly(OPENID, Inbound(InboundKind.TEXT, text), held) is None
    assert held.outcome == "keep" and held.saved is None


@pytest.mark.parametrize("kind", [InboundKind.SUBSCRIBE, InboundKind.UNSUBSCRIBE])
def test_follow_and_unfollow_are_never_answered_quickly(shop, kind):
    _say("分类")
    assert respond_quickly(OPENID, Inbound(kind), _held()) is None


def test_browsing_through_the_webhook_skips_the_pool_once_cached(shop, monkeypatch):
    from storefront import turns
    from tests.support.wechat_messages import APP_ID, TOKEN

    shop.config.update(WECHAT_TOKEN=TOKEN, WECHAT_APP_ID=APP_ID, WECHAT_ENCODING_AES_KEY="")
    client = shop.test_client()
    try:
        first = fields(post(client, text_xml("分类", openid=OPENID)).get_data(as_text=True))
        used = []
        real_pool = turns._pool
        monkeypatch.setattr(turns, "_pool", lambda app: used.append(1) or real_pool(app))
        again = fields(post(client, text_xml("分类", openid=OPENID)).get_data(as_text=True))
        assert again["Content"] == first["Content"] and used == []
        turns.script_line(shop).settle()  # its last script was not waited for
        assert get_redis().get(f"chat:lock:{OPENID}") is None
        # The state the quick turn saved is what the next message builds on.
        chosen = fields(post(client, text_xml("1", openid=OPENID)).get_data(as_text=True))
        assert "龙井" in chosen["Content"] and used == [1]
    finally:
        turns.shutdown_turns(shop)


def test_a_failed_intent_is_left_to_the_full_path(shop, monkeypatch):
    from bots.dialogue import events as ev
    from storefront.executor import Executor

    _say("分类")
    monkeypatch.setattr(Executor, "run", lambda self, intent: ev.Failed(type(intent), "internal"))
    held = _held()
    assert respond_quickly(OPENID, Inbound(InboundKind.TEXT, "分类"), held) is None
    assert held.outcome == "keep"
