"""Periodic jobs: one scheduler leads, each slot is enqueued once, the jobs do their work."""
from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from rq import Queue, SimpleWorker
from rq.job import Job

from core.clock import utcnow
from core.models import Order, OrderStatus, Sku
from core.queues import DEFAULT, PAYMENTS, QUEUE_NAMES, worker_connection
from shop import checkout
from shop.domain.addresses import validate_address
from tests.support.factories import make_product, make_user
from tests.support.settings import settings_of
from webapp.extensions import db
from webapp.redis_conn import get_redis, resolve_redis_url
from workers.runner import (
    RoutineJobFilter,
    parse_queue_names,
    report_periodic_result,
    run_worker,
)
from workers.schedule import LOCK_KEY, PERIODIC_JOBS, PeriodicScheduler, periodic_job_named

ADDRESS = validate_address("张三", "13800138000", "上海市 浦东新区", "世纪大道 100 号")
NOW = 1_699_999_200.0  # a fixed instant on a slot boundary of every periodic job (3600 * n)


def _queued_ids() -> set[str]:
    redis = get_redis()
    return {job_id for name in QUEUE_NAMES for job_id in Queue(name, connection=redis).job_ids}


def _expired_order() -> tuple[int, int]:
    buyer = make_user()
    _, sku = make_product(stock=5)
    order = checkout.checkout(db.session, settings_of(), buyer.id, [(sku.id, 2)], ADDRESS)
    order.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    return order.id, sku.id


def _long_shipped_order() -> int:
    buyer = make_user()
    _, sku = make_product(stock=5)
    order = checkout.checkout(db.session, settings_of(), buyer.id, [(sku.id, 1)], ADDRESS)
    order.status = OrderStatus.SHIPPED
    order.paid_at = utcnow() - timedelta(days=12)
    order.shipped_at = utcnow() - timedelta(days=11)
    db.session.commit()
    return order.id


def _order(order_id: int) -> Order:
    db.session.expire_all()
    order = db.session.get(Order, order_id)
    assert order is not None
    return order


def test_every_periodic_job_is_enqueued_once_per_slot(app, work_queues):
    scheduler = PeriodicScheduler(get_redis())
    enqueued = scheduler.tick(NOW)
    assert sorted(enqueued) == sorted(f"periodic-{p.name}-{p.slot(NOW)}" for p in PERIODIC_JOBS)
    assert sorted(Queue(PAYMENTS, connection=get_redis()).job_ids) == [
        f"periodic-reconcile_pending_payments-{int(NOW // 300)}",
        f"periodic-reconcile_processing_refunds-{int(NOW // 600)}",
        f"periodic-reconcile_withdrawals-{int(NOW // 600)}",
    ]
    assert scheduler.tick(NOW + 1) == []  # same slots
    # The relay's next slot is due, but its previous run is still waiting: no pile-up.
    assert scheduler.tick(NOW + 3) == []
    work_queues()
    assert scheduler.tick(NOW + 3) == [f"periodic-relay_outbox-{int((NOW + 3) // 3)}"]


def test_only_one_scheduler_leads(app):
    first = PeriodicScheduler(get_redis(), name="first")
    second = PeriodicScheduler(get_redis(), name="second")
    assert first.tick(NOW)
    assert second.tick(NOW) == [] and not second.is_leader
    assert second.tick(NOW + 60) == []
    assert get_redis().get(LOCK_KEY) == b"first"

    first.release()
    assert second.acquire() and not first.acquire()
    # The new leader knows what the old one enqueued: the same slots are not enqueued again.
    assert second.tick(NOW + 1) == []
    assert len(_queued_ids()) == len(PERIODIC_JOBS)


def test_a_dead_leaders_lock_expires(app):
    first = PeriodicScheduler(get_redis(), lock_ttl=1, name="first")
    second = PeriodicScheduler(get_redis(), name="second")
    assert first.acquire() and not second.acquire()
    time.sleep(1.2)  # first stopped renewing: crashed
    assert second.acquire()


def test_the_scheduler_thread_enqueues_and_releases_the_lock_on_stop(app):
    scheduler = PeriodicScheduler(worker_connection(resolve_redis_url(app)))
    scheduler.start()
    deadline = time.monotonic() + 5
    while len(_queued_ids()) < len(PERIODIC_JOBS) and time.monotonic() < deadline:
        time.sleep(0.05)
    scheduler.stop()
    assert len(_queued_ids()) == len(PERIODIC_JOBS)
    assert get_redis().get(LOCK_KEY) is None


def test_periodic_jobs_cancel_expired_and_complete_long_shipped_orders(app, work_queues):
    expired_id, sku_id = _expired_order()
    shipped_id = _long_shipped_order()

    PeriodicScheduler(get_redis()).tick()
    work_queues()

    assert _order(expired_id).status == OrderStatus.CANCELLED
    assert db.session.get(Sku, sku_id).stock == 5
    assert _order(shipped_id).status == OrderStatus.COMPLETED
    assert _queued_ids() == set()
    failed = {
        job_id
        for name in QUEUE_NAMES
        for job_id in Queue(name, connection=get_redis()).failed_job_registry.get_job_ids()
    }
    assert failed == set()


# RQ's worker forks one process per job while its pub/sub thread runs.
@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_the_forking_app_worker_runs_jobs_in_an_app_context(app, keep_signal_handlers):
    expired_id, _ = _expired_order()
    PeriodicScheduler(get_redis(), periodic_jobs=[PERIODIC_JOBS[1]]).tick()
    db.session.remove()  # the work horse opens its own connections

    assert run_worker(app, resolve_redis_url(app), [DEFAULT], burst=True)
    assert _order(expired_id).status == OrderStatus.CANCELLED


def test_queue_names_are_checked():
    assert parse_queue_names(()) == list(QUEUE_NAMES)
    assert parse_queue_names(("default,payments", "default")) == ["default", "payments"]
    with pytest.raises(ValueError, match="unknown queue"):
        parse_queue_names(("emails",))


def test_routine_enqueues_are_logged_at_debug(app, caplog):
    caplog.set_level(logging.DEBUG, logger="workers.schedule")
    scheduler = PeriodicScheduler(get_redis(), name="s1")
    enqueued = scheduler.tick(NOW)
    mine = [r for r in caplog.records if r.name == "workers.schedule"]
    routine = [r for r in mine if "enqueued" in r.getMessage()]
    assert sorted(r.getMessage().split()[-1] for r in routine) == sorted(enqueued)
    assert {r.levelno for r in routine} == {logging.DEBUG}
    # What does matter stays at INFO: this worker took over the scheduling.
    assert [r.getMessage() for r in mine if r.levelno >= logging.INFO] == [
        "scheduler s1 took the lead"]


@pytest.mark.parametrize("level", [logging.INFO, logging.DEBUG])
def test_rqs_lines_about_periodic_runs_are_debug_and_other_jobs_stay_info(
        app, keep_signal_handlers, caplog, level):
    queue = Queue(DEFAULT, connection=get_redis())
    PeriodicScheduler(get_redis(), periodic_jobs=[PERIODIC_JOBS[1]]).tick(NOW)
    periodic_id = PERIODIC_JOBS[1].job_id(PERIODIC_JOBS[1].slot(NOW))
    queue.enqueue(len, [1, 2], job_id="not-routine-1")
    caplog.set_level(level)
    routine = RoutineJobFilter()
    logger = logging.getLogger("rq.worker")
    logger.addFilter(routine)
    try:
        SimpleWorker([queue], connection=get_redis()).work(
            burst=True, logging_level=logging.getLevelName(level))
    finally:
        logger.removeFilter(routine)

    def levels(needle: str) -> set[int]:
        return {r.levelno for r in caplog.records
                if r.name.startswith("rq.") and needle in r.getMessage()}

    # The other job: its start, success and "Job OK" lines stay at INFO, as RQ logs them.
    assert max(levels("not-routine-1")) == logging.INFO
    assert levels("builtins.len(") == {logging.INFO}
    # The periodic run: at INFO nothing is shown; with DEBUG enabled, shown as DEBUG.
    shown = levels(periodic_id) | levels("workers.jobs.cancel_expired_orders(")
    assert shown == (set() if level == logging.INFO else {logging.DEBUG})


def test_the_routine_filter_keeps_warnings_and_unrelated_lines():
    routine = RoutineJobFilter()

    def record(level: int, msg: str, *args: object) -> logging.LogRecord:
        return logging.LogRecord("rq.worker", level, __file__, 1, msg, args, None)

    quiet = logging.getLogger("rq.worker").getEffectiveLevel() > logging.DEBUG
    job_ok = record(logging.INFO, "Worker %s: %s: %s (%s)", "w", "default", "Job OK",
                    "periodic-relay_outbox-9")
    assert routine.filter(job_ok) is not quiet and job_ok.levelname == "DEBUG"
    upkeep = record(logging.INFO, "Worker %s: cleaning registries for queue: %s", "w", "default")
    assert routine.filter(upkeep) is not quiet and upkeep.levelno == logging.DEBUG
    failed = record(logging.ERROR, "Worker %s: job %s failed", "w", "periodic-relay_outbox-9")
    assert routine.filter(failed) and failed.levelno == logging.ERROR
    other = record(logging.INFO, "Worker %s: %s: %s (%s)", "w", "notifications",
                   "distributor poster for user 5", "poster-5-20260101")
    assert routine.filter(other) and other.levelno == logging.INFO


def test_what_a_periodic_run_changed_is_reported_at_info(app, work_queues, caplog):
    cancel = PERIODIC_JOBS[1]
    assert cancel.name == "cancel_expired_orders"
    assert periodic_job_named(cancel.job_id(7)) is cancel
    assert periodic_job_named("periodic-nope-7") is None and periodic_job_named("poster-1") is None
    _expired_order()
    _expired_order()
    caplog.set_level(logging.INFO, logger="workers.runner")
    scheduler = PeriodicScheduler(get_redis(), periodic_jobs=[cancel])
    scheduler.tick(NOW)
    work_queues()
    report_periodic_result(Job.fetch(cancel.job_id(cancel.slot(NOW)), connection=get_redis()))
    # A run that changed nothing says nothing.
    scheduler.tick(NOW + 60)
    work_queues()
    report_periodic_result(Job.fetch(cancel.job_id(cancel.slot(NOW + 60)), connection=get_redis()))
    assert [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "workers.runner"] == [
        (logging.INFO, "cancel_expired_orders: 2 unpaid order(s) past their deadline cancelled")]
