"""Refunds through WeChat Pay: request, submit, apply the refund notify, reconcile.

The arithmetic lives in :mod:`shop.domain.refund_rules`; its docstring has the
amount rules. The flow rules decided here:

- Who: operators may refund any refundable order (paid, shipped, completed,
  partially refunded); the buyer only their own order, and only while nothing
  has shipped. Suppliers cannot refund. One refund at a time per order: while
  the order is ``refunding`` a new request is a conflict. Operators may also
  refund what is left of a late payment on a cancelled order (e.g. when the
  automatic refund failed); that order stays ``cancelled``.
- Request: in one transaction the ``Refund`` and its ``RefundLine`` rows are
  written (``processing``), the order moves to ``refunding`` with a guarded
  UPDATE, and the status to return to is recorded in the ``refund.requested``
  audit entry. After commit, WeChat is asked to refund (never inside a DB
  transaction). A definite refusal marks the refund ``failed`` and puts the order
  back; an unknown outcome (timeout, network) leaves it ``processing`` for
  :func:`reconcile_processing_refunds`, which queries WeChat and re-submits
  with the same ``out_refund_no`` (WeChat refunds a number once).
- Notify: ``SUCCESS`` adds the refunded units and fen to the lines and the
  order, moves the order to ``refunded`` (nothing left) or
  ``partially_refunded``, and puts back in stock the refunded units of lines
  whose supplier had not shipped. If every supplier with units left has then
  shipped (the refund took all of the others' units), the order is marked
  ``shipped``, so it does not wait for a shipment nobody owes. Status moves use
  the transition table (``shop.order_status``).
  ``REFUNDCLOSE``/``CHANGE`` mark the refund ``failed`` and return the order to
  its previous status. Applying is guarded by
  ``WHERE status = 'processing'``, so a repeated notify changes nothing.
- A refund of a late payment on a cancelled order (started automatically by
  the payment notify) leaves the order ``cancelled``: its stock was already
  released at cancellation; the amounts are still recorded on lines and order.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from adapters.wechat.pay_notify import NotifyOutcome, NotifyRejected, RefundNotice, fen
from adapters.wechat.pay_v2 import GatewayError, PayGateway
from commissions.reversal import book_refund
from core.actors import Actor
from core.clock import utcnow
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.journal import announce, audit
from core.models import (
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentStatus,
    Refund,
    RefundLine,
    RefundStatus,
    Sku,
)
from core.uow import DbSession, unit_of_work
from shop.domain.order_rules import REFUNDABLE
from shop.domain.refund_rules import (
    LineRequest,
    LineState,
    OrderState,
    RefundPlan,
    RefundRuleError,
    buyer_may_refund,
    plan_refund,
    refund_number,
    restock_quantities,
    status_after_refund,
)
from shop.order_status import move_order
from shop.orders import get_visible_order, ship_if_nothing_left_to_ship

log = logging.getLogger(__name__)

LineSpec = tuple[int, int, int | None]


class RefundAfterShipping(Forbidden):
    """A buyer asked to refund an order of which a part has shipped: customer service decides."""


class _Refused(Exception):
    """Internal: refuse a notify after rolling back whatever the transaction did."""


def _in_flight(session: DbSession, order_id: int) -> tuple[int, dict[int, tuple[int, int]]]:
    """Fen and per-line (units, fen) held by this order's refunds still processing."""
    rows = session.execute(
        select(RefundLine.order_line_id, RefundLine.quantity, RefundLine.amount_fen)
        .join(Refund, Refund.id == RefundLine.refund_id)
        .where(Refund.order_id == order_id, Refund.status == RefundStatus.PROCESSING)
    ).all()
    per_line: dict[int, tuple[int, int]] = {}
    for line_id, quantity, amount in rows:
        q, a = per_line.get(line_id, (0, 0))
        per_line[line_id] = (q + quantity, a + amount)
    total = session.scalar(
        select(func.coalesce(func.sum(Refund.amount_fen), 0)).where(
            Refund.order_id == order_id, Refund.status == RefundStatus.PROCESSING
        )
    )
    return int(total or 0), per_line


def refund_state(session: DbSession, order: Order) -> OrderState:
    """The order as the refund rules see it: paid, refunded and in-flight amounts per line."""
    in_flight_total, per_line = _in_flight(session, order.id)
    lines = tuple(
        LineState(
            line_id=line.id,
            quantity=line.quantity,
            unit_price_fen=line.unit_price_fen,
            amount_fen=line.amount_fen,
            refunded_quantity=line.refunded_quantity,
            refunded_fen=line.refunded_fen,
            in_flight_quantity=per_line.get(line.id, (0, 0))[0],
            in_flight_fen=per_line.get(line.id, (0, 0))[1],
        )
        for line in order.lines
    )
    return OrderState(order.total_fen, order.refunded_fen, in_flight_total, lines)


def open_refund(
    session: DbSession,
    order: Order,
    plan: RefundPlan,
    reason: str,
    requested_by_id: int | None,
    previous_status: str,
) -> Refund:
    """Write a processing refund for ``plan`` inside the caller's transaction (no WeChat call)."""
    count = session.scalar(select(func.count(Refund.id)).where(Refund.order_id == order.id))
    number = refund_number(order.number, int(count or 0) + 1)
    refund = Refund(
        order_id=order.id,
        out_refund_no=number,
        amount_fen=plan.total_fen,
        reason=reason[:200],
        status=RefundStatus.PROCESSING,
        order_status_before=previous_status,
        requested_by_id=requested_by_id,
        lines=[
            RefundLine(order_line_id=p.line_id, quantity=p.quantity, amount_fen=p.amount_fen)
            for p in plan.lines
        ],
    )
    session.add(refund)
    session.flush()
    audit(
        session,
        requested_by_id,
        "refund.requested",
        "refund",
        number,
        order=order.number,
        amount_fen=plan.total_fen,
        shipping_fen=plan.shipping_fen,
        previous_status=previous_status,
        reason=reason[:200],
        lines=[[p.line_id, p.quantity, p.amount_fen] for p in plan.lines],
    )
    announce(
        session,
        "refund.requested",
        refund_id=refund.id,
        order_id=order.id,
        number=order.number,
        out_refund_no=number,
        amount_fen=plan.total_fen,
    )
    return refund


def _line_requests(lines: Sequence[LineSpec] | None) -> list[LineRequest] | None:
    if lines is None:
        return None
    requests = []
    for spec in lines:
        try:
            line_id, quantity, amount = spec
        except (TypeError, ValueError) as exc:
            raise InvalidInput("a line is (order_line_id, quantity, amount_fen or None)") from exc
        requests.append(LineRequest(line_id, quantity, amount))
    return requests


def request_refund(
    session: DbSession,
    gateway: PayGateway,
    actor: Actor,
    order_id: int,
    lines: Sequence[LineSpec] | None = None,
    reason: str = "",
) -> Refund:
    """Refund lines given as (order_line_id, quantity, amount_fen|None), or everything left.

    The refund is submitted to WeChat Pay through ``gateway`` once it is recorded.
    """
    reason = (reason or "").strip()
    if len(reason) > 200:
        raise InvalidInput("reason must be at most 200 characters")
    requests = _line_requests(lines)
    with unit_of_work(session):
        order = get_visible_order(session, actor, order_id)
        if not actor.is_operator():
            if order.buyer_id != actor.user_id:
                raise Forbidden("only operators and the buyer can refund an order")
            shipped = {s.supplier_id for s in order.shipments}
            if order.status in REFUNDABLE and not buyer_may_refund(order.status, shipped):
                raise RefundAfterShipping(
                    "part of this order has shipped: ask customer service for a refund")
        # Money taken after cancellation (a late payment) may be refunded by an operator.
        cancelled_but_paid = order.status == OrderStatus.CANCELLED and actor.is_operator()
        if order.status not in REFUNDABLE and not cancelled_but_paid:
            raise Conflict(f"an order that is {order.status} cannot be refunded now")
        paid = session.scalar(
            select(Payment.id).where(
                Payment.order_id == order.id, Payment.status == PaymentStatus.SUCCEEDED
            )
        )
        if paid is None:
            raise Conflict("this order has no completed payment to refund")
        try:
            plan = plan_refund(refund_state(session, order), requests)
        except RefundRuleError as exc:
            raise InvalidInput(str(exc)) from exc
        previous = order.status
        if cancelled_but_paid:
            # The order stays cancelled; the version guard stops two refunds racing.
            guard = update(Order).where(Order.id == order.id, Order.version == order.version)
            guard = guard.values(version=Order.version + 1)
            moved = session.execute(guard.execution_options(synchronize_session=False))
            claimed = moved.rowcount == 1  # type: ignore[attr-defined]
        else:
            # Only from the status just read: a change in between is a conflict.
            claimed = move_order(session, order.id, OrderStatus.REFUNDING, [previous])
        if not claimed:
            raise Conflict("the order changed meanwhile; retry")
        refund = open_refund(session, order, plan, reason, actor.user_id, previous)
        refund_id = refund.id
    submit_refund(session, gateway, refund_id)
    result = session.get(Refund, refund_id)
    assert result is not None
    session.refresh(result)
    return result


@dataclass(frozen=True)
class SupplierRefundView:
    """A refund as one supplier sees it: only the lines of its own goods, and their sum."""

    id: int
    out_refund_no: str
    wechat_refund_id: str | None
    amount_fen: int
    reason: str
    status: str
    requested_by_id: int | None
    failure_reason: str
    created_at: datetime
    completed_at: datetime | None
    lines: list[RefundLine]


def _supplier_view(refund: Refund, own_lines: set[int]) -> SupplierRefundView | None:
    lines = [line for line in refund.lines if line.order_line_id in own_lines]
    if not lines:
        return None
    return SupplierRefundView(
        id=refund.id, out_refund_no=refund.out_refund_no,
        wechat_refund_id=refund.wechat_refund_id,
        amount_fen=sum(line.amount_fen for line in lines), reason=refund.reason,
        status=refund.status, requested_by_id=refund.requested_by_id,
        failure_reason=refund.failure_reason, created_at=refund.created_at,
        completed_at=refund.completed_at, lines=lines,
    )


def list_refunds(
    session: DbSession, actor: Actor, order_id: int,
) -> list[Refund] | list[SupplierRefundView]:
    """Refunds of an order the actor may see, oldest first.

    Supplier staff see only refunds that give back some of their own goods, each
    with only those lines and their sum as its amount (like the supplier's view
    of the order): another supplier's lines, amounts and refunds stay hidden.
    """
    order = get_visible_order(session, actor, order_id)
    found = list(
        session.scalars(select(Refund).where(Refund.order_id == order_id).order_by(Refund.id))
    )
    if actor.is_operator() or order.buyer_id == actor.user_id:
        return found
    supplier_id = actor.require_supplier()
    own_lines = {line.id for line in order.lines if line.supplier_id == supplier_id}
    views = (_supplier_view(refund, own_lines) for refund in found)
    return [view for view in views if view is not None]


def submit_refund(session: DbSession, gateway: PayGateway, refund_id: int) -> str:
    """Ask WeChat (``gateway``) to pay a processing refund back; returns its status afterwards."""
    with unit_of_work(session):
        row = session.execute(
            select(Refund.status, Refund.out_refund_no, Refund.amount_fen, Refund.reason,
                   Order.number, Order.total_fen)
            .join(Order, Order.id == Refund.order_id)
            .where(Refund.id == refund_id)
        ).one_or_none()
    if row is None:
        raise NotFound("refund not found")
    status, out_refund_no, amount, reason, order_number, total = row
    if status != RefundStatus.PROCESSING:
        return str(status)
    try:
        answer = gateway.refund(
            out_trade_no=order_number,
            out_refund_no=out_refund_no,
            total_fen=total,
            refund_fen=amount,
            reason=reason,
        )
    except GatewayError as exc:
        if exc.definite:
            log.warning("refund %s refused by WeChat: %s", out_refund_no, exc.message)
            _fail_refund(session, refund_id, exc.message, raw=None)
            return str(RefundStatus.FAILED)
        log.warning("refund %s outcome unknown, left processing: %s", out_refund_no, exc.message)
        return str(RefundStatus.PROCESSING)
    if answer.get("out_refund_no") != out_refund_no:
        log.error("refund %s: WeChat answered about %r", out_refund_no, answer.get("out_refund_no"))
        return str(RefundStatus.PROCESSING)
    wechat_id = (answer.get("refund_id") or "")[:32]
    if wechat_id:
        with unit_of_work(session):
            session.execute(
                update(Refund)
                .where(Refund.id == refund_id, Refund.wechat_refund_id.is_(None))
                .values(wechat_refund_id=wechat_id)
                .execution_options(synchronize_session=False)
            )
    return str(RefundStatus.PROCESSING)


def _status_to_return_to(refund: Refund, order: Order) -> str:
    """The order status before the refund started, as recorded on the refund."""
    previous = refund.order_status_before
    if previous in REFUNDABLE:
        return str(previous)
    # Not recorded (should not happen): derive the most advanced state the order reached.
    if order.completed_at is not None:
        return OrderStatus.COMPLETED
    if order.shipped_at is not None:
        return OrderStatus.SHIPPED
    return OrderStatus.PARTIALLY_REFUNDED if order.refunded_fen else OrderStatus.PAID


def _restore_order(session: DbSession, refund: Refund, order: Order) -> str:
    previous = _status_to_return_to(refund, order)
    if move_order(session, order.id, previous, [OrderStatus.REFUNDING], undo=True):
        return previous
    return str(session.scalar(select(Order.status).where(Order.id == order.id)))


def _fail_refund(session: DbSession, refund_id: int, reason: str, raw: str | None) -> bool:
    """Mark a processing refund failed and put its order back; False if it was not processing."""
    with unit_of_work(session):
        values: dict[str, object] = {
            "status": RefundStatus.FAILED,
            "failure_reason": reason[:200],
            "completed_at": utcnow(),
        }
        if raw is not None:
            values["raw_notify"] = raw
        moved = session.execute(
            update(Refund)
            .where(Refund.id == refund_id, Refund.status == RefundStatus.PROCESSING)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            return False
        refund = session.get(Refund, refund_id)
        assert refund is not None
        order = session.get(Order, refund.order_id)
        assert order is not None
        status = _restore_order(session, refund, order)
        audit(session, None, "refund.failed", "refund", refund.out_refund_no,
              order=order.number, reason=reason[:200], order_status=status)
        announce(session, "refund.failed", refund_id=refund.id, order_id=order.id,
                 number=order.number, out_refund_no=refund.out_refund_no, reason=reason[:200])
    return True


def _apply_success(session: DbSession, refund: Refund, order: Order, notice: RefundNotice) -> str:
    for part in refund.lines:
        session.execute(
            update(OrderLine)
            .where(OrderLine.id == part.order_line_id)
            .values(
                refunded_fen=OrderLine.refunded_fen + part.amount_fen,
                refunded_quantity=OrderLine.refunded_quantity + part.quantity,
            )
            .execution_options(synchronize_session=False)
        )
    session.execute(
        update(Order)
        .where(Order.id == order.id)
        .values(refunded_fen=Order.refunded_fen + refund.amount_fen, version=Order.version + 1)
        .execution_options(synchronize_session=False)
    )
    status, refunded, total = session.execute(
        select(Order.status, Order.refunded_fen, Order.total_fen).where(Order.id == order.id)
    ).one()
    restocked: dict[int, int] = {}
    if status == OrderStatus.REFUNDING:
        status = status_after_refund(total, refunded)
        move_order(session, order.id, status, [OrderStatus.REFUNDING])
        if status == OrderStatus.PARTIALLY_REFUNDED and ship_if_nothing_left_to_ship(
                session, order.id):
            status = OrderStatus.SHIPPED
        by_id = {line.id: line for line in order.lines}
        shipped = {s.supplier_id for s in order.shipments}
        restocked = restock_quantities(
            (
                (by_id[p.order_line_id].sku_id, by_id[p.order_line_id].supplier_id, p.quantity)
                for p in refund.lines
            ),
            shipped,
        )
        for sku_id in sorted(restocked):  # id order, like checkout, so writers cannot deadlock
            session.execute(
                update(Sku)
                .where(Sku.id == sku_id)
                .values(stock=Sku.stock + restocked[sku_id], version=Sku.version + 1)
                .execution_options(synchronize_session=False)
            )
    # Commissions, supplier and platform shares go back in the same transaction.
    book_refund(session, refund)
    # A cancelled order (automatic refund of a late payment) keeps its status and stock.
    audit(session, None, "refund.succeeded", "refund", refund.out_refund_no, order=order.number,
          amount_fen=refund.amount_fen, order_status=status,
          restocked={str(k): v for k, v in restocked.items()})
    announce(
        session,
        "refund.succeeded",
        refund_id=refund.id,
        order_id=order.id,
        number=order.number,
        out_refund_no=refund.out_refund_no,
        wechat_refund_id=notice.refund_id,
        amount_fen=refund.amount_fen,
        order_refunded_fen=refunded,
        order_status=status,
        lines=[
            {"order_line_id": p.order_line_id, "quantity": p.quantity, "amount_fen": p.amount_fen}
            for p in refund.lines
        ],
    )
    return str(status)


def _settle(session: DbSession, notice: RefundNotice, raw: str) -> NotifyOutcome:
    """Apply a refund outcome reported by WeChat (notify or query) exactly once."""
    now = utcnow()
    try:
        with unit_of_work(session):
            refund = session.scalar(
                select(Refund).where(Refund.out_refund_no == notice.out_refund_no)
            )
            if refund is None:
                raise _Refused("unknown out_refund_no")
            order = session.get(Order, refund.order_id)
            assert order is not None
            if notice.out_trade_no and notice.out_trade_no != order.number:
                raise _Refused("out_trade_no does not match the refund's order")
            if notice.refund_fen != refund.amount_fen:
                raise _Refused(f"refund_fee {notice.refund_fen} != {refund.amount_fen}")
            if notice.total_fen and notice.total_fen != order.total_fen:
                raise _Refused(f"total_fee {notice.total_fen} != {order.total_fen}")
            succeeded = notice.refund_status == "SUCCESS"
            target = RefundStatus.SUCCEEDED if succeeded else RefundStatus.FAILED
            values: dict[str, object] = {"status": target, "raw_notify": raw, "completed_at": now}
            if not succeeded:
                values["failure_reason"] = f"WeChat: {notice.refund_status}"
            if notice.refund_id and refund.wechat_refund_id is None:
                values["wechat_refund_id"] = notice.refund_id
            moved = session.execute(
                update(Refund)
                .where(Refund.id == refund.id, Refund.status == RefundStatus.PROCESSING)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                current = session.scalar(select(Refund.status).where(Refund.id == refund.id))
                if current == target:
                    return NotifyOutcome(True, "OK", order.id, applied=False, refund_id=refund.id)
                raise _Refused(f"refund is already {current}, WeChat now says {target}")
            if succeeded:
                _apply_success(session, refund, order, notice)
            else:
                status = _restore_order(session, refund, order)
                audit(session, None, "refund.failed", "refund", refund.out_refund_no,
                      order=order.number, reason=notice.refund_status, order_status=status)
                announce(session, "refund.failed", refund_id=refund.id, order_id=order.id,
                         number=order.number, out_refund_no=refund.out_refund_no,
                         reason=notice.refund_status)
            return NotifyOutcome(True, "OK", order.id, applied=True, refund_id=refund.id)
    except _Refused as exc:
        log.warning("refund outcome %s refused: %s", notice.out_refund_no, exc)
        return NotifyOutcome(False, "refused")


def apply_refund_notify(
    session: DbSession, gateway: PayGateway, raw_xml: bytes | str
) -> NotifyOutcome:
    """Decrypt, check and apply a WeChat refund notify; a repeated notify changes nothing."""
    try:
        notice, fields = gateway.parse_refund_notify(raw_xml)
    except NotifyRejected as exc:
        log.warning("refund notify refused: %s", exc.reason)
        return NotifyOutcome(False, "invalid notify")
    return _settle(session, notice, json.dumps(fields, ensure_ascii=False, sort_keys=True))


def reconcile_refund(session: DbSession, gateway: PayGateway, refund_id: int) -> str:
    """Resolve a processing refund by asking WeChat; re-submits if WeChat never got it."""
    with unit_of_work(session):
        row = session.execute(
            select(Refund.status, Refund.out_refund_no).where(Refund.id == refund_id)
        ).one_or_none()
    if row is None:
        raise NotFound("refund not found")
    status, out_refund_no = row
    if status != RefundStatus.PROCESSING:
        return str(status)
    try:
        answer = gateway.query_refund(out_refund_no)
    except GatewayError as exc:
        if exc.code == "REFUNDNOTEXIST":
            return submit_refund(session, gateway, refund_id)
        log.warning("refund query %s failed: %s", out_refund_no, exc.message)
        return str(RefundStatus.PROCESSING)
    index = next(
        (i for i in range(int(answer.get("refund_count") or 0))
         if answer.get(f"out_refund_no_{i}") == out_refund_no),
        None,
    )
    if index is None:
        return str(RefundStatus.PROCESSING)
    state = answer.get(f"refund_status_{index}", "")
    if state not in {"SUCCESS", "CHANGE", "REFUNDCLOSE"}:
        return str(RefundStatus.PROCESSING)
    try:
        notice = RefundNotice(
            out_refund_no=out_refund_no,
            refund_id=(answer.get(f"refund_id_{index}") or "")[:32],
            out_trade_no=answer.get("out_trade_no", ""),
            refund_fen=fen(answer.get(f"refund_fee_{index}"), "refund_fee"),
            total_fen=fen(answer.get("total_fee"), "total_fee"),
            refund_status=state,
        )
    except NotifyRejected as exc:
        log.warning("refund query %s: %s", out_refund_no, exc.reason)
        return str(RefundStatus.PROCESSING)
    _settle(session, notice, json.dumps(answer, ensure_ascii=False, sort_keys=True))
    with unit_of_work(session):
        return str(session.scalar(select(Refund.status).where(Refund.id == refund_id)))


def reconcile_processing_refunds(
    session: DbSession, gateway: PayGateway, older_than_minutes: int = 10, limit: int = 100
) -> int:
    """Reconcile refunds stuck in processing; returns how many reached a final status."""
    cutoff = utcnow() - timedelta(minutes=older_than_minutes)
    with unit_of_work(session):
        ids = list(
            session.scalars(
                select(Refund.id)
                .where(Refund.status == RefundStatus.PROCESSING, Refund.created_at < cutoff)
                .order_by(Refund.id)
                .limit(limit)
            )
        )
    settled = 0
    for refund_id in ids:
        try:
            if reconcile_refund(session, gateway, refund_id) != RefundStatus.PROCESSING:
                settled += 1
        except Exception:  # noqa: BLE001 - one bad refund must not stop the others
            log.exception("reconciling refund %s failed", refund_id)
    return settled
