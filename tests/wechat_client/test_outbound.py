"""Customer-service messages: WeChat's quota windows, refusals, retries and the RQ job."""
from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from flask import Flask
from rq import Queue

from bots.messages import ArticleReply, InboundKind, TextReply
from core.queues import NOTIFICATIONS
from storefront.outbound import (
    EVENT_LIMIT,
    MESSAGE_LIMIT,
    TransientSendError,
    claim_quota,
    deliver_now,
    delivery_log,
    note_payment,
    note_user_interaction,
    send_customer_service,
)
from tests.support.fake_wechat import FakeWeChat
from webapp.redis_conn import get_redis

USER = "o-buyer-1"
T0 = 1_700_000_000.0
HOUR = 3600.0


def _texts(n: int) -> list[TextReply]:
    return [TextReply(f"message {i}") for i in range(n)]


def _sent_texts(fake: FakeWeChat) -> list[str]:
    return [m["text"]["content"] for m in fake.sent if m["msgtype"] == "text"]


def test_nothing_is_sent_outside_every_window(wx_app: Flask, fake: FakeWeChat):
    report = deliver_now(USER, _texts(1), now=T0)
    assert (report.sent, report.dropped) == (0, 1)
    assert fake.sent == []
    assert fake.token_calls == 0
    assert delivery_log()[0]["status"] == "dropped"
    assert delivery_log()[0]["why"] == "no_window"


def test_five_messages_within_48_hours_of_a_user_message(wx_app: Flask, fake: FakeWeChat):
    assert note_user_interaction(USER, InboundKind.TEXT, now=T0)
    report = deliver_now(USER, _texts(MESSAGE_LIMIT + 1), now=T0 + 47 * HOUR)
    assert report.outcomes == ["sent"] * MESSAGE_LIMIT + ["dropped"]
    assert _sent_texts(fake) == [f"message {i}" for i in range(MESSAGE_LIMIT)]
    assert delivery_log()[0]["why"] == "over_quota"


def test_the_message_window_closes_after_48_hours(wx_app: Flask, fake: FakeWeChat):
    note_user_interaction(USER, "text", now=T0)
    assert claim_quota(USER, now=T0 + 48 * HOUR + 1) == "no_window"


def test_a_new_user_message_starts_a_new_count(wx_app: Flask, fake: FakeWeChat):
    note_user_interaction(USER, "text", now=T0)
    for _ in range(MESSAGE_LIMIT):
        assert claim_quota(USER, now=T0 + 1) == "message"
    assert claim_quota(USER, now=T0 + 2) == "over_quota"
    note_user_interaction(USER, "media", now=T0 + 3)
    assert claim_quota(USER, now=T0 + 4) == "message"


@pytest.mark.parametrize("kind", [InboundKind.CLICK, InboundKind.SUBSCRIBE, InboundKind.SCAN])
def test_three_messages_within_a_minute_of_a_click_follow_or_scan(
    wx_app: Flask, fake: FakeWeChat, kind: InboundKind
):
    note_user_interaction(USER, kind, now=T0)
    assert [claim_quota(USER, now=T0 + 30) for _ in range(EVENT_LIMIT + 1)] == (
        ["event"] * EVENT_LIMIT + ["over_quota"]
    )


def test_the_event_window_lasts_one_minute(wx_app: Flask, fake: FakeWeChat):
    note_user_interaction(USER, "click", now=T0)
    assert claim_quota(USER, now=T0 + 61) == "no_window"


def test_the_short_event_window_is_spent_before_the_message_window(
    wx_app: Flask, fake: FakeWeChat
):
    note_user_interaction(USER, "text", now=T0)
    note_user_interaction(USER, "click", now=T0 + 10)
    used = [claim_quota(USER, now=T0 + 20) for _ in range(EVENT_LIMIT + MESSAGE_LIMIT + 1)]
    assert used == ["event"] * EVENT_LIMIT + ["message"] * MESSAGE_LIMIT + ["over_quota"]


@pytest.mark.parametrize("kind", [InboundKind.VIEW, InboundKind.OTHER, "nonsense"])
def test_other_kinds_open_no_window(wx_app: Flask, fake: FakeWeChat, kind: str):
    assert not note_user_interaction(USER, kind, now=T0)
    assert claim_quota(USER, now=T0 + 1) == "no_window"


def test_unsubscribe_closes_every_window(wx_app: Flask, fake: FakeWeChat):
    note_user_interaction(USER, "text", now=T0)
    note_payment(USER, now=T0)
    note_user_interaction(USER, InboundKind.UNSUBSCRIBE, now=T0 + 1)
    assert claim_quota(USER, now=T0 + 2) == "no_window"


def test_unlimited_messages_within_48_hours_after_a_payment(wx_app: Flask, fake: FakeWeChat):
    note_payment(USER, now=T0)
    report = deliver_now(USER, _texts(12), reason="payment", now=T0 + 47 * HOUR)
    assert report.sent == 12
    assert claim_quota(USER, now=T0 + 48 * HOUR + 1) == "no_window"


def test_an_article_is_sent_as_news_with_one_article(wx_app: Flask, fake: FakeWeChat):
    note_user_interaction(USER, "text")
    card = ArticleReply("茶 <b>&", "desc", "http://img.test/1.png", "http://shop.test/p/1")
    assert deliver_now(USER, [card]).sent == 1
    assert fake.sent == [{
        "touser": USER,
        "msgtype": "news",
        "news": {"articles": [{"title": "茶 <b>&", "description": "desc",
                               "url": "http://shop.test/p/1",
                               "picurl": "http://img.test/1.png"}]},
    }]


@pytest.mark.parametrize("errcode", [45015, 45047])
def test_a_quota_refusal_drops_and_closes_the_windows(
    wx_app: Flask, fake: FakeWeChat, errcode: int
):
    note_user_interaction(USER, "text", now=T0)
    note_payment(USER, now=T0)
    fake.send_script = [errcode]
    report = deliver_now(USER, _texts(3), now=T0 + 1)
    assert report.outcomes == ["dropped", "dropped", "dropped"]
    # Only the first reached WeChat: the others were dropped here, no retry storm.
    assert fake.send_script == [] and fake.sent == []
    statuses = [e["why"] for e in delivery_log()]
    assert statuses == ["over_quota", "over_quota", f"errcode {errcode}"]
    note_user_interaction(USER, "text", now=T0 + 2)
    assert deliver_now(USER, _texts(1), now=T0 + 3).sent == 1


def test_a_final_refusal_fails_that_message_only(wx_app: Flask, fake: FakeWeChat):
    note_user_interaction(USER, "text")
    fake.send_script = [40003]
    report = deliver_now(USER, _texts(2))
    assert report.outcomes == ["failed", "sent"]
    assert _sent_texts(fake) == ["message 1"]


@pytest.mark.parametrize("failure", ["http500", -1])
def test_a_network_error_resumes_where_it_stopped(wx_app: Flask, fake: FakeWeChat, failure):
    note_user_interaction(USER, "text", now=T0)
    fake.send_script = [None, failure]
    with pytest.raises(TransientSendError):
        deliver_now(USER, _texts(3), delivery_id="d1", now=T0 + 1)
    assert _sent_texts(fake) == ["message 0"]
    report = deliver_now(USER, _texts(3), delivery_id="d1", now=T0 + 2)
    assert report.outcomes == ["sent", "sent"]
    assert _sent_texts(fake) == ["message 0", "message 1", "message 2"]
    # Three messages, three claims: the retried one was not counted twice.
    assert [claim_quota(USER, now=T0 + 3) for _ in range(3)] == ["message", "message",
                                                                 "over_quota"]
    assert deliver_now(USER, _texts(3), delivery_id="d1", now=T0 + 4).outcomes == []


def test_unreachable_wechat_is_transient(make_app):
    app = make_app(WECHAT_API_BASE_URL="http://127.0.0.1:9/cgi-bin/",
                        WECHAT_HTTP_TIMEOUT_SECONDS=1)
    with app.app_context():
        get_redis().flushdb()
        note_user_interaction(USER, "text")
        with pytest.raises(TransientSendError):
            deliver_now(USER, _texts(1))
        assert delivery_log()[0]["status"] == "retry"
        get_redis().flushdb()


def test_send_customer_service_runs_as_a_job(
    wx_app: Flask, fake: FakeWeChat, work_queues: Callable[[], bool]
):
    note_user_interaction(USER, "text")
    job_id = send_customer_service(USER, [TextReply("一"), TextReply("二")], reason="reply")
    assert job_id is not None
    queue = Queue(NOTIFICATIONS, connection=get_redis())
    assert queue.job_ids == [job_id]
    job = queue.fetch_job(job_id)
    assert job is not None and job.retries_left == 3
    assert fake.sent == []
    work_queues()
    assert _sent_texts(fake) == ["一", "二"]
    assert queue.fetch_job(job_id).return_value() == 2  # type: ignore[union-attr]


def test_a_keyed_delivery_is_queued_once(
    wx_app: Flask, fake: FakeWeChat, work_queues: Callable[[], bool]
):
    note_payment(USER)
    assert send_customer_service(USER, [TextReply("paid")], "payment", key="paid-CS1")
    assert send_customer_service(USER, [TextReply("paid")], "payment", key="paid-CS1") is None
    work_queues()
    assert _sent_texts(fake) == ["paid"]


def test_nothing_to_send_queues_nothing(wx_app: Flask):
    assert send_customer_service(USER, []) is None
    assert Queue(NOTIFICATIONS, connection=get_redis()).count == 0


def test_a_failed_job_is_retried_later(
    wx_app: Flask, fake: FakeWeChat, work_queues: Callable[[], bool]
):
    note_user_interaction(USER, "text")
    fake.send_script = ["http500"]
    job_id = send_customer_service(USER, [TextReply("x")])
    work_queues()
    job = Queue(NOTIFICATIONS, connection=get_redis()).fetch_job(job_id or "")
    assert job is not None
    assert job.get_status() == "scheduled"
    assert job.retries_left == 2
    assert fake.sent == []


def test_quota_state_expires_with_its_windows(wx_app: Flask):
    note_user_interaction(USER, "text", now=time.time())
    ttl = get_redis().ttl(f"chatshop:cs:quota:{USER}")
    assert 48 * 3600 < ttl <= 49 * 3600
