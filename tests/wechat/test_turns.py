"""One storefront turn per message whatever WeChat retries; answers within the deadline."""
from __future__ import annotations

import threading
import time

import pytest

from bots.messages import TextReply
from tests.wechat.support import AES_KEY, event_xml, fields, open_reply, post, text_xml
from webapp.chat import dedupe
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
    from webapp.http import wechat

    def broken(openid, replies, reason, key):
        raise ConnectionError("45015 over quota")

    monkeypatch.setattr(wechat, "send_customer_service", broken)
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
    from tests.wechat.support import APP_ID, TOKEN, message_xml
    from webapp.http import wechat

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
        wechat.shutdown_turns(app)


def test_turn_records_outlive_the_replay_window(wx_app, wx, storefront):
    wx_app.config.update(WECHAT_DEDUPE_TTL_SECONDS=5, WECHAT_TIMESTAMP_WINDOW_SECONDS=300)
    post(wx, text_xml("x", msg_id=31337))
    assert get_redis().ttl(dedupe.turn_key("msg\x1f31337")) > 300


def test_a_message_opens_the_customer_service_window_once(wx, storefront):
    from webapp.chat.outbound import claim_quota

    assert claim_quota("o-window-1") == "no_window"
    for _ in range(2):  # WeChat's retry of the same MsgId counts once
        post(wx, text_xml("hello", openid="o-window-1", msg_id=4242))
    claims = [claim_quota("o-window-1") for _ in range(6)]
    assert claims == ["message"] * 5 + ["over_quota"]


# --- the claim script: nonce, turn and quota in one round trip ----------------------------


def test_begin_claims_once_and_notes_only_for_the_owner(app):
    from webapp.chat.outbound import _quota_key, interaction_note

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
    from webapp.chat.outbound import _quota_key, interaction_note

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
    from webapp.chat.outbound import _quota_key, interaction_note

    conn = get_redis()
    conn.set(_quota_key("o-begin-3"), "not a hash")  # HSET fails with WRONGTYPE
    note = interaction_note("o-begin-3", "click")
    assert dedupe.begin(conn, "msg\x1f71", 60, note=note).owner
    assert conn.get(dedupe.turn_key("msg\x1f71")) == dedupe.RUNNING
    conn.script_flush()  # a restarted server: the script is loaded again
    assert not dedupe.begin(conn, "msg\x1f71", 60, note=note).owner
