"""Numbered lists: picking an item by its number, and paging."""
from __future__ import annotations

from bots.dialogue import grammar as g
from bots.dialogue import intents as it
from bots.dialogue.features.cart import choose_size
from bots.dialogue.features.checkout import choose_address
from bots.dialogue.features.distributor import open_tool
from bots.dialogue.step import CommandHandler, EventHandler, FailureHandler, Step, TextHandler


def choose(step: Step, cmd: g.Command) -> None:
    """A number alone: a size, an address, or an item of the list shown last."""
    flow = step.s.flow
    if flow and flow.get("name") == "add":
        choose_size(step, flow, cmd.args[0])
        return
    if flow and flow.get("name") == "checkout":
        if flow.get("step") == "address":
            choose_address(step, flow, cmd.args[0])
        else:
            step.reply(step.t("confirm_hint"))
        return
    listing = step.s.listing
    if not listing:
        step.no_context()
        return
    ids = listing["ids"]
    position = g.positive_int(cmd.args[0])
    if position is None or position > len(ids):
        step.reply(step.t("out_of_range", n=len(ids)))
        return
    chosen = ids[position - 1]
    kind = listing["kind"]
    if kind == "menu":
        step.command(g.Command(str(chosen), exact=True))
    elif kind == "categories":
        step.ask(it.ShowProducts(int(chosen)))
    elif kind == "products":
        step.ask(it.ShowProduct(int(chosen)))
    elif kind == "cart":
        step.ask(it.ShowProduct(int(listing["extra"][position - 1])))
    elif kind == "orders":
        step.ask(it.ShowOrder(str(chosen)))
    elif kind == "distributor":
        open_tool(step, str(chosen))
    else:
        step.no_context()


def next_page(step: Step, cmd: g.Command) -> None:
    """``下一页`` / ``next``."""
    _turn_page(step, +1)


def previous_page(step: Step, cmd: g.Command) -> None:
    """``上一页`` / ``prev``."""
    _turn_page(step, -1)


def _turn_page(step: Step, by: int) -> None:
    listing = step.s.listing
    if not listing or "source" not in listing:
        if step.expired:
            step.no_context()
        else:
            step.reply(step.t("no_pages"))
        return
    page = int(listing.get("page", 1)) + by
    if page > int(listing.get("pages", 1)):
        step.reply(step.t("last_page"))
        return
    if page < 1:
        step.reply(step.t("first_page"))
        return
    source = listing["source"]
    if "category" in source:
        step.ask(it.ShowProducts(int(source["category"]), page))
    elif "query" in source:
        step.ask(it.SearchProducts(str(source["query"]), page))
    else:
        step.ask(it.ShowOrders(page, purpose=str(source.get("orders", "list"))))


COMMANDS: dict[str, CommandHandler] = {
    g.CHOOSE: choose,
    g.NEXT: next_page,
    g.PREV: previous_page,
}
EVENTS: dict[type, EventHandler] = {}
FAILURES: dict[type, FailureHandler] = {}
TEXT_STEPS: dict[tuple[str, str], TextHandler] = {}
