"""WeChat Pay payments: start paying, apply the payment notify exactly once, reconcile.

Rules decided here:

- ``out_trade_no`` is the order number: stable, so every retry of unified order
  and every query names the same WeChat trade. One ``Payment`` row per order.
- A prepay_id is reused while it is valid (WeChat: 2 hours; we count from the
  payment row's creation with a 5 minute margin) and the order has not expired.
  Unified order is called outside any DB transaction; two simultaneous starts
  may both call it, which WeChat answers with the same trade (same numbers).
- A payment notify is applied once: the unique ``payments.transaction_id`` is
  claimed with ``UPDATE ... WHERE transaction_id IS NULL`` and the order moves
  with ``UPDATE ... WHERE status = 'pending_payment'``. Concurrent deliveries
  wait on the payment row and then see the claim: they ack SUCCESS, change nothing.
- An order whose deadline passed but which was not cancelled yet still accepts
  its payment (the stock is still reserved). A payment for a cancelled order is
  real money: it is recorded, and a full refund is opened and submitted
  automatically; the order stays cancelled.
- Refused notifies change nothing (not even the audit log); they are logged.
- Reconciliation queries WeChat for pending payments whose notify has not come:
  paid → the same path as the notify; a cancelled order's unpaid trade is closed
  at WeChat so it can no longer be paid, and its payment row is marked closed.
"""
from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from adapters.wechat.pay_notify import NotifyOutcome, NotifyRejected, PayNotice, check_trade_query
from adapters.wechat.pay_v2 import GatewayError, PayGateway
from commissions.accrual import book_late_payment, book_paid_order
from core.actors import Actor
from core.clock import utcnow
from core.errors import Conflict, InvalidInput, NotFound, PaymentGatewayError
from core.journal import announce, audit
from core.models import Order, OrderStatus, Payment, PaymentStatus, User
from core.settings import Settings
from core.uow import DbSession, unit_of_work
from referral.attribution import chain_snapshot, record_attribution
from shop.domain.refund_rules import plan_refund
from shop.order_status import move_order
from shop.refunds import open_refund, refund_state, submit_refund

log = logging.getLogger(__name__)

PREPAY_LIFETIME = timedelta(hours=2) - timedelta(minutes=5)
# WeChat refuses a time_expire less than a minute away; so do we, with a clearer message.
MIN_TIME_TO_PAY = timedelta(minutes=1)
LATE_PAYMENT_REASON = "late payment for a cancelled order"


class _Refused(Exception):
    """Internal: refuse a notify after rolling back whatever the transaction did."""


def _order_body(order: Order) -> str:
    titles = [line.title for line in order.lines]
    first = titles[0] if titles else order.number
    return f"ChatShop-{first}" + (f" 等{len(titles)}件" if len(titles) > 1 else "")


def _prepare_payment(session: DbSession, actor: Actor, order_id: int) -> dict[str, Any]:
    now = utcnow()
    with unit_of_work(session):
        order = session.get(Order, order_id)
        if order is None or order.buyer_id != actor.user_id:
            raise NotFound("order not found")
        if order.status != OrderStatus.PENDING_PAYMENT:
            raise Conflict(f"only unpaid orders can be paid (this one is {order.status})")
        if order.expires_at - now < MIN_TIME_TO_PAY:
            raise Conflict("the time to pay this order has run out")
        buyer = session.get(User, order.buyer_id)
        if buyer is None or not buyer.openid:
            raise InvalidInput("pay from inside WeChat: this account has no WeChat openid")
        payment = session.scalar(select(Payment).where(Payment.order_id == order.id))
        if payment is None:
            payment = Payment(
                order_id=order.id,
                out_trade_no=order.number,
                amount_fen=order.total_fen,
                status=PaymentStatus.PENDING,
                payer_openid=buyer.openid,
                created_at=now,
            )
            session.add(payment)
            session.flush()
            audit(session, actor.user_id, "payment.started", "order", order.number,
                  amount_fen=order.total_fen)
        if payment.status != PaymentStatus.PENDING:
            raise Conflict(f"this order's payment is already {payment.status}")
        fresh = payment.prepay_id and now < payment.created_at + PREPAY_LIFETIME
        return {
            "payment_id": payment.id,
            "order_id": order.id,
            "out_trade_no": payment.out_trade_no,
            "amount_fen": order.total_fen,
            "prepay_id": payment.prepay_id if fresh else None,
            "openid": buyer.openid,
            "body": _order_body(order),
            "created_at": order.created_at,
            "expires_at": order.expires_at,
        }


def start_payment(
    session: DbSession,
    gateway: PayGateway,
    settings: Settings,
    actor: Actor,
    order_id: int,
    client_ip: str | None,
) -> dict[str, Any]:
    """The buyer starts paying: JSAPI parameters (and in sandbox mode the pay page URL).

    ``gateway`` places the unified order; ``settings`` say whether this is the
    sandbox and at which public address its pay page is.
    """
    try:
        info = _prepare_payment(session, actor, order_id)
    except IntegrityError:
        # Another request created the payment row first; use theirs.
        info = _prepare_payment(session, actor, order_id)
    prepay_id = info["prepay_id"]
    if prepay_id is None:
        try:
            prepay_id = gateway.unified_order(
                out_trade_no=info["out_trade_no"],
                body=info["body"],
                total_fen=info["amount_fen"],
                openid=info["openid"],
                client_ip=client_ip,
                starts_at=info["created_at"],
                expires_at=info["expires_at"],
            )
        except GatewayError as exc:
            log.warning("unified order %s failed: %s", info["out_trade_no"], exc.message)
            if exc.code == "ORDERPAID":
                # WeChat has the money and the notify is late: fetch the result now.
                reconcile_payment(session, gateway, info["order_id"])
                raise Conflict("this order is already paid; confirmation is on its way") from exc
            if exc.code == "ORDERCLOSED":
                raise Conflict("this order can no longer be paid") from exc
            if exc.definite:
                raise PaymentGatewayError(f"WeChat Pay refused: {exc.message}") from exc
            raise PaymentGatewayError("WeChat Pay did not answer; try again") from exc
        with unit_of_work(session):
            session.execute(
                update(Payment)
                .where(Payment.id == info["payment_id"], Payment.status == PaymentStatus.PENDING)
                .values(prepay_id=prepay_id)
                .execution_options(synchronize_session=False)
            )
    pay_url = None
    if settings.wechat_sandbox:
        pay_url = f"{settings.public_base_url}/sandbox/pay/h5/{info['out_trade_no']}"
    return {
        "order_id": info["order_id"],
        "out_trade_no": info["out_trade_no"],
        "amount_fen": info["amount_fen"],
        "jsapi": gateway.jsapi_params(prepay_id),
        "pay_url": pay_url,
    }


def _record_paid(
    session: DbSession, notice: PayNotice, raw: str, source: str
) -> tuple[NotifyOutcome, int | None]:
    """One transaction: claim the transaction id, mark the order paid or open a late refund."""
    now = utcnow()
    with unit_of_work(session):
        order = session.scalar(select(Order).where(Order.number == notice.out_trade_no))
        if order is None:
            raise _Refused("unknown out_trade_no")
        if notice.total_fen != order.total_fen:
            raise _Refused(f"total_fee {notice.total_fen} != order total {order.total_fen}")
        payment = session.scalar(select(Payment).where(Payment.order_id == order.id))
        if payment is None:  # paid without start_payment (e.g. set up by hand): record it anyway
            payment = Payment(order_id=order.id, out_trade_no=order.number,
                              amount_fen=order.total_fen, created_at=now)
            session.add(payment)
            session.flush()
        # One WeChat transaction pays one order: a notify naming a transaction that
        # already paid another order is forged or corrupt, and is refused, not retried.
        other = session.scalar(select(Payment.order_id).where(
            Payment.transaction_id == notice.transaction_id, Payment.id != payment.id))
        if other is not None:
            raise _Refused(f"transaction {notice.transaction_id} already paid order id {other}")
        values: dict[str, Any] = {
            "transaction_id": notice.transaction_id,
            "status": PaymentStatus.SUCCEEDED,
            "raw_notify": raw,
            "paid_at": now,
        }
        if notice.openid:
            values["payer_openid"] = notice.openid
        claimed = session.execute(
            update(Payment)
            .where(Payment.id == payment.id, Payment.transaction_id.is_(None))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            existing = session.scalar(
                select(Payment.transaction_id).where(Payment.id == payment.id)
            )
            if existing == notice.transaction_id:
                return NotifyOutcome(True, "OK", order.id, applied=False), None
            raise _Refused(f"order already paid by transaction {existing}")
        # The referral chain as it stands at payment: later tree changes never rewrite it.
        attribution = chain_snapshot(session, order.buyer_id)
        if move_order(session, order.id, OrderStatus.PAID, [OrderStatus.PENDING_PAYMENT],
                      paid_at=now, attribution=attribution):
            record_attribution(session, order.id, attribution)
            book_paid_order(session, order, attribution)
            audit(session, None, "order.paid", "order", order.number,
                  transaction_id=notice.transaction_id, total_fen=notice.total_fen, source=source)
            announce(session, "order.paid", order_id=order.id, number=order.number,
                     total_fen=order.total_fen, transaction_id=notice.transaction_id,
                     paid_at=now.isoformat())
            return NotifyOutcome(True, "OK", order.id, applied=True), None
        status = session.scalar(select(Order.status).where(Order.id == order.id))
        if status != OrderStatus.CANCELLED:
            raise _Refused(f"order is {status}, not awaiting payment")
        session.refresh(order)
        plan = plan_refund(refund_state(session, order), None)
        audit(session, None, "payment.late", "order", order.number,
              transaction_id=notice.transaction_id, total_fen=notice.total_fen, source=source)
        announce(session, "payment.late", order_id=order.id, number=order.number,
                 total_fen=order.total_fen, transaction_id=notice.transaction_id)
        book_late_payment(session, order)
        refund = open_refund(session, order, plan, LATE_PAYMENT_REASON, None, str(status))
        refund_id = refund.id
        return NotifyOutcome(True, "OK", order.id, applied=True, refund_id=refund_id), refund_id


def _apply_paid(
    session: DbSession, gateway: PayGateway, notice: PayNotice, raw: str, source: str
) -> NotifyOutcome:
    """Mark an order paid exactly once (or refund a late payment); safe under concurrency."""
    try:
        try:
            outcome, refund_id = _record_paid(session, notice, raw, source)
        except IntegrityError:
            # A concurrent delivery inserted the payment row or claimed the transaction
            # id between our read and our write; the second pass sees its result.
            outcome, refund_id = _record_paid(session, notice, raw, source)
    except _Refused as exc:
        log.warning("payment %s for %s refused: %s", notice.transaction_id,
                    notice.out_trade_no, exc)
        return NotifyOutcome(False, "refused")
    if refund_id is not None:
        try:
            submit_refund(session, gateway, refund_id)
        except Exception:  # noqa: BLE001 - the refund stays processing; reconciliation retries
            log.exception("submitting the automatic refund %s failed", refund_id)
    return outcome


def _raw_text(raw: bytes | str) -> str:
    return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw


def apply_pay_notify(
    session: DbSession, gateway: PayGateway, raw_xml: bytes | str
) -> NotifyOutcome:
    """Verify a WeChat payment notify and apply it once; refused notifies change nothing.

    ``gateway`` checks the signature and submits the refund of a late payment.
    """
    try:
        notice, _ = gateway.parse_pay_notify(raw_xml)
    except NotifyRejected as exc:
        log.warning("pay notify refused: %s", exc.reason)
        return NotifyOutcome(False, "invalid notify")
    return _apply_paid(session, gateway, notice, _raw_text(raw_xml), "notify")


def _close_unpaid(session: DbSession, payment_id: int, number: str, trade_state: str) -> None:
    with unit_of_work(session):
        closed = session.execute(
            update(Payment)
            .where(
                Payment.id == payment_id,
                Payment.status == PaymentStatus.PENDING,
                Payment.transaction_id.is_(None),
            )
            .values(status=PaymentStatus.CLOSED)
            .execution_options(synchronize_session=False)
        )
        if closed.rowcount == 1:  # type: ignore[attr-defined]
            audit(session, None, "payment.closed", "order", number, trade_state=trade_state)


def reconcile_payment(session: DbSession, gateway: PayGateway, order_id: int) -> str:
    """Ask WeChat about an order's pending payment and apply what it says.

    Returns ``paid`` (marked paid now), ``late_refund`` (paid after cancellation,
    refund started), ``settled`` (already applied), ``unpaid``, ``closed``
    (cancelled order's trade closed), ``no_payment`` or ``unknown`` (WeChat did
    not give a usable answer; try later).
    """
    with unit_of_work(session):
        row = session.execute(
            select(Payment.id, Payment.status, Payment.transaction_id, Order.number, Order.status)
            .join(Order, Order.id == Payment.order_id)
            .where(Payment.order_id == order_id)
        ).one_or_none()
    if row is None:
        return "no_payment"
    payment_id, payment_status, transaction_id, number, order_status = row
    if payment_status != PaymentStatus.PENDING or transaction_id:
        return "settled"
    try:
        answer = gateway.query_order(number)
    except GatewayError as exc:
        if exc.code == "ORDERNOTEXIST" and order_status == OrderStatus.CANCELLED:
            _close_unpaid(session, payment_id, number, "ORDERNOTEXIST")
            return "closed"
        log.warning("order query %s failed: %s", number, exc.message)
        return "unpaid" if exc.code == "ORDERNOTEXIST" else "unknown"
    try:
        notice = check_trade_query(answer, gateway.appid, gateway.mch_id)
    except NotifyRejected as exc:
        log.warning("order query %s answer refused: %s", number, exc.reason)
        return "unknown"
    if notice is None:
        state = answer.get("trade_state", "")
        if order_status == OrderStatus.CANCELLED and state in {
            "NOTPAY", "CLOSED", "REVOKED", "PAYERROR"
        }:
            if state == "NOTPAY":
                try:
                    gateway.close_order(number)
                except GatewayError as exc:
                    log.warning("closing trade %s failed: %s", number, exc.message)
                    return "unknown"
            _close_unpaid(session, payment_id, number, state)
            return "closed"
        return "unpaid"
    if notice.out_trade_no != number:
        log.error("order query %s answered about %s", number, notice.out_trade_no)
        return "unknown"
    raw = json.dumps(answer, ensure_ascii=False, sort_keys=True)
    outcome = _apply_paid(session, gateway, notice, raw, "query")
    if not outcome.ok:
        return "unknown"
    if not outcome.applied:
        return "settled"
    return "late_refund" if outcome.refund_id is not None else "paid"


def reconcile_pending_payments(
    session: DbSession, gateway: PayGateway, older_than_minutes: int = 5, limit: int = 200
) -> int:
    """Reconcile pending payments older than the given age; returns how many turned out paid."""
    cutoff = utcnow() - timedelta(minutes=older_than_minutes)
    with unit_of_work(session):
        order_ids = list(
            session.scalars(
                select(Payment.order_id)
                .join(Order, Order.id == Payment.order_id)
                .where(
                    Payment.status == PaymentStatus.PENDING,
                    Payment.transaction_id.is_(None),
                    Payment.created_at < cutoff,
                    Order.status.in_([OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED]),
                )
                .order_by(Payment.id)
                .limit(limit)
            )
        )
    paid = 0
    for order_id in order_ids:
        try:
            if reconcile_payment(session, gateway, order_id) in {"paid", "late_refund"}:
                paid += 1
        except Exception:  # noqa: BLE001 - one bad payment must not stop the others
            log.exception("reconciling the payment of order %s failed", order_id)
    return paid
