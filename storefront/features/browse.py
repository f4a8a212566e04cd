"""Browsing from the chat: categories and product pages (through the browse cache), a product."""
from __future__ import annotations

import math

from sqlalchemy import func, select

from bots.dialogue import events as ev
from bots.dialogue import intents as it
from core.errors import NotFound
from core.models import Category, Product
from shop import catalogue
from storefront.browse_cache import browse_cache
from storefront.features.context import ChatUser, Execute, absolute_url


def show_categories(chat: ChatUser, intent: it.ShowCategories) -> ev.Event:
    """The categories that have something on sale."""
    return browse_cache().get_or_compute(("categories",), lambda: _list_categories(chat))


def _list_categories(chat: ChatUser) -> ev.CategoriesListed:
    on_sale = catalogue.public_products_query().subquery()
    stocked = set(chat.session.scalars(select(on_sale.c.category_id).distinct()))
    items = tuple(
        (c.id, c.name) for c in catalogue.list_categories(chat.session) if c.id in stocked
    )
    return ev.CategoriesListed(items)


def _page_of_products(
    chat: ChatUser, intent: it.ShowProducts | it.SearchProducts, category_id: int | None,
    query: str | None,
) -> tuple[list[Product], int, int, int]:
    stmt = catalogue.public_products_query(category_id=category_id, keyword=query)
    total = int(chat.session.scalar(
        select(func.count()).select_from(stmt.order_by(None).subquery())
    ) or 0)
    per_page = max(1, intent.per_page)
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, intent.page), pages)
    products = list(
        chat.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page))
    )
    return products, page, pages, total


def _item(product: Product) -> ev.ProductItem:
    skus = [s for s in product.skus if s.active]
    prices = [s.price_fen for s in skus] or [0]
    return ev.ProductItem(
        product.id, product.title, min(prices), max(prices), sum(s.stock for s in skus)
    )


def show_products(chat: ChatUser, intent: it.ShowProducts) -> ev.Event:
    """A page of a category's products."""
    key = ("category", intent.category_id, intent.page, intent.per_page)
    return browse_cache().get_or_compute(key, lambda: _list_category(chat, intent))


def _list_category(chat: ChatUser, intent: it.ShowProducts) -> ev.Event:
    category = chat.session.get(Category, intent.category_id)
    if category is None:
        raise NotFound("category not found")
    products, page, pages, total = _page_of_products(chat, intent, category.id, None)
    return ev.ProductsListed(
        tuple(_item(p) for p in products), page, pages, total,
        category_id=category.id, category_name=category.name,
    )


def search_products(chat: ChatUser, intent: it.SearchProducts) -> ev.Event:
    """A page of the products matching a keyword."""
    key = ("search", intent.query, intent.page, intent.per_page)
    return browse_cache().get_or_compute(key, lambda: _search(chat, intent))


def _search(chat: ChatUser, intent: it.SearchProducts) -> ev.Event:
    products, page, pages, total = _page_of_products(chat, intent, None, intent.query)
    return ev.ProductsListed(
        tuple(_item(p) for p in products), page, pages, total, query=intent.query
    )


def show_product(chat: ChatUser, intent: it.ShowProduct) -> ev.Event:
    """A product on sale and its active SKUs."""
    product = catalogue.get_public_product(chat.session, intent.product_id)
    skus = tuple(
        ev.SkuItem(s.id, s.name, s.price_fen, s.stock) for s in product.skus if s.active
    )
    image = absolute_url(chat.base_url, product.image_url)
    # No product page exists yet: the card opens the picture, or the shop's front page.
    return ev.ProductShown(
        product.id, product.title, product.description or "", image,
        image or chat.base_url + "/", skus,
    )


EXECUTORS: dict[type, Execute] = {
    it.ShowCategories: show_categories,
    it.ShowProducts: show_products,
    it.SearchProducts: search_products,
    it.ShowProduct: show_product,
}
