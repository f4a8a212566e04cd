"""Small builders for test data (they commit, like the services do)."""
from __future__ import annotations

import itertools
from typing import Any

from core.models import (
    Address,
    Category,
    Distributor,
    Order,
    Product,
    ProductStatus,
    ReferralBinding,
    Role,
    Sku,
    Supplier,
    User,
    UserRole,
)
from referral.domain.codes import new_invite_code
from shop import checkout
from shop.auth import issue_token
from shop.domain.addresses import validate_address
from tests.support.settings import settings_of
from webapp.extensions import db

_seq = itertools.count(1)

GOOD_ADDRESS = {
    "recipient": "张三",
    "phone": "13800138000",
    "region": "上海市 浦东新区",
    "detail": "世纪大道 100 号",
}
ADDRESS = validate_address(**GOOD_ADDRESS)
# Distributor statuses reached through an approval (some tests give them all the role).
APPROVED = ("active", "frozen", "revoked")


def make_supplier(name: str | None = None) -> Supplier:
    """A new active supplier."""
    supplier = Supplier(name=name or f"Supplier {next(_seq)}")
    db.session.add(supplier)
    db.session.commit()
    return supplier


def make_category(name: str | None = None) -> Category:
    """A new category."""
    category = Category(name=name or f"Category {next(_seq)}")
    db.session.add(category)
    db.session.commit()
    return category


def make_product(
    supplier: Supplier | None = None,
    category: Category | None = None,
    *,
    price_fen: int = 1000,
    supply_price_fen: int = 600,
    stock: int = 10,
    title: str | None = None,
    status: str = ProductStatus.ACTIVE,
) -> tuple[Product, Sku]:
    """An active product with one SKU."""
    supplier = supplier or make_supplier()
    category = category or make_category()
    n = next(_seq)
    product = Product(
        supplier_id=supplier.id,
        category_id=category.id,
        title=title or f"Product {n}",
        status=status,
    )
    sku = Sku(code=f"SKU-{n}", name="standard", price_fen=price_fen,
              supply_price_fen=supply_price_fen, stock=stock)
    product.skus = [sku]
    db.session.add(product)
    db.session.commit()
    return product, sku


def make_user(*roles: Role, supplier: Supplier | None = None, openid: str | None = None) -> User:
    """A user with the given roles (consumer if none)."""
    n = next(_seq)
    user = User(
        openid=openid if openid is not None else f"o-test-{n}",
        nickname=f"user{n}",
        supplier_id=supplier.id if supplier else None,
    )
    user.roles = [UserRole(role=str(r)) for r in (roles or (Role.CONSUMER,))]
    db.session.add(user)
    db.session.commit()
    return user


def auth_header(user: User) -> dict[str, str]:
    """Authorization header with a fresh token for ``user``."""
    return {"Authorization": "Bearer " + issue_token(db.session, user.id, "test")}


def save_address(user: User, **overrides: Any) -> Address:
    """A saved address for ``user``."""
    address = Address(user_id=user.id, **{**GOOD_ADDRESS, **overrides})
    db.session.add(address)
    db.session.commit()
    return address


def place_order(
    *lines: tuple[int, int], suppliers: list[Supplier] | None = None, buyer: User | None = None,
    stock: int = 10,
) -> Order:
    """An unpaid order of (price_fen, quantity) lines, each from its own product/supplier.

    Supply cost is half the price. To have it paid, see ``tests.support.payments``.
    """
    buyer = buyer or make_user()
    items = []
    for index, (price, quantity) in enumerate(lines):
        supplier = suppliers[index] if suppliers else make_supplier()
        _, sku = make_product(supplier, price_fen=price, supply_price_fen=price // 2, stock=stock)
        items.append((sku.id, quantity))
    order = checkout.checkout(db.session, settings_of(), buyer.id, items, ADDRESS)
    db.session.commit()
    return order


def make_distributor(
    status: str = "active",
    *,
    upline: User | None = None,
    tier_id: int | None = None,
    nickname: str | None = None,
    openid: str | None = None,
    with_role: bool | None = None,
) -> User:
    """A user with a distributor record of ``status``, optionally bound under ``upline``.

    The distributor role comes with an active record unless ``with_role`` says
    otherwise (some tests give it to frozen or revoked distributors too).
    """
    has_role = status == "active" if with_role is None else with_role
    user = make_user(*((Role.CONSUMER, Role.DISTRIBUTOR) if has_role else (Role.CONSUMER,)),
                     openid=openid)
    if nickname is not None:
        user.nickname = nickname
    db.session.add(Distributor(user_id=user.id, status=status, invite_code=new_invite_code(),
                               tier_id=tier_id))
    if upline is not None:
        db.session.add(ReferralBinding(user_id=user.id, upline_id=upline.id, source="qr"))
    db.session.commit()
    return user


def link(user: User, upline: User, **values: Any) -> None:
    """Bind ``user`` under ``upline`` straight in the database (setup, no rules)."""
    db.session.add(ReferralBinding(user_id=user.id, upline_id=upline.id, source="qr", **values))
    db.session.commit()
