"""Demo data: a small, believable shop, created idempotently through the services.

Natural keys make a re-run create nothing twice: supplier and category names,
SKU codes, follower openids, the operator's nickname and each supplier's staff
account. Existing rows are left as they are (stock may have been sold since).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select

from core.actors import Actor
from core.models import (
    Category,
    Distributor,
    DistributorTier,
    Product,
    ProductStatus,
    ReferralBinding,
    Role,
    Sku,
    Supplier,
    User,
    UserRole,
)
from core.uow import DbSession, unit_of_work
from referral.binding import bind
from referral.domain.rules import BindingSource, DistributorStatus
from shop.addresses import add_address
from shop.auth import issue_token
from shop.catalogue import SkuDraft, create_product
from webapp.seed.data import (
    BINDINGS,
    CATEGORIES,
    INVITE_CODES,
    OPERATOR_NICKNAME,
    PEOPLE,
    PRODUCTS,
    SUPPLIERS,
    TIERS,
    PersonSeed,
)
from webapp.seed.images import write_product_image

TOKEN_LABEL = "seed demo"


@dataclass(frozen=True)
class IssuedToken:
    """A freshly issued API token, to be shown once."""

    who: str
    user_id: int
    token: str


@dataclass
class SeedReport:
    """What a seeding run created, and the tokens it issued."""

    created: dict[str, int] = field(default_factory=dict)
    tokens: list[IssuedToken] = field(default_factory=list)

    def count(self, kind: str) -> None:
        """Record one newly created row of ``kind``."""
        self.created[kind] = self.created.get(kind, 0) + 1


def product_images_dir() -> str:
    """Where product pictures live: the app's static folder, products/."""
    return os.path.join(str(current_app.static_folder), "products")


def product_image_url(filename: str) -> str:
    """URL path the app serves a product picture at (relative: prefix PUBLIC_BASE_URL)."""
    return f"{current_app.static_url_path}/products/{filename}"


def _user(
    session: DbSession, nickname: str, role: Role, supplier_id: int | None = None
) -> User | None:
    stmt = select(User).join(UserRole).where(User.nickname == nickname, UserRole.role == str(role))
    if supplier_id is not None:
        stmt = stmt.where(User.supplier_id == supplier_id)
    return session.scalars(stmt.order_by(User.id)).first()


def _console_user(
    session: DbSession,
    report: SeedReport,
    nickname: str,
    role: Role,
    supplier_id: int | None = None,
) -> User:
    user = _user(session, nickname, role, supplier_id)
    if user is None:
        with unit_of_work(session):
            user = User(nickname=nickname, supplier_id=supplier_id)
            user.roles = [UserRole(role=str(role))]
            session.add(user)
        report.count("users")
    return user


def _follower(session: DbSession, report: SeedReport, person: PersonSeed) -> User:
    user = session.scalar(select(User).where(User.openid == person.openid))
    if user is not None:
        return user
    roles = [Role.CONSUMER, Role.DISTRIBUTOR] if person.distributor else [Role.CONSUMER]
    with unit_of_work(session):
        user = User(openid=person.openid, nickname=person.nickname, subscribed=True)
        user.roles = [UserRole(role=str(r)) for r in roles]
        session.add(user)
    report.count("users")
    add_address(
        session,
        user.id,
        recipient=person.recipient,
        phone=person.phone,
        region=person.region,
        detail=person.detail,
        is_default=True,
    )
    return user


def _referral_tree(session: DbSession, report: SeedReport, by_openid: dict[str, User]) -> None:
    """Demo tiers, distributors with fixed invite codes, and a small tree."""
    with unit_of_work(session):
        for tier in TIERS:
            if session.scalar(select(DistributorTier).where(DistributorTier.code == tier.code)):
                continue
            session.add(DistributorTier(code=tier.code, name=tier.name, rank=tier.rank,
                                        min_own_sales_fen=tier.min_own_sales_fen,
                                        min_team_sales_fen=tier.min_team_sales_fen))
            report.count("distributor tiers")
        for openid, code in INVITE_CODES.items():
            user = by_openid[openid]
            if session.get(Distributor, user.id) is None:
                session.add(Distributor(user_id=user.id, status=DistributorStatus.ACTIVE,
                                        invite_code=code, status_reason="demo"))
                report.count("distributors")
    for openid, upline, source in BINDINGS:
        user = by_openid[openid]
        if session.get(ReferralBinding, user.id) is None:
            bind(session, user.id, by_openid[upline].id, BindingSource(source),
                 scene="demo seed")
            report.count("referral bindings")


def _suppliers(session: DbSession, report: SeedReport) -> dict[str, Supplier]:
    by_key: dict[str, Supplier] = {}
    for seed in SUPPLIERS:
        supplier = session.scalar(select(Supplier).where(Supplier.name == seed.name))
        if supplier is None:
            with unit_of_work(session):
                supplier = Supplier(name=seed.name, contact=seed.contact)
                session.add(supplier)
            report.count("suppliers")
        by_key[seed.key] = supplier
    return by_key


def _categories(session: DbSession, report: SeedReport) -> dict[str, Category]:
    by_name: dict[str, Category] = {}
    for seed in CATEGORIES:
        category = session.scalar(select(Category).where(Category.name == seed.name))
        if category is None:
            with unit_of_work(session):
                category = Category(name=seed.name, sort_order=seed.sort_order)
                session.add(category)
            report.count("categories")
        by_name[seed.name] = category
    return by_name


def _products(
    session: DbSession,
    report: SeedReport,
    operator: User,
    suppliers: dict[str, Supplier],
    categories: dict[str, Category],
) -> None:
    actor = Actor.of(operator)
    colors = {c.name: c.colors for c in CATEGORIES}
    images = product_images_dir()
    for seed in PRODUCTS:
        filename = write_product_image(images, seed, colors[seed.category])
        if session.scalar(select(Sku.id).where(Sku.code == seed.skus[0].code)) is not None:
            continue
        create_product(
            session,
            actor,
            title=seed.title,
            category_id=categories[seed.category].id,
            supplier_id=suppliers[seed.supplier].id,
            description=f"{seed.subtitle}\n{seed.description}",
            image_url=product_image_url(filename),
            status=ProductStatus.ACTIVE,
            skus=[
                SkuDraft(s.code, s.name, s.price_fen, s.supply_price_fen, s.stock)
                for s in seed.skus
            ],
        )
        report.count("products")


def seed_demo(session: DbSession) -> SeedReport:
    """Create whatever of the demo shop is missing; issue fresh tokens for staff and one buyer."""
    report = SeedReport()
    operator = _console_user(session, report, OPERATOR_NICKNAME, Role.OPERATOR)
    suppliers = _suppliers(session, report)
    categories = _categories(session, report)
    staff = {
        seed.key: _console_user(
            session, report, seed.staff_nickname, Role.SUPPLIER, suppliers[seed.key].id
        )
        for seed in SUPPLIERS
    }
    _products(session, report, operator, suppliers, categories)
    followers = [_follower(session, report, person) for person in PEOPLE]
    _referral_tree(session, report, {user.openid or "": user for user in followers})

    report.tokens.append(
        IssuedToken("operator", operator.id, issue_token(session, operator.id, TOKEN_LABEL))
    )
    for seed in SUPPLIERS:
        user = staff[seed.key]
        token = issue_token(session, user.id, TOKEN_LABEL)
        report.tokens.append(IssuedToken(f"supplier {seed.name}", user.id, token))
    # One buyer too, so the API can be tried at once (others: chatshop users token <openid>).
    buyer = followers[0]
    token = issue_token(session, buyer.id, TOKEN_LABEL)
    who = f"consumer {buyer.nickname} ({buyer.openid})"
    report.tokens.append(IssuedToken(who, buyer.id, token))
    return report


def shop_is_empty(session: DbSession) -> bool:
    """True when there is no product at all (a fresh database)."""
    return session.scalar(select(Product.id).limit(1)) is None
