"""Refund arithmetic: what may still be refunded, per order line and per order, in integer fen.

Rules (where the product brief is silent, these are the decisions):

- A refund is either *full* (no lines given: everything still refundable on the
  order, lines and shipping) or *by line*: a list of (order line, quantity,
  amount) requests. Line refunds never include shipping.
- Per line, "left" is the line amount minus what was already refunded minus what
  refunds still in flight hold; the same for units. Nothing may exceed what is
  left, per line and for the order as a whole.
- A line request names a quantity (units going back, 0 for a pure money
  adjustment) and/or an amount. Without an amount, the amount is the units'
  share at the unit price, except that refunding every unit left takes all the
  money left on the line (so earlier money-only refunds never strand a few fen).
  With an amount, it must be 1..left; the quantity only says how many units
  come back (it drives restocking), it does not cap the amount.
- A line may appear at most once per request; an empty request is refused.
- The order is ``refunded`` once its refunded total equals its paid total,
  otherwise ``partially_refunded``.
- The buyer may refund on their own only while nothing has shipped: the order
  is ``paid`` or ``partially_refunded`` and no supplier has shipped any line.
- The refund number is ``<order number>R<nn>``: deterministic per refund (the
  order's n-th refund), so a retried WeChat call reuses it and WeChat refunds once.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

PAID = "paid"
PARTIALLY_REFUNDED = "partially_refunded"
REFUNDED = "refunded"


class RefundRuleError(ValueError):
    """A refund request that breaks the rules; the message is safe to show."""


@dataclass(frozen=True)
class LineState:
    """One order line as far as refunds are concerned (all money in fen)."""

    line_id: int
    quantity: int
    unit_price_fen: int
    amount_fen: int
    refunded_quantity: int = 0
    refunded_fen: int = 0
    in_flight_quantity: int = 0
    in_flight_fen: int = 0

    @property
    def quantity_left(self) -> int:
        """Units not yet refunded nor being refunded."""
        return self.quantity - self.refunded_quantity - self.in_flight_quantity

    @property
    def fen_left(self) -> int:
        """Money not yet refunded nor being refunded."""
        return self.amount_fen - self.refunded_fen - self.in_flight_fen


@dataclass(frozen=True)
class OrderState:
    """An order's paid total, what was refunded or is in flight, and its lines."""

    total_fen: int
    refunded_fen: int
    in_flight_fen: int
    lines: tuple[LineState, ...]

    @property
    def fen_left(self) -> int:
        """Money on the order that can still be refunded."""
        return self.total_fen - self.refunded_fen - self.in_flight_fen


@dataclass(frozen=True)
class LineRequest:
    """What the caller asks for one line: units back and/or an amount (None = derive it)."""

    line_id: int
    quantity: int = 0
    amount_fen: int | None = None


@dataclass(frozen=True)
class PlannedLine:
    """What a refund gives back on one line."""

    line_id: int
    quantity: int
    amount_fen: int


@dataclass(frozen=True)
class RefundPlan:
    """A checked refund: per-line parts plus any shipping part; total in fen."""

    lines: tuple[PlannedLine, ...]
    shipping_fen: int

    @property
    def total_fen(self) -> int:
        """The refund's amount."""
        return sum(line.amount_fen for line in self.lines) + self.shipping_fen


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _plan_line(line: LineState, request: LineRequest) -> PlannedLine:
    quantity, amount = request.quantity, request.amount_fen
    if not _is_int(quantity) or quantity < 0:
        raise RefundRuleError(f"line {line.line_id}: quantity must be a whole number >= 0")
    if quantity > line.quantity_left:
        raise RefundRuleError(
            f"line {line.line_id}: only {line.quantity_left} unit(s) left to refund"
        )
    if amount is None:
        if quantity == 0:
            raise RefundRuleError(f"line {line.line_id}: give a quantity or an amount")
        if quantity == line.quantity_left:
            amount = line.fen_left
        else:
            amount = min(quantity * line.unit_price_fen, line.fen_left)
    elif not _is_int(amount) or amount <= 0:
        raise RefundRuleError(f"line {line.line_id}: amount_fen must be a whole number > 0")
    if amount <= 0 or amount > line.fen_left:
        raise RefundRuleError(f"line {line.line_id}: only {line.fen_left} fen left to refund")
    return PlannedLine(line.line_id, quantity, amount)


def plan_refund(order: OrderState, requests: Sequence[LineRequest] | None) -> RefundPlan:
    """Check a refund request against what is left and say exactly what it refunds."""
    if order.fen_left <= 0:
        raise RefundRuleError("nothing is left to refund on this order")
    if requests is None:
        planned = tuple(
            PlannedLine(line.line_id, line.quantity_left, line.fen_left)
            for line in order.lines
            if line.fen_left > 0
        )
        lines_fen = sum(p.amount_fen for p in planned)
        shipping = order.fen_left - lines_fen
        if shipping < 0:
            raise RefundRuleError("order and line refund totals disagree")
        return RefundPlan(planned, shipping)

    if not requests:
        raise RefundRuleError("list at least one line, or none at all for a full refund")
    by_id = {line.line_id: line for line in order.lines}
    seen: set[int] = set()
    planned_lines = []
    for request in requests:
        if request.line_id in seen:
            raise RefundRuleError(f"line {request.line_id} is listed twice")
        seen.add(request.line_id)
        line = by_id.get(request.line_id)
        if line is None:
            raise RefundRuleError(f"line {request.line_id} is not part of this order")
        planned_lines.append(_plan_line(line, request))
    plan = RefundPlan(tuple(planned_lines), 0)
    if plan.total_fen > order.fen_left:
        raise RefundRuleError(f"only {order.fen_left} fen left to refund on this order")
    return plan


def status_after_refund(total_fen: int, refunded_fen: int) -> str:
    """Order status once a refund has succeeded: refunded when nothing is left."""
    if refunded_fen > total_fen or refunded_fen <= 0:
        raise ValueError("refunded amount out of bounds")
    return REFUNDED if refunded_fen == total_fen else PARTIALLY_REFUNDED


def buyer_may_refund(status: str, shipped_supplier_ids: Iterable[int]) -> bool:
    """True while nothing of the order has shipped, so the buyer may refund alone."""
    return status in {PAID, PARTIALLY_REFUNDED} and not any(True for _ in shipped_supplier_ids)


def restock_quantities(
    refunded: Iterable[tuple[int, int, int]], shipped_supplier_ids: Iterable[int]
) -> dict[int, int]:
    """Units to put back per SKU from refunded (sku_id, supplier_id, quantity) not yet shipped."""
    shipped = set(shipped_supplier_ids)
    back: dict[int, int] = {}
    for sku_id, supplier_id, quantity in refunded:
        if quantity > 0 and supplier_id not in shipped:
            back[sku_id] = back.get(sku_id, 0) + quantity
    return back


def refund_number(order_number: str, sequence: int) -> str:
    """The out_refund_no of an order's ``sequence``-th refund (1-based)."""
    if sequence < 1:
        raise ValueError("sequence starts at 1")
    return f"{order_number}R{sequence:02d}"
