"""Order lifecycle rules: which transitions are allowed, and order totals.

:data:`RULES` is the one transition table. The services never hard-code which
statuses an order may leave: their guarded UPDATEs build the ``WHERE`` from
this table (``shop.order_status``), so a rule changed here changes
what the services accept.
"""
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

STATUSES = (PENDING_PAYMENT, PAID, SHIPPED, COMPLETED, CANCELLED, REFUNDING, REFUNDED,
            PARTIALLY_REFUNDED)


@dataclass(frozen=True)
class Transition:
    """One allowed move of an order's status.

    ``shipped`` / ``completed`` restrict the move to orders that have (True) or
    have not (False) reached that milestone, i.e. whose ``shipped_at`` /
    ``completed_at`` is set; None means either. ``undo`` marks the moves that put
    an order back where it was when WeChat refused a refund: they are not steps
    forward in the lifecycle and a guard uses them only when asked to.
    """

    source: str
    target: str
    shipped: bool | None = None
    completed: bool | None = None
    undo: bool = False

    def allows(self, status: str, shipped: bool, completed: bool) -> bool:
        """True if an order in ``status`` with these milestones may take this move."""
        return (status == self.source
                and self.shipped in (None, shipped)
                and self.completed in (None, completed))


# ARCHITECTURE.md's machine, plus what "partially refunded" means: the order
# still has goods to deliver. Before anything shipped it can ship; once it
# shipped (and was not completed yet) the buyer can confirm receipt and
# auto-completion can complete it, so its commission and supply cost can settle.
RULES: tuple[Transition, ...] = (
    Transition(PENDING_PAYMENT, PAID),
    Transition(PENDING_PAYMENT, CANCELLED),
    Transition(PAID, SHIPPED),
    Transition(PAID, REFUNDING),
    Transition(SHIPPED, COMPLETED),
    Transition(SHIPPED, REFUNDING),
    Transition(COMPLETED, REFUNDING),
    Transition(REFUNDING, REFUNDED),
    Transition(REFUNDING, PARTIALLY_REFUNDED),
    Transition(PARTIALLY_REFUNDED, SHIPPED, shipped=False),
    Transition(PARTIALLY_REFUNDED, COMPLETED, shipped=True, completed=False),
    Transition(PARTIALLY_REFUNDED, REFUNDING),
    # A refused refund returns the order to the status it had before the refund.
    *(Transition(REFUNDING, back, undo=True)
      for back in (PAID, SHIPPED, COMPLETED, PARTIALLY_REFUNDED)),
)

# The forward moves as a plain graph (source -> targets), milestones ignored.
TRANSITIONS: dict[str, frozenset[str]] = {
    status: frozenset(t.target for t in RULES if t.source == status and not t.undo)
    for status in STATUSES
}

# States in which an order's goods may still ship / be confirmed received.
SHIPPABLE = frozenset(t.source for t in RULES if t.target == SHIPPED and not t.undo)
REFUNDABLE = frozenset(t.source for t in RULES if t.target == REFUNDING)


class TransitionNotAllowed(ValueError):
    """A service asked for a move the table does not have (a programming error)."""


def can_transition(current: str, target: str) -> bool:
    """True if an order may move from ``current`` to ``target`` (milestones aside)."""
    return target in TRANSITIONS.get(current, frozenset())


def moves_into(target: str, sources: Iterable[str] | None = None, *,
               undo: bool = False) -> tuple[Transition, ...]:
    """The table's moves into ``target`` (only from ``sources`` when given).

    ``undo`` selects the moves back after a refused refund instead of the forward
    ones. Raises :class:`TransitionNotAllowed` when none is left: a guard that
    could never match is a bug, not a conflict to report to a user.
    """
    wanted = None if sources is None else frozenset(sources)
    found = tuple(t for t in RULES if t.target == target and t.undo == undo
                  and (wanted is None or t.source in wanted))
    if not found:
        raise TransitionNotAllowed(f"no {'undo ' if undo else ''}move into {target} "
                                   f"from {sorted(wanted) if wanted else 'anywhere'}")
    return found


def may_move(status: str, target: str, *, shipped: bool, completed: bool) -> bool:
    """True if an order in ``status`` with these milestones may move (forward) to ``target``."""
    return any(t.allows(status, shipped, completed) for t in RULES
               if t.target == target and not t.undo)


def can_still_complete(status: str, *, shipped: bool, completed: bool) -> bool:
    """True if some sequence of forward moves takes the order to ``completed``.

    Moving to shipped or completed sets that milestone, as the services do.
    An order already completed counts as done.
    """
    if completed or status == COMPLETED:
        return True
    seen: set[tuple[str, bool, bool]] = set()
    todo = [(status, shipped, completed)]
    while todo:
        state = todo.pop()
        if state in seen:
            continue
        seen.add(state)
        here, has_shipped, has_completed = state
        for move in RULES:
            if move.undo or not move.allows(here, has_shipped, has_completed):
                continue
            if move.target == COMPLETED:
                return True
            todo.append((move.target, has_shipped or move.target == SHIPPED, has_completed))
    return False


def stuck_states() -> tuple[tuple[str, bool], ...]:
    """(status, shipped) pairs of a not yet completed order that can never complete."""
    return tuple((status, shipped) for status in STATUSES for shipped in (False, True)
                 if not can_still_complete(status, shipped=shipped, completed=False))


def awaiting_shipment(lines: Iterable[tuple[int, int, int]], shipped: Iterable[int]) -> set[int]:
    """Suppliers that still have to ship: lines are (supplier_id, quantity, refunded_quantity).

    A supplier whose every unit was refunded has nothing to deliver, so the order
    does not wait for it (else it could never ship, nor complete, nor settle).
    """
    done = set(shipped)
    return {supplier for supplier, quantity, refunded in lines
            if refunded < quantity and supplier not in done}


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
