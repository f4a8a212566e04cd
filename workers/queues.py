"""RQ queues of ChatShop and the one way the rest of the code enqueues work."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import redis
from flask import Flask, current_app
from rq import Queue
from rq.exceptions import DuplicateJobError

from webapp.redis_conn import get_redis, resolve_redis_url

log = logging.getLogger(__name__)

PAYMENTS = "payments"
NOTIFICATIONS = "notifications"
DEFAULT = "default"

# Listening order of a worker: money first, then what a chatting user waits for,
# then housekeeping.
QUEUE_NAMES: tuple[str, ...] = (PAYMENTS, NOTIFICATIONS, DEFAULT)


def _app(app: Flask | None) -> Flask:
    return app or current_app._get_current_object()  # type: ignore[attr-defined]


def get_queue(name: str, app: Flask | None = None) -> Queue:
    """The RQ queue ``name`` on the app's Redis."""
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}; known: {', '.join(QUEUE_NAMES)}")
    return Queue(name, connection=get_redis(_app(app)))


def worker_connection(app: Flask | None = None, socket_timeout: float | None = None) -> redis.Redis:
    """A Redis client of its own for a worker or a scheduler.

    RQ raises the client's socket timeout above its blocking-pop timeout; a
    client of its own keeps the app's shared one at its short timeout.
    """
    return redis.Redis.from_url(
        resolve_redis_url(_app(app)), socket_connect_timeout=5, socket_timeout=socket_timeout
    )


def enqueue_once(
    queue_name: str,
    func: Callable[..., Any] | str,
    *args: Any,
    job_id: str,
    app: Flask | None = None,
    **options: Any,
) -> bool:
    """Enqueue ``func(*args)`` under ``job_id`` unless that job already exists; True if enqueued.

    ``func`` may be a dotted path, resolved by the worker, so callers need not
    import the job's module. ``options`` go to ``Queue.enqueue`` (retry, meta, ttl...).
    """
    queue = get_queue(queue_name, app)
    try:
        queue.enqueue(func, *args, job_id=job_id, unique=True, **options)  # type: ignore[type-var]
    except DuplicateJobError:
        log.debug("job %s already exists, not enqueued again", job_id)
        return False
    return True
