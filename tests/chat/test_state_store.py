"""The dialogue state store's Lua scripts: lock + load and save + release, each one round trip."""
from __future__ import annotations

import threading
import time

import pytest

from bots.dialogue.state import State
from storefront.state_store import LOCK_SECONDS, Busy, StateStore
from webapp.redis_conn import get_redis

OPENID = "o-store-1"
LOCK = f"chat:lock:{OPENID}"
STATE = f"chat:state:{OPENID}"


@pytest.fixture
def store(app):
    return StateStore(get_redis(), ttl_seconds=3600)


def test_taking_the_lock_reads_the_state_the_last_holder_saved(store):
    with store.conversation(OPENID) as convo:
        assert convo.state == State()
        assert 0 < get_redis().pttl(LOCK) <= LOCK_SECONDS * 1000
        convo.save(State(lang="en", touched=5.0))
    assert get_redis().get(LOCK) is None
    assert 0 < get_redis().ttl(STATE) <= 3600
    with store.conversation(OPENID) as convo:
        assert convo.state == State(lang="en", touched=5.0)


def test_a_held_lock_makes_the_next_turn_wait_then_see_the_new_state(store):
    held = threading.Event()

    def first():
        with store.conversation(OPENID) as convo:
            held.set()
            time.sleep(0.2)
            convo.save(State(lang="en", touched=1.0))

    thread = threading.Thread(target=first)
    thread.start()
    held.wait(5)
    started = time.monotonic()
    with store.conversation(OPENID, wait_seconds=5) as convo:
        waited = time.monotonic() - started
        assert convo.state.lang == "en"  # read after the first turn saved, never before
    thread.join()
    assert 0.1 < waited < 2


def test_a_lock_held_too_long_is_busy_and_left_alone(store):
    get_redis().set(LOCK, "someone-else", px=10_000)
    get_redis().set(STATE, State(lang="en").to_json())
    started = time.monotonic()
    with pytest.raises(Busy), store.conversation(OPENID, wait_seconds=0.1):
        pass
    assert 0.1 <= time.monotonic() - started < 1
    assert get_redis().get(LOCK) == b"someone-else"
    assert State.from_json(get_redis().get(STATE)).lang == "en"


def test_release_needs_the_right_token(store):
    with store.conversation(OPENID) as convo:
        # Our lock expired and another turn took it: that one is not ours to release.
        get_redis().set(LOCK, "the-next-turn", px=10_000)
        convo.save(State(lang="en"))
    assert get_redis().get(LOCK) == b"the-next-turn"
    # The state is still written: the user has seen this turn's replies.
    assert State.from_json(get_redis().get(STATE)).lang == "en"


def test_a_failed_turn_releases_the_lock_and_keeps_the_state(store):
    get_redis().set(STATE, State(lang="en").to_json())
    with pytest.raises(RuntimeError), store.conversation(OPENID) as convo:
        convo.save(State(lang="zh", touched=9.0))
        raise RuntimeError("boom")
    assert get_redis().get(LOCK) is None
    assert State.from_json(get_redis().get(STATE)).lang == "en"


def test_clear_forgets_the_state_and_keep_leaves_it(store):
    get_redis().set(STATE, State(lang="en").to_json())
    with store.conversation(OPENID):
        pass
    assert State.from_json(get_redis().get(STATE)).lang == "en"
    with store.conversation(OPENID) as convo:
        convo.clear()
    assert get_redis().get(STATE) is None and get_redis().get(LOCK) is None


def test_scripts_survive_a_flushed_script_cache(store):
    get_redis().script_flush()
    with store.conversation(OPENID) as convo:
        convo.save(State(lang="en"))
    get_redis().script_flush()
    with store.conversation(OPENID):
        assert get_redis().get(LOCK)
    assert get_redis().get(LOCK) is None
