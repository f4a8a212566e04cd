"""Run an RQ worker for a ChatShop app: jobs in app contexts, with the schedulers.

This is the only way jobs run: ``chatshop worker`` (``webapp.commands.worker``)
hands its app in, and every job runs inside that app's context.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import redis
from flask import Flask
from rq import Queue, Worker
from rq.executions import Execution
from rq.job import Job, JobStatus

from core.queues import QUEUE_NAMES, worker_connection
from workers.context import database
from workers.schedule import PERIODIC_JOBS, PeriodicJob, PeriodicScheduler, periodic_job_named

log = logging.getLogger(__name__)

RQ_LOGGERS = ("rq.worker", "rq.job")


# RQ's routine worker lines that are not about one job: registry maintenance (every 10 min).
ROUTINE_WORKER_LINES = ("cleaning registries for queue", "cleaning group registries")


def periodic_job_markers(periodic_jobs: Sequence[PeriodicJob] = PERIODIC_JOBS) -> tuple[str, ...]:
    """Text that identifies a periodic job in RQ's log lines: its job id or its description.

    RQ names a job by id when it starts and ends it ("... (periodic-relay_outbox-123)")
    and by its description (``workers.jobs.relay_outbox()``) in the success line.
    """
    names = {f"{job.func.__module__}.{job.func.__qualname__}(" for job in periodic_jobs}
    return ("periodic-", *sorted(names))


class RoutineJobFilter(logging.Filter):
    """Turn RQ's routine INFO lines into DEBUG lines: periodic jobs' runs and registry upkeep.

    The scheduler runs a job every few seconds to every hour; at INFO each run is
    three lines, which bury the demo's real events. Those lines become DEBUG and show
    only where the logger is set to DEBUG. A periodic job's failure (WARNING and
    above) is untouched, and the jobs log what they changed at INFO themselves.
    """

    def __init__(self, markers: Sequence[str] | None = None) -> None:
        """``markers``: substrings of a routine line (default: every periodic job's)."""
        super().__init__()
        self.markers = tuple(markers if markers is not None else periodic_job_markers())

    def filter(self, record: logging.LogRecord) -> bool:
        """Demote routine INFO records to DEBUG; keep them only if DEBUG is enabled."""
        if record.levelno != logging.INFO:
            return True
        message = record.getMessage()
        if not any(marker in message for marker in (*self.markers, *ROUTINE_WORKER_LINES)):
            return True
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


class AppWorker(Worker):
    """An RQ worker (one forked work horse per job) that runs each job in an app context."""

    log_result_lifespan = False

    def __init__(self, *args: Any, app: Flask, **kwargs: Any) -> None:
        """Bind the worker to the app its jobs run in."""
        self.app = app
        super().__init__(*args, **kwargs)

    def perform_job(self, job: Job, queue: Queue, execution: Execution) -> bool:
        """Run the job in a fresh app context: its own database session, removed afterwards."""
        with self.app.app_context():
            if self.is_horse:
                # Pooled connections were inherited through fork() and belong to the parent.
                database().engine.dispose(close=False)
            done = bool(super().perform_job(job, queue, execution))
        report_periodic_result(job)
        return done


def report_periodic_result(job: Job) -> None:
    """Log at INFO what a periodic run changed (its count), its routine lines being DEBUG."""
    periodic = periodic_job_named(job.id)
    if periodic is None or not periodic.reports:
        return
    if job.get_status(refresh=False) != JobStatus.FINISHED:
        return  # a failure is logged by RQ, at ERROR
    try:
        count = job.return_value()
    except redis.RedisError as exc:
        # Only the report is lost: the job itself succeeded and is recorded as such.
        log.debug("%s: result not readable: %s", periodic.name, exc)
        return
    if isinstance(count, int) and not isinstance(count, bool) and count > 0:
        log.info("%s: %d %s", periodic.name, count, periodic.reports)


def parse_queue_names(raw: Sequence[str] | str | None) -> list[str]:
    """Queue names from options like ``payments,default``; all queues when empty."""
    if not raw:
        return list(QUEUE_NAMES)
    items = [raw] if isinstance(raw, str) else list(raw)
    names = [name.strip() for item in items for name in item.split(",") if name.strip()]
    unknown = [name for name in names if name not in QUEUE_NAMES]
    if unknown:
        raise ValueError(f"unknown queue(s): {', '.join(unknown)}; known: {', '.join(QUEUE_NAMES)}")
    return list(dict.fromkeys(names))


def run_worker(
    app: Flask,
    redis_url: str,
    queue_names: Sequence[str] = QUEUE_NAMES,
    *,
    burst: bool = False,
    with_scheduler: bool = True,
    name: str | None = None,
) -> bool:
    """Work the queues of the Redis at ``redis_url`` until stopped (or, with ``burst``,
    until they are empty), running every job in an app context of ``app``.

    ``with_scheduler`` runs RQ's scheduler (delayed jobs and retries) and, unless
    bursting, the periodic-job scheduler; either runs in one worker at a time
    whatever the number of workers. Returns True if any job was processed.
    """
    quiet = RoutineJobFilter()
    for logger_name in RQ_LOGGERS:
        logging.getLogger(logger_name).addFilter(quiet)
    connection = worker_connection(redis_url)
    worker = AppWorker(list(queue_names), connection=connection, app=app, name=name)
    periodic: PeriodicScheduler | None = None
    if with_scheduler and not burst:
        periodic = PeriodicScheduler(worker_connection(redis_url, socket_timeout=10),
                                     name=worker.name)
        periodic.start()
    try:
        return bool(worker.work(burst=burst, with_scheduler=with_scheduler, logging_level="INFO"))
    finally:
        if periodic is not None:
            periodic.stop()
        for logger_name in RQ_LOGGERS:
            logging.getLogger(logger_name).removeFilter(quiet)
