"""Guarded order status changes built from the one transition table.

Every service that changes ``orders.status`` does it with
:func:`move_order`: an ``UPDATE ... WHERE id = :id AND <guard>`` whose guard
lists exactly the table's moves into the target (``shop.domain.order_rules``).
The guard is what makes concurrent writers safe: of two racing changes only
one matches the row.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, false, or_, update
from sqlalchemy.sql.elements import ColumnElement

from core.models import Order
from core.uow import DbSession
from shop.domain.order_rules import Transition, moves_into


def _milestone(column: Any, reached: bool | None) -> ColumnElement[bool] | None:
    if reached is None:
        return None
    return column.is_not(None) if reached else column.is_(None)


def _move_condition(move: Transition) -> ColumnElement[bool]:
    terms = [Order.status == move.source]
    for column, reached in ((Order.shipped_at, move.shipped), (Order.completed_at, move.completed)):
        term = _milestone(column, reached)
        if term is not None:
            terms.append(term)
    return and_(*terms)


def may_become(target: str, sources: Iterable[str] | None = None, *,
               undo: bool = False) -> ColumnElement[bool]:
    """SQL condition: the order may move to ``target`` (from ``sources`` only, when given).

    Raises ``TransitionNotAllowed`` when the table has no such move at all.
    """
    moves = moves_into(target, sources, undo=undo)
    return or_(false(), *(_move_condition(move) for move in moves))


def move_order(session: DbSession, order_id: int, target: str,
               sources: Iterable[str] | None = None, *, undo: bool = False,
               **values: Any) -> bool:
    """Move one order to ``target`` if the table allows it from where it is now.

    ``values`` are further columns to set (timestamps, reasons). The version is
    bumped. Returns False, changing nothing, when the order is not in a state
    that may move there (the caller decides whether that is a conflict).
    """
    moved = session.execute(
        update(Order)
        .where(Order.id == order_id, may_become(target, sources, undo=undo))
        .values(status=target, version=Order.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(moved.rowcount == 1)  # type: ignore[attr-defined]
