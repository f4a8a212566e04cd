"""One storefront turn per message whatever WeChat retries; answers within the deadline."""
from __future__ import annotations

import threading
import time

import pytest

from bots.messages import TextReply
from storefront import dedupe
from tests.support.wechat_messages import AES_KEY, event_xml, fields, open_reply, post, text_xml
from webapp.redis_conn import get_redis


def test_the_same_msg_id_three_times_runs_one_turn(wx, storefront):
    answers = [post(wx, text_xml("add 1 to cart", msg_id=777)).data for _ in range(3)]
    assert len(storefront.calls) == 1
    assert answers[0] == answers[1] == answers[2]
    assert b"add 1 to cart" in answers[0]


def test_concurrent_retries_run_one_turn_and_agree(wx_app, storefront):
    def slow(inbound):
        time.sleep(0.3)  # still running when the other copies arrive
        return [TextReply("order #1 created")]

    storefront.answer = slow
    xml = text_xml("checkout", msg_id=888)
    start = threading.Barrier(6)
    results: list[tuple[int, bytes]] = []
    lock = threading.Lock()

    def send():
        client = wx_app.test_client()
        start.wait()
        resp = post(client, xml)
        with lock:
            results.append((resp.status_code, resp.data))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(storefront.calls) == 1
    assert all(status == 200 for status, _ in results)
    # The owner answers the reply; copies that came while it ran answer success.
    bodies = [body for _, body in results]
    assert sum(b"order #1 created" in b for b in bodies) == 1
    assert bodies.count(b"success") == 5
    # Once finished, every retry gets the first answer.
    owner = next(b for b in bodies if b != b"success")
    assert post(wx_app.test_client(), xml).data == owner
    assert len(storefront.calls) == 1


def test_events_are_deduplicated_by_user_and_time(wx, storefront):
    now = int(time.time())
    for _ in range(3):
        post(wx, event_xml("CLICK", EventKey="MENU_CART", create_time=now))
    post(wx, event_xml("CLICK", EventKey="MENU_CART", create_time=now, openid="o-other"))
    post(wx, event_xml("CLICK", EventKey="MENU_CART", create_time=now + 1))
    post(wx, event_xml("LOCATION", Latitude="1", Longitude="2", create_time=now))
    assert len(storefront.calls) == 4


def test_encrypted_retries_get_the_same_answer_sealed_afresh(wx_app, storefront):
    wx_app.config["WECHAT_ENCODING_AES_KEY"] = AES_KEY
    client = wx_app.test_client()
    xml = text_xml("hi", msg_id=999)
    first, second = post(client, xml, mode="safe"), post(client, xml, mode="safe")
    assert first.data != second.data  # fresh IV and nonce
    assert open_reply(first) == open_reply(second)
    assert len(storefront.calls) == 1


def test_dedupe_records_expire_and_nonces_bind_one_body(app):
    conn = get_redis()
    assert dedupe.claim(conn, "msg\x1f1", ttl=60).owner
    assert dedupe.claim(conn, "msg\x1f1", ttl=60) == dedupe.Claim(owner=False, answer=None)
    dedupe.finish(conn, "msg\x1f1", "<xml/>", ttl=60)
    assert dedupe.claim(conn, "msg\x1f1", ttl=60) == dedupe.Claim(owner=False, answer="<xml/>")
    assert 0 < conn.ttl(dedupe.turn_key("msg\x1f1")) <= 60
    assert dedupe.bind_nonce(conn, "1", "n", b"a", ttl=60)
    assert dedupe.bind_nonce(conn, "1", "n", b"a", ttl=60)
    assert not dedupe.bind_nonce(conn, "1", "n", b"b", ttl=60)


# --- the reply deadline -----------------------------------------------------------------


@pytest.fixture
def short_deadline(wx_app):
    """A 0.2 s deadline, so a slow storefront is easy to simulate."""
    wx_app.config["WECHAT_REPLY_DEADLINE_SECONDS"] = 0.2
    return wx_app


def test_a_slow_turn_answers_success_in_time_and_follows_up(short_deadline, storefront,
                                                              outbound):
    release = threading.Event()

    def slow(inbound):
        release.wait(5)
        return [TextReply("here are the products"), TextReply("page 2")]

    storefront.answer = slow
    client = short_deadline.test_client()
    xml = text_xml("菜单", msg_id=1001, openid="o-slow")
    started = time.monotonic()
    resp = post(client, xml)
    assert time.monotonic() - started < 1.5
    assert resp.data == b"success"
    # WeChat's retry while the turn still runs: success, and no second turn.
    assert post(client, xml).data == b"success"
    release.set()
    sent = outbound.wait_for(1)
    assert sent == [("o-slow", [TextReply("here are the products"), TextReply("page 2")],
                     "late")]
    # A retry after the late turn finished: still success, never the replies again.
    assert post(client, xml).data == b"success"
    assert len(storefront.calls) == 1
    time.sleep(0.1)
    assert len(outbound.sent) == 1


def test_replies_beyond_the_first_go_out_as_customer_service(wx, storefront, outbound):
    storefront.answer = lambda i: [TextReply("one"), TextReply("two"), TextReply("three")]
    resp = post(wx, text_xml("x", openid="o-many"))
    assert fields(resp.get_data(as_text=True))["Content"] == "one"
    assert outbound.wait_for(1) == [("o-many", [TextReply("two"), TextReply("three")],
                                     "overflow")]
    assert outbound.keys[0].endswith("-overflow") and len(outbound.keys[0]) == 41


def test_a_single_reply_sends_nothing_else(wx, storefront, outbound):
    post(wx, text_xml("x"))
    time.sleep(0.2)
    assert outbound.sent == []


def test_customer_service_failure_is_logged_not_raised(wx, storefront, monkeypatch, caplog):
    from storefront import turns

    def broken(openid, replies, reason, key):
        raise ConnectionError("45015 over quota")

    monkeypatch.setattr(turns, "send_customer_service", broken)
    storefront.answer = lambda i: [TextReply("one"), TextReply("two")]
    assert fields(post(wx, text_xml("x")).get_data(as_text=True))["Content"] == "one"
    deadline = time.monotonic() + 5
    while "customer-service delivery failed" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "customer-service delivery failed" in caplog.text


def test_a_slow_failing_turn_apologises_later(short_deadline, storefront, outbound):
    def slow_boom(inbound):
        time.sleep(0.5)
        raise RuntimeError("boom")

    storefront.answer = slow_boom
    assert post(short_deadline.test_client(), text_xml("x", openid="o-f")).data == b"success"
    (openid, replies, reason), = outbound.wait_for(1)
    assert openid == "o-f" and reason == "late" and "Sorry" in replies[0].text


def test_the_real_storefront_answers_through_the_webhook(app):
    """No fakes: the webhook drives the storefront the other helpers built."""
    from storefront import turns
    from tests.support.wechat_messages import APP_ID, TOKEN, message_xml

    app.config.update(WECHAT_TOKEN=TOKEN, WECHAT_APP_ID=APP_ID)
    client = app.test_client()
    try:
        help_reply = post(client, text_xml("帮助", openid="o-real"))
        assert help_reply.status_code == 200
        assert fields(help_reply.get_data(as_text=True))["MsgType"] in ("text", "news")
        for xml in (message_xml("hologram", openid="o-real"),
                    event_xml("TEMPLATESENDJOBFINISH", openid="o-real", Status="success")):
            resp = post(client, xml)
            assert resp.status_code == 200
            if resp.data != b"success":
                fields(resp.get_data(as_text=True))
    finally:
        turns.shutdown_turns(app)


def test_turn_records_outlive_the_replay_window(wx_app, wx, storefront):
    wx_app.config.update(WECHAT_DEDUPE_TTL_SECONDS=5, WECHAT_TIMESTAMP_WINDOW_SECONDS=300)
    post(wx, text_xml("x", msg_id=31337))
    assert get_redis().ttl(dedupe.turn_key("msg\x1f31337")) > 300


def test_a_message_opens_the_customer_service_window_once(wx, storefront):
    from storefront.outbound import claim_quota

    assert claim_quota("o-window-1") == "no_window"
    for _ in range(2):  # WeChat's retry of the same MsgId counts once
        post(wx, text_xml("hello", openid="o-window-1", msg_id=4242))
    claims = [claim_quota("o-window-1") for _ in range(6)]
    assert claims == ["message"] * 5 + ["over_quota"]


# --- the claim script: nonce, turn and quota in one round trip ----------------------------


def test_begin_claims_once_and_notes_only_for_the_owner(app):
    from storefront.outbound import _quota_key, interaction_note

    conn = get_redis()
    note = interaction_note("o-begin-1", "text", now=1000.0)
    assert dedupe.begin(conn, "msg\x1f51", 60, note=note).owner
    assert conn.hget(_quota_key("o-begin-1"), "msg_at") == b"1000.0"
    conn.hset(_quota_key("o-begin-1"), "msg_used", 3)
    retry = dedupe.begin(conn, "msg\x1f51", 60,
                         note=interaction_note("o-begin-1", "text", now=2000.0))
    assert retry == dedupe.Claim(owner=False)
    # A retry is the same message: it neither reopens the window nor resets the count.
    assert conn.hmget(_quota_key("o-begin-1"), "msg_at", "msg_used") == [b"1000.0", b"3"]


def test_begin_refuses_a_replayed_nonce_before_claiming_or_noting(app):
    from storefront.outbound import _quota_key, interaction_note

    conn = get_redis()
    mine = dedupe.nonce_binding("1", "n-begin", b"mine", 60)
    assert dedupe.begin(conn, "msg\x1f61", 60, nonce=mine).owner
    # WeChat's retry: same query, same body, so it is the same turn.
    again = dedupe.begin(conn, "msg\x1f61", 60, nonce=mine)
    assert not again.owner and not again.replayed
    forged = dedupe.nonce_binding("1", "n-begin", b"forged", 60)
    note = interaction_note("o-begin-2", "text")
    assert dedupe.begin(conn, "msg\x1f62", 60, nonce=forged, note=note).replayed
    assert conn.get(dedupe.turn_key("msg\x1f62")) is None
    assert not conn.exists(_quota_key("o-begin-2"))
    assert 0 < conn.ttl(mine.key) <= 60


def test_broken_quota_bookkeeping_does_not_stop_the_claim(app):
    from storefront.outbound import _quota_key, interaction_note

    conn = get_redis()
    conn.set(_quota_key("o-begin-3"), "not a hash")  # HSET fails with WRONGTYPE
    note = interaction_note("o-begin-3", "click")
    assert dedupe.begin(conn, "msg\x1f71", 60, note=note).owner
    assert conn.get(dedupe.turn_key("msg\x1f71")) == dedupe.RUNNING
    conn.script_flush()  # a restarted server: the script is loaded again
    assert not dedupe.begin(conn, "msg\x1f71", 60, note=note).owner


# --- the conversation lock, taken with the claim and released with the record ----------


def _store():
    from storefront.state_store import StateStore

    return StateStore(get_redis(), ttl_seconds=3600)


def test_begin_takes_the_lock_and_reads_the_state_for_the_owner_only(app):
    from bots.dialogue.state import State

    conn = get_redis()
    store = _store()
    store.save("o-lock-1", State(lang="en"))
    first = store.lock_request("o-lock-1")
    claim = dedupe.begin(conn, "msg\x1f81", 60, lock=first)
    assert claim.owner and claim.held is not None and claim.held.state.lang == "en"
    assert conn.get("chat:lock:o-lock-1") == first.token.encode()
    # A retry neither waits for nor takes the lock.
    retry = dedupe.begin(conn, "msg\x1f81", 60, lock=store.lock_request("o-lock-1"))
    assert retry == dedupe.Claim(owner=False)
    # Another message of the same user owns its turn but not the lock (still held).
    other = dedupe.begin(conn, "msg\x1f82", 60, lock=store.lock_request("o-lock-1"))
    assert other.owner and other.held is None
    assert conn.get("chat:lock:o-lock-1") == first.token.encode()


def test_finish_records_the_answer_leaves_the_state_and_releases_in_one_go(app):
    from bots.dialogue.state import State

    conn = get_redis()
    store = _store()
    claim = dedupe.begin(conn, "msg\x1f83", 60, lock=store.lock_request("o-lock-2"))
    assert claim.held is not None and claim.held.state == State()
    claim.held.save(State(lang="en", touched=7.0))
    dedupe.finish(conn, "msg\x1f83", "<xml>a</xml>", 60, release=claim.held)
    assert conn.get("chat:lock:o-lock-2") is None
    assert store.load("o-lock-2") == State(lang="en", touched=7.0)
    assert 0 < conn.ttl("chat:state:o-lock-2") <= 3600
    assert dedupe.claim(conn, "msg\x1f83", 60) == dedupe.Claim(owner=False, answer="<xml>a</xml>")
    # The next message takes the lock again and reads what this one left.
    after = dedupe.begin(conn, "msg\x1f84", 60, lock=store.lock_request("o-lock-2"))
    assert after.held is not None and after.held.state.lang == "en"


def test_finish_leaves_a_lock_taken_by_another_turn_alone(app):
    from bots.dialogue.state import State

    conn = get_redis()
    claim = dedupe.begin(conn, "msg\x1f85", 60, lock=_store().lock_request("o-lock-3"))
    assert claim.held is not None
    conn.set("chat:lock:o-lock-3", "the-next-turn", px=10_000)  # ours expired meanwhile
    claim.held.clear()
    conn.set("chat:state:o-lock-3", State(lang="en").to_json())
    dedupe.finish(conn, "msg\x1f85", "", 60, release=claim.held)
    assert conn.get("chat:lock:o-lock-3") == b"the-next-turn"
    assert conn.get("chat:state:o-lock-3") is None  # the user saw this turn's replies
    assert conn.get(dedupe.turn_key("msg\x1f85")) == dedupe.DONE


def test_a_replayed_nonce_takes_no_lock(app):
    conn = get_redis()
    assert dedupe.begin(conn, "msg\x1f86", 60, nonce=dedupe.nonce_binding("1", "n-l", b"a", 60))
    forged = dedupe.begin(conn, "msg\x1f87", 60, nonce=dedupe.nonce_binding("1", "n-l", b"b", 60),
                          lock=_store().lock_request("o-lock-4"))
    assert forged.replayed and forged.held is None
    assert conn.get("chat:lock:o-lock-4") is None


def test_the_saved_state_is_what_the_engine_would_write(app):
    from bots.dialogue.state import State

    state = State(lang="en", touched=1.5, listing={"kind": "products", "ids": [3, 1],
                                                   "source": {"query": "茶]]>"}})
    store = _store()
    store.save("o-lock-5", state)
    assert get_redis().get("chat:state:o-lock-5").decode() == state.to_json()


# --- answers from memory, in the request; everything else in the pool -----------------


@pytest.fixture
def no_pool(monkeypatch):
    """Fail any use of the turn pool (the quick path must not need it)."""
    from storefront import turns

    def refuse(app):
        raise AssertionError("the turn pool was used")

    monkeypatch.setattr(turns, "_pool", refuse)


def test_a_quick_answer_is_given_in_the_request_and_released_with_the_record(
        wx, storefront, no_pool):
    from storefront import turns

    storefront.quick = True
    xml = text_xml("菜单", msg_id=2001, openid="o-quick-1")
    first = post(wx, xml)
    assert fields(first.get_data(as_text=True))["Content"].startswith("text:菜单")
    assert storefront.held[0] is not None  # the conversation taken with the claim
    turns.script_line(wx.application).settle()  # the last script is not waited for
    assert get_redis().get("chat:lock:o-quick-1") is None
    assert post(wx, xml).data == first.data  # WeChat's retry: the same answer, no new turn
    assert len(storefront.calls) == 1


def test_a_quick_answer_with_more_replies_sends_the_rest_as_customer_service(
        wx, storefront, outbound):
    storefront.quick = True
    storefront.answer = lambda i: [TextReply("one"), TextReply("two")]
    resp = post(wx, text_xml("x", openid="o-quick-2"))
    assert fields(resp.get_data(as_text=True))["Content"] == "one"
    assert outbound.wait_for(1) == [("o-quick-2", [TextReply("two")], "overflow")]
    assert outbound.keys[0].endswith("-overflow") and len(outbound.keys[0]) == 41


def test_a_declined_quick_answer_runs_in_the_pool_holding_the_users_lock(wx, storefront):
    seen = []
    storefront.answer = lambda i: seen.append(get_redis().get("chat:lock:o-quick-3")) or [
        TextReply("from the pool")]
    resp = post(wx, text_xml("购物车", openid="o-quick-3"))
    assert fields(resp.get_data(as_text=True))["Content"] == "from the pool"
    assert len(storefront.quick_calls) == 1 and storefront.held[0] is not None
    assert seen == [storefront.held[0].lock.token.encode()]  # held while the turn ran
    assert get_redis().get("chat:lock:o-quick-3") is None


def test_a_failing_quick_path_falls_back_to_the_pool(wx, storefront, monkeypatch, caplog):
    from storefront import turns

    def broken(openid, inbound, held):
        held.save(object())  # whatever it did is forgotten
        raise RuntimeError("quick path bug")

    monkeypatch.setattr(turns, "storefront_quick", broken)
    resp = post(wx, text_xml("x", openid="o-quick-4"))
    assert fields(resp.get_data(as_text=True))["Content"].startswith("text:x")
    assert len(storefront.calls) == 1 and "quick path bug" in caplog.text
    assert get_redis().get("chat:lock:o-quick-4") is None


def test_a_late_turn_holds_the_users_lock_until_it_is_done(short_deadline, storefront,
                                                          outbound):
    release = threading.Event()
    storefront.answer = lambda i: release.wait(5) and [TextReply("late answer")]
    client = short_deadline.test_client()
    assert post(client, text_xml("x", openid="o-quick-5")).data == b"success"
    # The next message of this user must wait for the late one to finish.
    assert get_redis().get("chat:lock:o-quick-5") is not None
    release.set()
    assert outbound.wait_for(1)[0][2] == "late"
    deadline = time.monotonic() + 5
    while get_redis().get("chat:lock:o-quick-5") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert get_redis().get("chat:lock:o-quick-5") is None


def test_a_user_busy_with_another_message_waits_in_the_pool(wx, storefront):
    get_redis().set("chat:lock:o-quick-6", "another-turn", px=300)
    resp = post(wx, text_xml("x", openid="o-quick-6"))
    assert fields(resp.get_data(as_text=True))["Content"].startswith("text:x")
    assert storefront.quick_calls == []  # no lock, no state: nothing to answer from memory
    assert storefront.held == [None]  # the storefront takes the lock itself, waiting


def test_a_quick_answer_is_sealed_in_safe_mode_and_retries_get_it_again(wx_app, storefront,
                                                                         no_pool):
    wx_app.config["WECHAT_ENCODING_AES_KEY"] = AES_KEY
    storefront.quick = True
    client = wx_app.test_client()
    xml = text_xml("分类", msg_id=2002, openid="o-quick-7")
    first, second = post(client, xml, mode="safe"), post(client, xml, mode="safe")
    assert fields(open_reply(first))["Content"].startswith("text:分类")
    assert open_reply(first) == open_reply(second) and len(storefront.calls) == 1
