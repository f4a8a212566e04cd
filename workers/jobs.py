"""Thin RQ jobs: each takes plain values (ids), calls one service and returns a count.

Jobs run inside an app context. ``chatshop worker`` pushes one around every
job; a job started some other way (a bare ``rq worker``) builds the app once
per process from the environment.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, has_app_context

from webapp.extensions import db

log = logging.getLogger(__name__)


@functools.cache
def _process_app() -> Flask:
    """The app of a process that has none pushed, built once from the environment."""
    from webapp import create_app

    return create_app()


@contextmanager
def app_context() -> Iterator[Flask]:
    """The current app, or a context of this process's own app for the job's duration."""
    if has_app_context():
        yield current_app._get_current_object()  # type: ignore[attr-defined]
        return
    app = _process_app()
    with app.app_context():
        yield app


def cancel_expired_orders() -> int:
    """Cancel unpaid orders past their payment deadline and release their stock."""
    from shop.orders import cancel_expired_orders as cancel_expired

    with app_context():
        return cancel_expired(db.session)


def auto_complete_orders() -> int:
    """Complete orders shipped longer ago than AUTO_COMPLETE_DAYS."""
    from shop.orders import auto_complete_orders as auto_complete

    with app_context() as app:
        return auto_complete(db.session, app.extensions["chatshop.settings"])


def relay_outbox(batch: int = 100, max_batches: int = 20) -> int:
    """Publish outbox messages to their handler jobs, batch after batch while there are more."""
    from workers.outbox import relay_outbox as relay
    from workers.queues import enqueue_once

    with app_context() as app:

        def enqueue(queue_name: str, func: Any, *args: Any, job_id: str, **options: Any) -> bool:
            return enqueue_once(queue_name, func, *args, job_id=job_id, app=app, **options)

        published = 0
        for _ in range(max_batches):
            count = relay(db.session, enqueue, batch=batch)
            published += count
            if count < batch:
                break
        if published:
            log.info("outbox: published %d message(s)", published)
        return published


def reconcile_pending_payments(older_than_minutes: int = 10) -> int:
    """Ask WeChat Pay about payments still pending after ``older_than_minutes``."""
    # Imported here: the payments service (and wechatpy) load only when this runs.
    from webapp.clients import pay_gateway
    from shop.payments import reconcile_pending_payments as reconcile

    with app_context() as app:
        return int(reconcile(db.session, pay_gateway(app), older_than_minutes=older_than_minutes))


def reconcile_processing_refunds(older_than_minutes: int = 10) -> int:
    """Ask WeChat Pay about refunds still processing after ``older_than_minutes``."""
    from webapp.clients import pay_gateway
    from shop.refunds import reconcile_processing_refunds as reconcile

    with app_context() as app:
        return int(reconcile(db.session, pay_gateway(app), older_than_minutes=older_than_minutes))


def referral_after_completion(payload: dict[str, Any]) -> int:
    """After an order completes: spend-based approval and tier upgrades (``order.completed``)."""
    from referral.tiers import after_order_completed

    with app_context():
        return after_order_completed(db.session, int(payload["order_id"]))


def send_distributor_poster(user_id: int, openid: str) -> int:
    """Make (or reuse) a distributor's poster and send it to them in the chat; 1 if sent."""
    from rq import get_current_job

    from referral.posters import send_poster

    job = get_current_job()
    with app_context():
        # The job id (one per distributor and day) keys the delivery: a retry never resends.
        return send_poster(db.session, int(user_id), str(openid),
                           delivery_key=job.id if job is not None else None)


def settle_matured_commissions() -> int:
    """Make commission whose order completed past the return window available."""
    from commissions.settlement import settle_matured_commissions as settle

    with app_context():
        return settle(db.session)


def note_commission_earned(payload: dict[str, Any]) -> int:
    """Outbox job for ``commission.earned``: remember it for the next batched chat message."""
    from storefront.commission_notices import note_commission
    from webapp.clients import app_redis

    with app_context():
        return note_commission(app_redis(), payload)


def flush_commission_notices() -> int:
    """Send distributors one chat message each for the commission earned since the last run."""
    from storefront.commission_notices import flush_commission_notices as flush
    from webapp.clients import app_redis, app_settings

    with app_context():
        return flush(db.session, app_redis(), app_settings())


def send_paid_message(payload: dict[str, Any]) -> str | None:
    """Outbox job for ``order.paid``: message the buyer that the payment arrived."""
    from storefront.notifications import notify_paid
    from webapp.clients import app_redis, app_settings

    with app_context():
        return notify_paid(db.session, app_redis(), app_settings(), int(payload["order_id"]),
                           payload.get("paid_at"))


def prepare_distributor_qr(payload: dict[str, Any]) -> bool:
    """A distributor became active: create their QR code now, not on their first request.

    Runs for ``distributor.status_changed``; other statuses need nothing. A failure
    is retried by RQ; the chat creates the code on demand anyway.
    """
    if payload.get("status") != "active":
        return False
    from referral.qrcodes import NotActiveDistributor, ensure_qr_code

    with app_context():
        try:
            ensure_qr_code(db.session, int(payload["user_id"]))
        except NotActiveDistributor:  # frozen or revoked again since: nothing to prepare
            return False
        return True


def pay_withdrawal(withdrawal_id: int) -> str:
    """Pay an approved ``wechat`` withdrawal through WeChat Pay (job ``withdrawal-payout-<id>``).

    Safe to run again: the transfer reuses the withdrawal's number, so WeChat pays
    it at most once, and a settled withdrawal is skipped.
    """
    from commissions.payouts import pay_withdrawal as pay
    from webapp.clients import pay_gateway

    with app_context() as app:
        return pay(db.session, pay_gateway(app), int(withdrawal_id))


def reconcile_withdrawals(older_than_minutes: int = 5) -> int:
    """Settle WeChat payouts whose outcome is unknown (or whose job was lost)."""
    from commissions.payouts import reconcile_withdrawals as reconcile
    from webapp.clients import pay_gateway

    with app_context() as app:
        return reconcile(db.session, pay_gateway(app), older_than_minutes=older_than_minutes)
