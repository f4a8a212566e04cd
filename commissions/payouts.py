"""Paying approved ``wechat`` withdrawals: WeChat Pay v2 enterprise payment to change.

The payout job (``workers.jobs.pay_withdrawal``, job id ``withdrawal-payout-<id>``)
marks the withdrawal ``submitted`` in its own transaction, then asks WeChat to
transfer with the withdrawal's number as ``partner_trade_no``:

- success → ``succeeded`` (withdrawing → payout clearing);
- a definite refusal (``PayGateway.transfer`` classifies conservatively) →
  ``failed``, the money back to available;
- anything else (timeout, SYSTEMERROR, an answer we cannot trust) → stays
  ``submitted``. ``reconcile_withdrawals`` (every 10 min) asks gettransferinfo
  with the same number and settles it; a transfer WeChat never received
  (NOT_FOUND) is sent again with the same number.

Nothing here can pay twice: WeChat pays a ``partner_trade_no`` at most once
(the sandbox too), every attempt and query uses the withdrawal's own number,
and the settling steps are guarded updates posted under one idempotency key.
"""
from __future__ import annotations

import logging
from datetime import timedelta

import redis
from sqlalchemy import and_, or_, select

from adapters.wechat.pay_v2 import GatewayError, PayGateway
from commissions import withdrawals
from core.actors import Actor
from core.clock import utcnow
from core.models import Withdrawal, WithdrawalStatus
from core.queues import PAYMENTS, enqueue_once
from core.uow import DbSession

log = logging.getLogger(__name__)

S = WithdrawalStatus
SUCCEEDED, FAILED, UNKNOWN, SKIPPED = "succeeded", "failed", "unknown", "skipped"
QUEUE = PAYMENTS
RECONCILE_BATCH = 200


def job_id(withdrawal_id: int) -> str:
    """The RQ job id of a withdrawal's payout: one job per withdrawal, whoever enqueues it."""
    return f"withdrawal-payout-{withdrawal_id}"


def enqueue_payout(withdrawal: Withdrawal, conn: redis.Redis) -> bool:
    """Queue the payout job of an approved ``wechat`` withdrawal on ``conn``; True if newly queued.

    Called after the approval committed. If Redis is down the approval stands and
    reconciliation picks the withdrawal up later, so a failure here is only logged.
    """
    if withdrawal.channel != withdrawals.WECHAT or withdrawal.status != S.APPROVED:
        return False
    try:
        return enqueue_once(conn, QUEUE, "workers.jobs.pay_withdrawal", withdrawal.id,
                            job_id=job_id(withdrawal.id))
    except Exception:  # noqa: BLE001 - reconciliation is the fallback for a lost enqueue
        log.exception("could not queue the payout of withdrawal %s", withdrawal.id)
        return False


def _description(withdrawal: Withdrawal) -> str:
    return f"佣金提现 {withdrawal.number}"


def pay_withdrawal(session: DbSession, gateway: PayGateway, withdrawal_id: int) -> str:
    """Submit (or re-submit, same number) a ``wechat`` withdrawal's transfer; the outcome.

    Returns ``succeeded``, ``failed``, ``unknown`` (left ``submitted`` for
    reconciliation) or ``skipped`` (not an approved/submitted wechat withdrawal).
    """
    found = session.get(Withdrawal, withdrawal_id)
    if found is None or found.channel != withdrawals.WECHAT:
        return SKIPPED
    submitted = withdrawals.mark_submitted(session, withdrawal_id)
    if submitted is None:
        return SKIPPED
    number, openid, amount = submitted.number, submitted.openid or "", submitted.amount_fen
    desc = _description(submitted)
    session.rollback()  # no transaction (nor SQLite lock) held while WeChat answers
    try:
        answer = gateway.transfer(partner_trade_no=number, openid=openid, amount_fen=amount,
                                  desc=desc)
    except GatewayError as exc:
        if exc.definite:
            withdrawals.record_failure(session, withdrawal_id, f"{exc.code}: {exc.message}")
            return FAILED
        log.warning("withdrawal %s: transfer outcome unknown (%s)", number, exc.message)
        return UNKNOWN
    withdrawals.record_success(session, withdrawal_id, answer.get("payment_no", ""))
    return SUCCEEDED


def settle_from_query(session: DbSession, gateway: PayGateway, withdrawal_id: int) -> str:
    """Ask WeChat where a submitted transfer stands and settle it; the outcome."""
    found = session.get(Withdrawal, withdrawal_id)
    if found is None or found.status != S.SUBMITTED or found.channel != withdrawals.WECHAT:
        return SKIPPED
    number = found.number
    session.rollback()
    try:
        answer = gateway.query_transfer(number)
    except GatewayError as exc:
        if exc.definite:  # NOT_FOUND: WeChat never got it; the same number is safe to resend
            return pay_withdrawal(session, gateway, withdrawal_id)
        log.warning("withdrawal %s: transfer query failed (%s)", number, exc.message)
        return UNKNOWN
    status = answer.get("status", "")
    if status == "SUCCESS":
        withdrawals.record_success(session, withdrawal_id, answer.get("detail_id", ""))
        return SUCCEEDED
    if status == "FAILED":
        reason = answer.get("reason") or "transfer failed"
        withdrawals.record_failure(session, withdrawal_id, f"FAILED: {reason}")
        return FAILED
    return UNKNOWN  # PROCESSING, or anything new: ask again next time


def reconcile_withdrawals(session: DbSession, gateway: PayGateway, *,
                          older_than_minutes: int = 5) -> int:
    """Settle ``wechat`` payouts left behind; how many reached a final state.

    Takes withdrawals ``submitted`` longer than ``older_than_minutes`` ago (an
    unknown outcome: query) and ones ``approved`` that long ago whose job never
    ran (a lost enqueue: pay now, with the same number). A withdrawal whose
    handling raises is logged with its id and skipped; the others go on.
    """
    cutoff = utcnow() - timedelta(minutes=older_than_minutes)
    rows = session.execute(
        select(Withdrawal.id, Withdrawal.status)
        .where(Withdrawal.channel == withdrawals.WECHAT,
               or_(and_(Withdrawal.status == S.SUBMITTED, Withdrawal.submitted_at <= cutoff),
                   and_(Withdrawal.status == S.APPROVED, Withdrawal.decided_at <= cutoff)))
        .order_by(Withdrawal.id).limit(RECONCILE_BATCH)
    ).all()
    session.rollback()
    settled = 0
    for withdrawal_id, status in rows:
        try:
            if status == S.APPROVED:
                outcome = pay_withdrawal(session, gateway, withdrawal_id)
            else:
                outcome = settle_from_query(session, gateway, withdrawal_id)
        except Exception:  # noqa: BLE001 - one bad withdrawal must not stop the others
            session.rollback()
            log.exception("reconciling withdrawal %s failed; skipped", withdrawal_id)
            continue
        settled += outcome in (SUCCEEDED, FAILED)
    return settled


def approve(session: DbSession, actor: Actor, withdrawal_id: int,
            conn: redis.Redis) -> Withdrawal:
    """Approve a request (operators) and, for the ``wechat`` channel, queue its payout job on
    ``conn`` (the app's Redis)."""
    done = withdrawals.approve_withdrawal(session, actor, withdrawal_id)
    enqueue_payout(done, conn)
    return done
