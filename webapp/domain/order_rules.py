"""Order lifecycle rules: which transitions are allowed, and order totals."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

PENDING_PAYMENT = "pending_payment"
PAID = "paid"
SHIPPED = "shipped"
COMPLETED = "completed"
CANCELLED = "cancelled"
REFUNDING = "refunding"
REFUNDED = "refunded"
PARTIALLY_REFUNDED = "partially_refunded"

# Allowed transitions (ARCHITECTURE.md). A partially refunded order still has
# goods to deliver, so it can go on to shipped and completed.
TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING_PAYMENT: frozenset({PAID, CANCELLED}),
    PAID: frozenset({SHIPPED, REFUNDING}),
    SHIPPED: frozenset({COMPLETED, REFUNDING}),
    COMPLETED: frozenset({REFUNDING}),
    REFUNDING: frozenset({REFUNDED, PARTIALLY_REFUNDED}),
    PARTIALLY_REFUNDED: frozenset({SHIPPED, COMPLETED, REFUNDING}),
    CANCELLED: frozenset(),
    REFUNDED: frozenset(),
}

# States in which an order's goods may still ship / be confirmed received.
SHIPPABLE = frozenset({PAID, PARTIALLY_REFUNDED})
REFUNDABLE = frozenset({PAID, SHIPPED, COMPLETED, PARTIALLY_REFUNDED})


def can_transition(current: str, target: str) -> bool:
    """True if an order may move from ``current`` to ``target``."""
    return target in TRANSITIONS.get(current, frozenset())


@dataclass(frozen=True)
class LineAmount:
    """Money of one order line in fen."""

    unit_price_fen: int
    unit_supply_price_fen: int
    quantity: int

    @property
    def amount_fen(self) -> int:
        """What the buyer pays for the line."""
        return self.unit_price_fen * self.quantity

    @property
    def supply_cost_fen(self) -> int:
        """What the supplier is owed for the line."""
        return self.unit_supply_price_fen * self.quantity


def order_total_fen(lines: Iterable[LineAmount], shipping_fen: int = 0) -> int:
    """Goods plus shipping, in fen."""
    if shipping_fen < 0:
        raise ValueError("shipping cannot be negative")
    return sum(line.amount_fen for line in lines) + shipping_fen


def merge_quantities(items: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Collapse repeated (sku_id, quantity) pairs into one quantity per SKU."""
    merged: dict[int, int] = {}
    for sku_id, quantity in items:
        merged[sku_id] = merged.get(sku_id, 0) + quantity
    return merged
