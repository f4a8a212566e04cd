"""Periodic jobs, enqueued by exactly one scheduler among all worker processes.

Why not ``rq.cron``: its ``CronScheduler`` has no cross-process exclusion (every
process running one enqueues everything), gives jobs random ids, and its
``start()`` owns the process (signal handlers, blocking loop). Here instead a
small loop runs in a thread of each ``chatshop worker``; a Redis lock with a TTL
elects the one that enqueues, and a crashed leader is replaced once its lock
expires.

Each run gets a deterministic job id, ``periodic-<name>-<slot>`` where the slot
is wall-clock time divided by the period, enqueued with ``unique=True``; the
last id per job is kept in Redis. So a slot is enqueued at most once even across
a leader change, and a new run is not enqueued while the previous one is still
waiting or running (no pile-up behind a busy or stopped worker).
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
from rq import Queue
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus

from core.queues import DEFAULT, PAYMENTS
from workers import jobs

log = logging.getLogger(__name__)

LOCK_KEY = "chatshop:scheduler:lock"
LAST_JOB_KEY = "chatshop:scheduler:last:{name}"
RECONCILE_AFTER_MINUTES = 5

_IN_FLIGHT = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}

# Take the lock if free, or extend it if it is ours; 1 if we hold it afterwards.
_ACQUIRE = """
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 1 end
if redis.call('get', KEYS[1]) == ARGV[1] then
    redis.call('expire', KEYS[1], ARGV[2])
    return 1
end
return 0
"""
# Delete the lock only if it is still ours.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class PeriodicJob:
    """A job enqueued once per period on a queue."""

    name: str
    func: Callable[..., Any]
    every_seconds: int
    queue: str = DEFAULT
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    timeout: int = 300
    # What a positive result (the job returns a count) means, logged at INFO by the
    # worker: the runs themselves are routine (DEBUG), what they changed is not.
    # Empty: the job logs its own news (relay_outbox).
    reports: str = ""

    def slot(self, now: float) -> int:
        """Which period ``now`` (a Unix time) falls in."""
        return int(now // self.every_seconds)

    def job_id(self, slot: int) -> str:
        """The job id of this job's run for ``slot``."""
        return f"periodic-{self.name}-{slot}"


PERIODIC_JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob("relay_outbox", jobs.relay_outbox, every_seconds=3, timeout=120),
    PeriodicJob("cancel_expired_orders", jobs.cancel_expired_orders, every_seconds=60,
                reports="unpaid order(s) past their deadline cancelled"),
    PeriodicJob(
        "reconcile_pending_payments",
        jobs.reconcile_pending_payments,
        every_seconds=300,
        queue=PAYMENTS,
        kwargs={"older_than_minutes": RECONCILE_AFTER_MINUTES},
        reports="pending payment(s) found paid by asking WeChat Pay",
    ),
    PeriodicJob(
        "reconcile_processing_refunds",
        jobs.reconcile_processing_refunds,
        every_seconds=600,
        queue=PAYMENTS,
        kwargs={"older_than_minutes": RECONCILE_AFTER_MINUTES},
        reports="processing refund(s) settled by asking WeChat Pay",
    ),
    PeriodicJob("auto_complete_orders", jobs.auto_complete_orders, every_seconds=3600,
                reports="shipped order(s) completed automatically"),
    PeriodicJob("flush_commission_notices", jobs.flush_commission_notices, every_seconds=300,
                reports="commission message(s) queued for distributors"),
    # Matured commission becomes available within 10 minutes of its window closing.
    PeriodicJob("settle_matured_commissions", jobs.settle_matured_commissions,
                every_seconds=600, timeout=1800,
                reports="matured commission line(s) made available"),
    # WeChat payouts left "submitted" (unknown outcome) are settled by asking WeChat.
    PeriodicJob("reconcile_withdrawals", jobs.reconcile_withdrawals, every_seconds=600,
                queue=PAYMENTS, kwargs={"older_than_minutes": RECONCILE_AFTER_MINUTES},
                reports="withdrawal payout(s) settled by asking WeChat Pay"),
)


def periodic_job_named(job_id: str,
                       periodic_jobs: Sequence[PeriodicJob] = PERIODIC_JOBS) -> PeriodicJob | None:
    """The periodic job a job id (``periodic-<name>-<slot>``) is a run of, or None."""
    if not job_id.startswith("periodic-"):
        return None
    name = job_id[len("periodic-"):].rpartition("-")[0]
    return next((job for job in periodic_jobs if job.name == name), None)


class PeriodicScheduler:
    """Enqueues due periodic jobs while it holds the scheduler lock."""

    def __init__(
        self,
        connection: redis.Redis,
        periodic_jobs: Sequence[PeriodicJob] = PERIODIC_JOBS,
        lock_ttl: int = 30,
        name: str | None = None,
    ) -> None:
        """Prepare a scheduler; nothing touches Redis until ``tick`` or ``start``."""
        self.connection = connection
        self.periodic_jobs = tuple(periodic_jobs)
        self.lock_ttl = lock_ttl
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.is_leader = False
        self._acquire = connection.register_script(_ACQUIRE)
        self._release = connection.register_script(_RELEASE)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> bool:
        """Take or extend the scheduler lock; True while this scheduler leads."""
        leading = bool(self._acquire(keys=[LOCK_KEY], args=[self.name, self.lock_ttl]))
        if leading != self.is_leader:
            log.info("scheduler %s %s the lead", self.name, "took" if leading else "lost")
        self.is_leader = leading
        return leading

    def release(self) -> None:
        """Give up the lock (if still ours) so another worker can lead at once."""
        self._release(keys=[LOCK_KEY], args=[self.name])
        self.is_leader = False

    def _in_flight(self, job_id: str) -> bool:
        try:
            status = Job.fetch(job_id, connection=self.connection).get_status(refresh=False)
        except NoSuchJobError:
            return False
        return status in _IN_FLIGHT

    def enqueue_due(self, now: float | None = None) -> list[str]:
        """Enqueue every periodic job whose current slot has not run yet; returns the job ids."""
        now = time.time() if now is None else now
        enqueued: list[str] = []
        for periodic in self.periodic_jobs:
            job_id = periodic.job_id(periodic.slot(now))
            last_key = LAST_JOB_KEY.format(name=periodic.name)
            last = self.connection.get(last_key)
            last_id = last.decode() if isinstance(last, bytes) else last
            if last_id == job_id or (last_id and self._in_flight(last_id)):
                continue
            try:
                Queue(periodic.queue, connection=self.connection).enqueue(
                    periodic.func,
                    kwargs=dict(periodic.kwargs),
                    job_id=job_id,
                    unique=True,
                    job_timeout=periodic.timeout,
                    result_ttl=300,
                    failure_ttl=86400,
                )
            except DuplicateJobError:
                pass  # another leader (during a lock handover) enqueued this slot
            else:
                # Routine, every few seconds: DEBUG, so the worker's terminal shows real events.
                log.debug("scheduler %s enqueued %s", self.name, job_id)
                enqueued.append(job_id)
            self.connection.set(last_key, job_id, ex=max(2 * periodic.every_seconds, 86400))
        return enqueued

    def tick(self, now: float | None = None) -> list[str]:
        """One scheduling round: lead if possible, then enqueue what is due."""
        if not self.acquire():
            return []
        return self.enqueue_due(now)

    def run(self, poll_seconds: float = 1.0) -> None:
        """Tick until ``stop`` is called; errors are logged and the next tick retries."""
        try:
            while not self._stop.is_set():
                try:
                    self.tick()
                except redis.RedisError as exc:
                    self.is_leader = False
                    log.warning("scheduler %s: redis error, retrying: %s", self.name, exc)
                except Exception:
                    # A dead thread would silently end all periodic work while the
                    # worker itself carries on: log and keep ticking instead.
                    log.exception("scheduler %s: tick failed", self.name)
                self._stop.wait(poll_seconds)
        finally:
            try:
                self.release()
            except redis.RedisError:
                pass  # the lock expires by itself

    def start(self) -> threading.Thread:
        """Run the loop in a daemon thread of this process."""
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="chatshop-scheduler", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop and release the lock."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
