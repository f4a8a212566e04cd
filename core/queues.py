"""RQ queues of ChatShop and the one way the rest of the code enqueues work.

Flask-free: the caller passes the Redis client (the app's shared one, or a
worker's own). Jobs are named by dotted path ("workers.jobs.send_distributor_poster"),
resolved by the worker, so code below ``workers`` never imports a job's module.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import redis
from rq import Queue
from rq.exceptions import DuplicateJobError

log = logging.getLogger(__name__)

PAYMENTS = "payments"
NOTIFICATIONS = "notifications"
DEFAULT = "default"

# Listening order of a worker: money first, then what a chatting user waits for,
# then housekeeping.
QUEUE_NAMES: tuple[str, ...] = (PAYMENTS, NOTIFICATIONS, DEFAULT)


def get_queue(name: str, connection: redis.Redis) -> Queue:
    """The RQ queue ``name`` on the Redis of ``connection``."""
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}; known: {', '.join(QUEUE_NAMES)}")
    return Queue(name, connection=connection)


def worker_connection(redis_url: str, socket_timeout: float | None = None) -> redis.Redis:
    """A Redis client of its own for a worker or a scheduler.

    RQ raises the client's socket timeout above its blocking-pop timeout; a
    client of its own keeps the app's shared one at its short timeout.
    """
    return redis.Redis.from_url(redis_url, socket_connect_timeout=5, socket_timeout=socket_timeout)


def enqueue_once(
    connection: redis.Redis,
    queue_name: str,
    func: Callable[..., Any] | str,
    *args: Any,
    job_id: str,
    **options: Any,
) -> bool:
    """Enqueue ``func(*args)`` under ``job_id`` unless that job already exists; True if enqueued.

    ``func`` is best a dotted path, resolved by the worker, so callers need not
    import the job's module. ``options`` go to ``Queue.enqueue`` (retry, meta, ttl...).
    """
    queue = get_queue(queue_name, connection)
    try:
        queue.enqueue(func, *args, job_id=job_id, unique=True, **options)  # type: ignore[type-var]
    except DuplicateJobError:
        log.debug("job %s already exists, not enqueued again", job_id)
        return False
    return True
