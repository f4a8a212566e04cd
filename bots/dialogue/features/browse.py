"""Browsing: categories, keyword search, product lists and the product card."""
from __future__ import annotations

from typing import Any

from bots.dialogue import events as ev
from bots.dialogue import grammar as g
from bots.dialogue import intents as it
from bots.dialogue.step import (
    CommandHandler,
    EventHandler,
    FailureHandler,
    Step,
    TextHandler,
    say_failure,
)
from bots.dialogue.texts import clip, yuan
from bots.messages import ArticleReply

MAX_SEARCH = 30  # characters; longer "keywords" are sentences pasted by mistake


def show_categories(step: Step, cmd: g.Command) -> None:
    """``分类`` / ``categories``."""
    step.ask(it.ShowCategories())


def search(step: Step, cmd: g.Command) -> None:
    """``搜索 X``; alone, ask for the word (the next line is the keyword)."""
    if not cmd.rest:
        step.s.flow = {"name": "search", "step": "query"}
        step.reply(step.t("search_prompt"))
        return
    search_for(step, cmd.rest)


def search_for(step: Step, query: str) -> None:
    """Ask for the products matching ``query`` unless it is too long to be a keyword."""
    if len(query) > MAX_SEARCH:
        step.reply(step.t("search_too_long"))
        return
    step.ask(it.SearchProducts(query))


def typed_query(step: Step, flow: dict[str, Any], text: str) -> None:
    """The keyword typed after a bare ``搜索``."""
    step.s.flow = None
    if text:
        search_for(step, text)
    else:
        step.reply(step.t("search_prompt"))


def categories_listed(step: Step, event: ev.CategoriesListed) -> None:
    """The numbered categories."""
    if not event.items:
        step.reply(step.t("no_categories"))
        return
    step.s.listing = {"kind": "categories", "ids": [cid for cid, _ in event.items]}
    rows = [f"{n}. {name}" for n, (_, name) in enumerate(event.items, 1)]
    step.reply(step.t("categories"), *rows, step.t("pick_category"))


def price_range(step: Step, low: int, high: int) -> str:
    """"¥12.00", or "from ¥12.00" when the SKUs' prices differ."""
    return yuan(low) if low == high else step.t("from_price", price=yuan(low))


def products_listed(step: Step, event: ev.ProductsListed) -> None:
    """A numbered page of products of a category or a search."""
    if event.query is not None:
        title = step.t("search_title", query=clip(event.query, MAX_SEARCH))
        source: dict[str, Any] = {"query": event.query}
    else:
        title = step.t("products_title", name=event.category_name)
        source = {"category": event.category_id}
    if not event.items:
        step.s.listing = None
        if event.query is not None:
            step.reply(step.t("no_results", query=clip(event.query, MAX_SEARCH)))
        else:
            step.reply(title, step.t("no_products"))
        return
    step.s.listing = {
        "kind": "products",
        "ids": [p.id for p in event.items],
        "page": event.page,
        "pages": event.pages,
        "source": source,
    }
    if event.pages > 1:
        title += " " + step.t("page_of", page=event.page, pages=event.pages)
    # Positions restart at 1 on every page: the number typed is the number seen.
    rows = [
        f"{n}. {clip(p.title, 30)} {price_range(step, p.price_fen, p.max_price_fen)}"
        + (step.t("sold_out") if p.stock <= 0 else "")
        for n, p in enumerate(event.items, 1)
    ]
    paging = step.t("paging_hint") if event.pages > 1 else ""
    step.reply(title, *rows, step.t("pick_product", paging=paging))


def product_shown(step: Step, event: ev.ProductShown) -> None:
    """The product card, then how to buy it (remembered for "加购")."""
    skus = event.skus
    step.s.product = {
        "id": event.id,
        "title": event.title,
        "skus": [[k.id, k.name, k.price_fen, k.stock] for k in skus],
    }
    low = min((k.price_fen for k in skus), default=0)
    high = max((k.price_fen for k in skus), default=0)
    stock = sum(k.stock for k in skus)
    card = step.t("product_card" if stock > 0 else "product_card_sold_out",
                  price=price_range(step, low, high), stock=stock)
    description = card + ("\n" + clip(event.description, 120) if event.description else "")
    step.replies.append(ArticleReply(event.title, description, event.image_url, event.url))
    if stock <= 0:
        step.reply(step.t("product_sold_out"))
    elif len(skus) == 1:
        step.reply(step.t("how_to_add_one"))
    else:
        rows = "\n".join(
            step.t("sku_line", n=n, name=k.name, price=yuan(k.price_fen), stock=k.stock)
            for n, k in enumerate(skus, 1)
        )
        step.reply(step.t("how_to_add_many", skus=rows))


def product_refused(step: Step, event: ev.Failed) -> None:
    """A product that went off sale since the list was shown."""
    if event.code == "not_found":
        step.s.product = None
        step.reply(step.t("product_gone"))
    else:
        say_failure(step, event)


COMMANDS: dict[str, CommandHandler] = {
    g.CATEGORIES: show_categories,
    g.SEARCH: search,
}
EVENTS: dict[type, EventHandler] = {
    ev.CategoriesListed: categories_listed,
    ev.ProductsListed: products_listed,
    ev.ProductShown: product_shown,
}
FAILURES: dict[type, FailureHandler] = {
    it.ShowCategories: say_failure,
    it.ShowProducts: say_failure,
    it.SearchProducts: say_failure,
    it.ShowProduct: product_refused,
}
TEXT_STEPS: dict[tuple[str, str], TextHandler] = {("search", "query"): typed_query}
