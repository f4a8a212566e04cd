"""Small builders for test data (they commit, like the services do)."""
from __future__ import annotations

import itertools

from core.models import Category, Product, ProductStatus, Role, Sku, Supplier, User, UserRole
from shop.auth import issue_token
from webapp.extensions import db

_seq = itertools.count(1)


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
