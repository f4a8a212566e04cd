"""Platform administration by operators: suppliers, categories, user roles, order oversight."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select

from core.actors import Actor
from core.errors import Conflict, InvalidInput, NotFound
from core.journal import audit
from core.models import (
    Category,
    Order,
    OrderLine,
    Payment,
    Refund,
    Role,
    Supplier,
    User,
    UserRole,
)
from core.uow import DbSession, unit_of_work
from shop.auth import grant_role

# Distributors are made by the distributor approval process (it keeps their
# profile and tree position consistent), consumers by following the account.
GRANTABLE_ROLES = (Role.OPERATOR, Role.SUPPLIER)


def list_suppliers(session: DbSession, actor: Actor) -> Sequence[Supplier]:
    """Every supplier, oldest first."""
    actor.require(Role.OPERATOR)
    return session.scalars(select(Supplier).order_by(Supplier.id)).all()


def create_supplier(session: DbSession, actor: Actor, *, name: str, contact: str = "") -> Supplier:
    """Register a supplier company; names are unique."""
    actor.require(Role.OPERATOR)
    name = name.strip()
    if not name:
        raise InvalidInput("name must not be empty")
    with unit_of_work(session):
        if session.scalar(select(func.count()).select_from(Supplier).where(Supplier.name == name)):
            raise Conflict(f"a supplier named {name!r} already exists")
        supplier = Supplier(name=name, contact=contact.strip())
        session.add(supplier)
        session.flush()
        audit(session, actor.user_id, "supplier.created", "supplier", supplier.id, name=name)
    return supplier


def set_supplier_active(
    session: DbSession, actor: Actor, supplier_id: int, active: bool
) -> Supplier:
    """Deactivate a supplier (its products leave the shop at once) or reactivate it."""
    actor.require(Role.OPERATOR)
    with unit_of_work(session):
        supplier = session.get(Supplier, supplier_id)
        if supplier is None:
            raise NotFound("supplier not found")
        if supplier.active != active:
            supplier.active = active
            action = "supplier.activated" if active else "supplier.deactivated"
            audit(session, actor.user_id, action, "supplier", supplier.id)
    return supplier


def create_category(
    session: DbSession,
    actor: Actor,
    *,
    name: str,
    parent_id: int | None = None,
    sort_order: int = 0,
) -> Category:
    """Add a category, optionally under a parent; names are unique."""
    actor.require(Role.OPERATOR)
    name = name.strip()
    if not name:
        raise InvalidInput("name must not be empty")
    with unit_of_work(session):
        if parent_id is not None and session.get(Category, parent_id) is None:
            raise InvalidInput("unknown parent_id")
        if session.scalar(select(func.count()).select_from(Category).where(Category.name == name)):
            raise Conflict(f"a category named {name!r} already exists")
        category = Category(name=name, parent_id=parent_id, sort_order=sort_order)
        session.add(category)
        session.flush()
        audit(session, actor.user_id, "category.created", "category", category.id, name=name)
    return category


def users_query(actor: Actor, role: str | None = None) -> Select[User]:
    """Users (with their roles loaded in one extra query per page), optionally with one role."""
    actor.require(Role.OPERATOR)
    stmt = select(User).order_by(User.id)
    if role is not None:
        stmt = stmt.where(User.roles.any(UserRole.role == role))
    return stmt


def _user(session: DbSession, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user not found")
    return user


def _check_grantable(role: str) -> Role:
    if role not in {str(r) for r in GRANTABLE_ROLES}:
        raise InvalidInput("only these roles can be granted here: " + ", ".join(GRANTABLE_ROLES))
    return Role(role)


def grant_user_role(
    session: DbSession, actor: Actor, user_id: int, role: str, *, supplier_id: int | None = None
) -> User:
    """Give a user a role; supplier staff must be tied to a supplier."""
    actor.require(Role.OPERATOR)
    wanted = _check_grantable(role)
    with unit_of_work(session):
        user = _user(session, user_id)
        details: dict[str, Any] = {"role": str(wanted)}
        if wanted == Role.SUPPLIER:
            if supplier_id is not None:
                if session.get(Supplier, supplier_id) is None:
                    raise InvalidInput("unknown supplier_id")
                if user.supplier_id != supplier_id:
                    details["supplier_id"] = supplier_id
                    details["previous_supplier_id"] = user.supplier_id
                    user.supplier_id = supplier_id
            elif user.supplier_id is None:
                raise InvalidInput("supplier_id is required to make a user supplier staff")
        elif supplier_id is not None:
            raise InvalidInput("supplier_id only goes with the supplier role")
        if user.has_role(wanted) and len(details) == 1:
            return user
        grant_role(session, user, wanted)
        audit(session, actor.user_id, "user.role_granted", "user", user.id, **details)
    return user


def revoke_user_role(session: DbSession, actor: Actor, user_id: int, role: str) -> User:
    """Take a role away (no-op if not held); an operator cannot drop their own operator role."""
    actor.require(Role.OPERATOR)
    wanted = _check_grantable(role)
    if wanted == Role.OPERATOR and user_id == actor.user_id:
        raise Conflict("you cannot revoke your own operator role")
    with unit_of_work(session):
        user = _user(session, user_id)
        held = [r for r in user.roles if r.role == str(wanted)]
        if not held:
            return user
        for row in held:
            user.roles.remove(row)
        details: dict[str, Any] = {"role": str(wanted)}
        if wanted == Role.SUPPLIER:
            details["previous_supplier_id"] = user.supplier_id
            user.supplier_id = None
        audit(session, actor.user_id, "user.role_revoked", "user", user.id, **details)
    return user


@dataclass(frozen=True)
class OrderFilter:
    """What an operator may narrow the order list by."""

    status: str | None = None
    buyer_id: int | None = None
    supplier_id: int | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


def operator_orders_query(actor: Actor, filters: OrderFilter) -> Select[Order]:
    """All orders matching ``filters``, newest first."""
    actor.require(Role.OPERATOR)
    stmt = select(Order).order_by(Order.id.desc())
    if filters.status is not None:
        stmt = stmt.where(Order.status == filters.status)
    if filters.buyer_id is not None:
        stmt = stmt.where(Order.buyer_id == filters.buyer_id)
    if filters.supplier_id is not None:
        stmt = stmt.where(Order.lines.any(OrderLine.supplier_id == filters.supplier_id))
    if filters.created_from is not None:
        stmt = stmt.where(Order.created_at >= filters.created_from)
    if filters.created_to is not None:
        stmt = stmt.where(Order.created_at < filters.created_to)
    return stmt


@dataclass(frozen=True)
class OrderDossier:
    """An order with the money that moved for it."""

    order: Order
    payments: Sequence[Payment]
    refunds: Sequence[Refund]


def order_dossier(session: DbSession, actor: Actor, order_id: int) -> OrderDossier:
    """An order with its payments and refunds, for an operator."""
    actor.require(Role.OPERATOR)
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound("order not found")
    payments = session.scalars(
        select(Payment).where(Payment.order_id == order_id).order_by(Payment.id)
    ).all()
    refunds = session.scalars(
        select(Refund).where(Refund.order_id == order_id).order_by(Refund.id)
    ).all()
    return OrderDossier(order, payments, refunds)
