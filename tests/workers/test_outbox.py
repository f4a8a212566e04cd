"""The outbox relay: every message published once, its handler jobs enqueued once."""
from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import redis

from core.journal import announce
from core.models import OutboxMessage
from core.queues import DEFAULT, NOTIFICATIONS, enqueue_once, get_queue
from webapp.extensions import db
from webapp.redis_conn import get_redis
from workers import jobs, outbox
from workers.outbox import OutboxHandler, relay_outbox

HANDLED_KEY = "test:outbox:handled"


def record_payload(payload: dict[str, Any]) -> None:
    """Test handler job: remember what it was given."""
    get_redis().rpush(HANDLED_KEY, json.dumps(payload, sort_keys=True))


class RecordingEnqueue:
    """Stands in for the queue: records calls, refuses a job id it has seen."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls: list[tuple[str, Any, tuple[Any, ...], str]] = []
        self.delay = delay
        self._lock = threading.Lock()

    def __call__(self, queue_name: str, func: Any, *args: Any, job_id: str, **options: Any) -> bool:
        time.sleep(self.delay)
        with self._lock:
            seen = any(call[3] == job_id for call in self.calls)
            self.calls.append((queue_name, func, args, job_id))
        return not seen


def _announce(topic: str, **payload: Any) -> None:
    announce(db.session, topic, **payload)
    db.session.commit()


def _messages() -> list[OutboxMessage]:
    db.session.expire_all()
    return db.session.query(OutboxMessage).order_by(OutboxMessage.id).all()


HANDLERS = {
    "order.paid": (OutboxHandler("record_paid", record_payload),),
    "order.shipped": (
        OutboxHandler("record_shipped", record_payload),
        OutboxHandler("notify_buyer", record_payload, queue=NOTIFICATIONS),
    ),
}


def test_relay_enqueues_each_handler_once_and_marks_rows(app):
    _announce("order.paid", order_id=1)
    _announce("order.created", order_id=2)  # no handler: just marked published
    _announce("order.shipped", order_id=3)
    enqueue = RecordingEnqueue()

    assert relay_outbox(db.session, enqueue, handlers=HANDLERS) == 3
    rows = _messages()
    assert [(q, args, job_id) for q, _, args, job_id in enqueue.calls] == [
        (DEFAULT, ({"order_id": 1},), f"outbox-{rows[0].id}-record_paid"),
        (DEFAULT, ({"order_id": 3},), f"outbox-{rows[2].id}-record_shipped"),
        (NOTIFICATIONS, ({"order_id": 3},), f"outbox-{rows[2].id}-notify_buyer"),
    ]
    assert all(row.published_at is not None and row.attempts == 1 for row in rows)

    assert relay_outbox(db.session, enqueue, handlers=HANDLERS) == 0
    assert len(enqueue.calls) == 3


def test_relay_respects_the_batch_size_and_id_order(app):
    for n in range(5):
        _announce("order.paid", order_id=n)
    enqueue = RecordingEnqueue()
    assert relay_outbox(db.session, enqueue, batch=2, handlers=HANDLERS) == 2
    assert relay_outbox(db.session, enqueue, batch=2, handlers=HANDLERS) == 2
    assert relay_outbox(db.session, enqueue, batch=2, handlers=HANDLERS) == 1
    assert [args[0]["order_id"] for _, _, args, _ in enqueue.calls] == [0, 1, 2, 3, 4]


def test_a_failed_enqueue_leaves_the_message_for_the_next_run(app):
    _announce("order.paid", order_id=1)
    _announce("order.paid", order_id=2)

    def broken(queue_name: str, func: Any, *args: Any, job_id: str, **options: Any) -> bool:
        if args[0]["order_id"] == 2:
            raise redis.ConnectionError("redis went away")
        return True

    with pytest.raises(redis.ConnectionError):
        relay_outbox(db.session, broken, handlers=HANDLERS)
    first, second = _messages()
    assert first.published_at is not None and first.attempts == 1
    assert second.published_at is None and second.attempts == 1

    assert relay_outbox(db.session, RecordingEnqueue(), handlers=HANDLERS) == 1
    assert _messages()[1].attempts == 2


def test_a_relay_that_crashed_before_commit_does_not_enqueue_twice(app):
    """Job ids are deterministic: re-relaying a message finds its jobs already queued."""
    _announce("order.shipped", order_id=7)

    def enqueue(queue_name: str, func: Any, *args: Any, job_id: str, **options: Any) -> bool:
        return enqueue_once(get_redis(), queue_name, func, *args, job_id=job_id, **options)

    relay_outbox(db.session, enqueue, handlers=HANDLERS)
    message = _messages()[0]
    message.published_at = None  # as if the commit after enqueueing had been lost
    db.session.commit()
    relay_outbox(db.session, enqueue, handlers=HANDLERS)

    assert get_queue(DEFAULT, get_redis()).count == 1
    assert get_queue(NOTIFICATIONS, get_redis()).count == 1
    assert _messages()[0].attempts == 2


def test_the_relay_job_publishes_through_the_real_queues(app, work_queues, monkeypatch):
    monkeypatch.setattr(outbox, "HANDLERS", HANDLERS)
    _announce("order.paid", order_id=11)
    _announce("order.shipped", order_id=12)
    get_queue(DEFAULT, get_redis()).enqueue(jobs.relay_outbox)

    work_queues()  # the relay job, then the handler jobs it enqueued
    work_queues()

    handled = sorted(get_redis().lrange(HANDLED_KEY, 0, -1))
    assert handled == sorted(
        [b'{"order_id": 11}', b'{"order_id": 12}', b'{"order_id": 12}']
    )
    assert all(row.published_at is not None for row in _messages())


@pytest.mark.postgres
def test_two_concurrent_relays_never_publish_the_same_message(pg_app):
    count = 120
    for n in range(count):
        announce(db.session, "order.paid", order_id=n)
    db.session.commit()
    # A slow queue keeps each relay's transaction (and its row locks) open a while.
    enqueue = RecordingEnqueue(delay=0.002)
    start = threading.Barrier(2)
    errors: list[BaseException] = []
    published: dict[int, list[int]] = {0: [], 1: []}

    def relay(index: int) -> None:
        try:
            with pg_app.app_context():
                start.wait()
                while True:
                    n = relay_outbox(db.session, enqueue, batch=10, handlers=HANDLERS)
                    published[index].append(n)
                    if n == 0:
                        break
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=relay, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert not errors
    job_ids = [call[3] for call in enqueue.calls]
    assert len(job_ids) == count
    assert len(set(job_ids)) == count
    assert sum(published[0]) + sum(published[1]) == count
    assert sum(published[0]) > 0 and sum(published[1]) > 0, "the relays did not overlap"
    rows = _messages()
    assert all(row.published_at is not None and row.attempts == 1 for row in rows)
