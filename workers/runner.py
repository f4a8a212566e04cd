"""Run an RQ worker for a ChatShop app: jobs in app contexts, with the schedulers."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from flask import Flask
from rq import Queue, Worker
from rq.executions import Execution
from rq.job import Job

from webapp.extensions import db
from workers.queues import QUEUE_NAMES, worker_connection
from workers.schedule import PeriodicScheduler

log = logging.getLogger(__name__)

RQ_LOGGERS = ("rq.worker", "rq.job")


class QuietRelayFilter(logging.Filter):
    """Drop RQ's routine INFO lines about the outbox relay, which runs every few seconds.

    Its failures (WARNING and above) still show, and the relay logs what it published.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep everything but the relay's routine lines."""
        return record.levelno >= logging.WARNING or "relay_outbox" not in record.getMessage()


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
                db.engine.dispose(close=False)
            return bool(super().perform_job(job, queue, execution))


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
    queue_names: Sequence[str] = QUEUE_NAMES,
    *,
    burst: bool = False,
    with_scheduler: bool = True,
    name: str | None = None,
) -> bool:
    """Work the queues until stopped (or, with ``burst``, until they are empty).

    ``with_scheduler`` runs RQ's scheduler (delayed jobs and retries) and, unless
    bursting, the periodic-job scheduler; either runs in one worker at a time
    whatever the number of workers. Returns True if any job was processed.
    """
    quiet = QuietRelayFilter()
    for logger_name in RQ_LOGGERS:
        logging.getLogger(logger_name).addFilter(quiet)
    connection = worker_connection(app)
    worker = AppWorker(list(queue_names), connection=connection, app=app, name=name)
    periodic: PeriodicScheduler | None = None
    if with_scheduler and not burst:
        periodic = PeriodicScheduler(worker_connection(app, socket_timeout=10), name=worker.name)
        periodic.start()
    try:
        return bool(worker.work(burst=burst, with_scheduler=with_scheduler, logging_level="INFO"))
    finally:
        if periodic is not None:
            periodic.stop()
        for logger_name in RQ_LOGGERS:
            logging.getLogger(logger_name).removeFilter(quiet)
