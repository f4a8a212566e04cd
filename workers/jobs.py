"""Thin RQ jobs: each takes plain values (ids), calls one service and returns a count.

Jobs run only under ``chatshop worker``: its runner pushes the app's context
around every job, and the jobs take the database session, the Redis client and
the app from it (``workers.context``). A bare ``rq worker`` is not supported.
"""
from __future__ import annotations

import logging
from typing import Any

from rq import get_current_job

from commissions import payouts, settlement
from core.queues import enqueue_once
from referral import qrcodes, tiers
from referral.qrcodes import NotActiveDistributor
from shop import orders, payments, refunds
from storefront import commission_notices, notifications, posters
from workers import outbox
from workers.context import db_session, pay_gateway, redis_client, settings

log = logging.getLogger(__name__)


def cancel_expired_orders() -> int:
    """Cancel unpaid orders past their payment deadline and release their stock."""
    return orders.cancel_expired_orders(db_session())


def auto_complete_orders() -> int:
    """Complete orders shipped longer ago than AUTO_COMPLETE_DAYS."""
    return orders.auto_complete_orders(db_session(), settings())


def relay_outbox(batch: int = 100, max_batches: int = 20) -> int:
    """Publish outbox messages to their handler jobs, batch after batch while there are more."""
    connection = redis_client()
    session = db_session()

    def enqueue(queue_name: str, func: Any, *args: Any, job_id: str, **options: Any) -> bool:
        return enqueue_once(connection, queue_name, func, *args, job_id=job_id, **options)

    published = 0
    for _ in range(max_batches):
        count = outbox.relay_outbox(session, enqueue, batch=batch)
        published += count
        if count < batch:
            break
    if published:
        log.info("outbox: published %d message(s)", published)
    return published


def reconcile_pending_payments(older_than_minutes: int = 10) -> int:
    """Ask WeChat Pay about payments still pending after ``older_than_minutes``."""
    return int(payments.reconcile_pending_payments(db_session(), pay_gateway(),
                                                   older_than_minutes=older_than_minutes))


def reconcile_processing_refunds(older_than_minutes: int = 10) -> int:
    """Ask WeChat Pay about refunds still processing after ``older_than_minutes``."""
    return int(refunds.reconcile_processing_refunds(db_session(), pay_gateway(),
                                                    older_than_minutes=older_than_minutes))


def referral_after_completion(payload: dict[str, Any]) -> int:
    """After an order completes: spend-based approval and tier upgrades (``order.completed``)."""
    return tiers.after_order_completed(db_session(), int(payload["order_id"]))


def send_paid_message(payload: dict[str, Any]) -> str | None:
    """Outbox job for ``order.paid``: message the buyer that the payment arrived."""
    return notifications.notify_paid(db_session(), redis_client(), settings(),
                                     int(payload["order_id"]), payload.get("paid_at"))


def send_distributor_poster(user_id: int, openid: str) -> int:
    """Make (or reuse) a distributor's poster and send it to them in the chat; 1 if sent."""
    job = get_current_job()
    # The job id (one per distributor and day) keys the delivery: a retry never resends.
    return posters.send_poster(db_session(), int(user_id), str(openid), conn=redis_client(),
                               delivery_key=job.id if job is not None else None)


def settle_matured_commissions() -> int:
    """Make commission whose order completed past the return window available."""
    return settlement.settle_matured_commissions(db_session())


def note_commission_earned(payload: dict[str, Any]) -> int:
    """Outbox job for ``commission.earned``: remember it for the next batched chat message."""
    return commission_notices.note_commission(redis_client(), payload)


def flush_commission_notices() -> int:
    """Send distributors one chat message each for the commission earned since the last run."""
    return commission_notices.flush_commission_notices(db_session(), redis_client(), settings())


def prepare_distributor_qr(payload: dict[str, Any]) -> bool:
    """A distributor became active: create their QR code now, not on their first request.

    Runs for ``distributor.status_changed``; other statuses need nothing. A failure
    is retried by RQ; the chat creates the code on demand anyway.
    """
    if payload.get("status") != "active":
        return False
    try:
        qrcodes.ensure_qr_code(db_session(), int(payload["user_id"]))
    except NotActiveDistributor:  # frozen or revoked again since: nothing to prepare
        return False
    return True


def pay_withdrawal(withdrawal_id: int) -> str:
    """Pay an approved ``wechat`` withdrawal through WeChat Pay (job ``withdrawal-payout-<id>``).

    Safe to run again: the transfer reuses the withdrawal's number, so WeChat pays
    it at most once, and a settled withdrawal is skipped.
    """
    return payouts.pay_withdrawal(db_session(), pay_gateway(), int(withdrawal_id))


def reconcile_withdrawals(older_than_minutes: int = 5) -> int:
    """Settle WeChat payouts whose outcome is unknown (or whose job was lost)."""
    return payouts.reconcile_withdrawals(db_session(), pay_gateway(),
                                         older_than_minutes=older_than_minutes)
