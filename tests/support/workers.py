"""Running queued RQ jobs in the test process, against the test Redis."""
from __future__ import annotations

import signal
from collections.abc import Callable, Iterator

import pytest
from rq import SimpleWorker

from core.queues import QUEUE_NAMES
from webapp.redis_conn import get_redis


def run_jobs() -> bool:
    """Run every queued job once in this process; RQ's signal handlers are put back after."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return bool(SimpleWorker(list(QUEUE_NAMES), connection=get_redis()).work(burst=True))
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


@pytest.fixture
def keep_signal_handlers() -> Iterator[None]:
    """RQ workers install SIGINT/SIGTERM handlers; put pytest's back afterwards."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.fixture
def work_queues(keep_signal_handlers: None) -> Callable[[], bool]:
    """Run every queued job once, in this process and the current app context."""
    return run_jobs
