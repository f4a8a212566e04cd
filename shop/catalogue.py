"""Catalogue management: suppliers own their products; operators see and manage all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select, update

from core.actors import Actor

# Prices up to 1,000,000 yuan (anything above is a typo) and stock: one table of limits.
from core.bounds import MAX_PRICE_FEN, MAX_STOCK
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.journal import audit
from core.models import Category, Product, ProductStatus, Role, Sku, Supplier
from core.uow import DbSession, unit_of_work


@dataclass(frozen=True)
class SkuDraft:
    """What a supplier submits for one SKU."""

    code: str
    name: str
    price_fen: int
    supply_price_fen: int
    stock: int = 0


def validate_prices(price_fen: int, supply_price_fen: int) -> None:
    """Refuse prices that are not whole positive fen or put supply above price."""
    for label, value in (("price_fen", price_fen), ("supply_price_fen", supply_price_fen)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(f"{label} must be an integer number of fen")
    if not 0 < price_fen <= MAX_PRICE_FEN:
        raise InvalidInput(f"price_fen must be between 1 and {MAX_PRICE_FEN}")
    if not 0 <= supply_price_fen <= price_fen:
        raise InvalidInput("supply_price_fen must be between 0 and price_fen")


def _validate_stock(stock: int) -> None:
    if isinstance(stock, bool) or not isinstance(stock, int) or not 0 <= stock <= MAX_STOCK:
        raise InvalidInput(f"stock must be an integer between 0 and {MAX_STOCK}")


def public_products_query(
    category_id: int | None = None, keyword: str | None = None
) -> Select[Any]:
    """Products a buyer may see: active, from an active supplier, with an active SKU."""
    stmt = (
        select(Product)
        .join(Supplier, Supplier.id == Product.supplier_id)
        .where(Product.status == ProductStatus.ACTIVE, Supplier.active.is_(True))
        .where(Product.skus.any(Sku.active.is_(True)))
        .order_by(Product.id)
    )
    if category_id is not None:
        stmt = stmt.where(Product.category_id == category_id)
    if keyword:
        pattern = "%" + keyword.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            Product.title.ilike(pattern, escape="\\")
            | Product.description.ilike(pattern, escape="\\")
        )
    return stmt


def get_public_product(session: DbSession, product_id: int) -> Product:
    """A product a buyer may see, or NotFound."""
    product = session.scalars(public_products_query().where(Product.id == product_id)).first()
    if product is None:
        raise NotFound("product not found")
    return product


def list_categories(session: DbSession) -> Sequence[Category]:
    """All categories in display order."""
    return session.scalars(select(Category).order_by(Category.sort_order, Category.id)).all()


def managed_products_query(actor: Actor) -> Select[Any]:
    """Products the actor may manage: their supplier's, or all for an operator."""
    stmt = select(Product).order_by(Product.id)
    if actor.is_operator():
        return stmt
    return stmt.where(Product.supplier_id == actor.require_supplier())


def _managed_product(session: DbSession, actor: Actor, product_id: int) -> Product:
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound("product not found")
    if not actor.is_operator() and product.supplier_id != actor.require_supplier():
        # Another supplier's product: do not reveal that it exists.
        raise NotFound("product not found")
    return product


def get_managed_product(session: DbSession, actor: Actor, product_id: int) -> Product:
    """A product the actor may manage, or NotFound."""
    return _managed_product(session, actor, product_id)


def _resolve_supplier(session: DbSession, actor: Actor, supplier_id: int | None) -> int:
    if actor.is_operator():
        if supplier_id is None:
            raise InvalidInput("supplier_id is required when an operator creates a product")
        if session.get(Supplier, supplier_id) is None:
            raise InvalidInput("unknown supplier_id")
        return supplier_id
    own = actor.require_supplier()
    if supplier_id is not None and supplier_id != own:
        raise Forbidden("a supplier may only create its own products")
    return own


def _check_category(session: DbSession, category_id: int) -> None:
    if session.get(Category, category_id) is None:
        raise InvalidInput("unknown category_id")


def _check_status(status: str) -> None:
    if status not in set(ProductStatus):
        raise InvalidInput("status must be one of: " + ", ".join(ProductStatus))


def _new_sku(session: DbSession, draft: SkuDraft) -> Sku:
    validate_prices(draft.price_fen, draft.supply_price_fen)
    _validate_stock(draft.stock)
    code = draft.code.strip()
    if not code:
        raise InvalidInput("sku code must not be empty")
    if session.scalar(select(func.count()).select_from(Sku).where(Sku.code == code)):
        raise Conflict(f"sku code {code!r} is already used")
    return Sku(
        code=code,
        name=draft.name.strip(),
        price_fen=draft.price_fen,
        supply_price_fen=draft.supply_price_fen,
        stock=draft.stock,
    )


def create_product(
    session: DbSession,
    actor: Actor,
    *,
    title: str,
    category_id: int,
    skus: Sequence[SkuDraft],
    description: str = "",
    image_url: str = "",
    status: str = ProductStatus.DRAFT,
    supplier_id: int | None = None,
) -> Product:
    """List a new product with its SKUs."""
    actor.require(Role.SUPPLIER, Role.OPERATOR)
    with unit_of_work(session):
        owner = _resolve_supplier(session, actor, supplier_id)
        _check_category(session, category_id)
        _check_status(status)
        if not title.strip():
            raise InvalidInput("title must not be empty")
        if not skus:
            raise InvalidInput("a product needs at least one sku")
        codes = [d.code.strip() for d in skus]
        if len(set(codes)) != len(codes):
            raise InvalidInput("sku codes must be unique")
        product = Product(
            supplier_id=owner,
            category_id=category_id,
            title=title.strip(),
            description=description,
            image_url=image_url,
            status=status,
        )
        product.skus = [_new_sku(session, d) for d in skus]
        session.add(product)
        session.flush()
        audit(session, actor.user_id, "product.created", "product", product.id, title=product.title)
    return product


def update_product(session: DbSession, actor: Actor, product_id: int, **changes: Any) -> Product:
    """Change a product's title, description, image, category or status."""
    allowed = {"title", "description", "image_url", "category_id", "status"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput("unknown fields: " + ", ".join(sorted(unknown)))
    with unit_of_work(session):
        product = _managed_product(session, actor, product_id)
        if "category_id" in changes:
            _check_category(session, changes["category_id"])
        if "status" in changes:
            _check_status(changes["status"])
        if "title" in changes and not str(changes["title"]).strip():
            raise InvalidInput("title must not be empty")
        for key, value in changes.items():
            setattr(product, key, value)
        audit(session, actor.user_id, "product.updated", "product", product.id, changes=changes)
    return product


def add_sku(session: DbSession, actor: Actor, product_id: int, draft: SkuDraft) -> Sku:
    """Add a SKU to a product the actor manages."""
    with unit_of_work(session):
        product = _managed_product(session, actor, product_id)
        sku = _new_sku(session, draft)
        sku.product_id = product.id
        session.add(sku)
        session.flush()
        audit(session, actor.user_id, "sku.created", "sku", sku.id, code=sku.code)
    return sku


def _managed_sku(session: DbSession, actor: Actor, sku_id: int) -> Sku:
    sku = session.get(Sku, sku_id)
    if sku is None:
        raise NotFound("sku not found")
    _managed_product(session, actor, sku.product_id)
    return sku


def update_sku(
    session: DbSession,
    actor: Actor,
    sku_id: int,
    *,
    name: str | None = None,
    price_fen: int | None = None,
    supply_price_fen: int | None = None,
    active: bool | None = None,
) -> Sku:
    """Reprice, rename or (de)activate a SKU; orders already placed keep their snapshot."""
    with unit_of_work(session):
        sku = _managed_sku(session, actor, sku_id)
        new_price = sku.price_fen if price_fen is None else price_fen
        new_supply = sku.supply_price_fen if supply_price_fen is None else supply_price_fen
        validate_prices(new_price, new_supply)
        before = {"price_fen": sku.price_fen, "supply_price_fen": sku.supply_price_fen}
        sku.price_fen, sku.supply_price_fen = new_price, new_supply
        if name is not None:
            sku.name = name.strip()
        if active is not None:
            sku.active = active
        sku.version += 1
        audit(
            session,
            actor.user_id,
            "sku.updated",
            "sku",
            sku.id,
            before=before,
            after={"price_fen": new_price, "supply_price_fen": new_supply},
            active=sku.active,
        )
    return sku


def adjust_stock(
    session: DbSession,
    actor: Actor,
    sku_id: int,
    *,
    delta: int | None = None,
    stock: int | None = None,
    expected_version: int | None = None,
) -> Sku:
    """Change stock by ``delta`` (atomic, never below zero) or set it to ``stock``.

    Setting an absolute figure races with checkouts reserving stock, so it may
    carry ``expected_version`` (optimistic lock): a stale version is a 409.
    """
    if (delta is None) == (stock is None):
        raise InvalidInput("give exactly one of delta or stock")
    with unit_of_work(session):
        sku = _managed_sku(session, actor, sku_id)
        if delta is not None:
            if isinstance(delta, bool) or not isinstance(delta, int) or abs(delta) > MAX_STOCK:
                raise InvalidInput("delta must be an integer within the stock limit")
            stmt = (
                update(Sku)
                .where(Sku.id == sku_id, Sku.stock + delta >= 0, Sku.stock + delta <= MAX_STOCK)
                .values(stock=Sku.stock + delta, version=Sku.version + 1)
            )
        else:
            assert stock is not None
            _validate_stock(stock)
            stmt = update(Sku).where(Sku.id == sku_id).values(stock=stock, version=Sku.version + 1)
            if expected_version is not None:
                stmt = stmt.where(Sku.version == expected_version)
        result = session.execute(stmt.execution_options(synchronize_session=False))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            if delta is not None:
                raise Conflict("stock cannot go below zero")
            raise Conflict("the sku changed since you read it; reload and retry")
        session.refresh(sku)
        audit(
            session,
            actor.user_id,
            "sku.stock_adjusted",
            "sku",
            sku.id,
            delta=delta,
            stock=stock,
            now=sku.stock,
        )
    return sku
