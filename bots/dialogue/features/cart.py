"""The cart: adding the product shown (picking a size), changing lines, clearing, showing."""
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
from bots.dialogue.texts import item_title, yuan

# WeChat cuts text messages at 2048 bytes: a long cart shows its first lines only.
MAX_CART_SHOWN = 10


def show_cart(step: Step, cmd: g.Command) -> None:
    """``购物车`` / ``cart``."""
    step.ask(it.ShowCart())


def add(step: Step, cmd: g.Command) -> None:
    """``加购 N`` / ``加购 规格 N`` on the product shown last."""
    product = step.s.product
    if not product:
        if step.expired:
            step.no_context()
        else:
            step.reply(step.t("no_product"))
        return
    numbers = [g.positive_int(a) for a in cmd.args]
    if any(n is None for n in numbers) or len(numbers) > 2:
        step.reply(step.t("bad_quantity"))
        return
    skus = product["skus"]
    values = [n for n in numbers if n is not None]
    if len(values) == 2:
        index, quantity = values
    elif len(skus) == 1:
        index, quantity = 1, (values[0] if values else 1)
    else:
        ask_size(step, product, values[0] if values else 1)
        return
    add_sku(step, index, quantity)


def ask_size(step: Step, product: dict[str, Any], quantity: int) -> None:
    """A quantity for a product with several SKUs: list them and wait for a number."""
    skus = product["skus"]
    step.s.flow = {"name": "add", "step": "sku", "product": product["id"],
                   "quantity": quantity}
    rows = "\n".join(
        step.t("sku_line", n=n, name=name, price=yuan(int(price)), stock=stock)
        + (step.t("sold_out") if int(stock) <= 0 else "")
        for n, (_id, name, price, stock) in enumerate(skus, 1)
    )
    step.reply(step.t("pick_sku", n=len(skus), qty=quantity, skus=rows))


def choose_size(step: Step, flow: dict[str, Any], token: str) -> None:
    """The number typed while a size is awaited."""
    product = step.s.product
    if not product or product.get("id") != flow.get("product"):
        step.drop_flow()
        step.no_context()
        return
    position = g.positive_int(token)
    count = len(product["skus"])
    if position is None or position > count:
        step.reply(step.t("out_of_range", n=count), step.t("pick_sku_hint", n=count))
        return
    quantity = int(flow.get("quantity", 1))
    if add_sku(step, position, quantity):
        step.s.flow = None


def add_sku(step: Step, index: int, quantity: int) -> bool:
    """Ask to add ``quantity`` of the product's ``index``-th SKU; False if refused here."""
    product = step.s.product
    assert product is not None
    skus = product["skus"]
    if index > len(skus):
        step.reply(step.t("bad_sku", n=index))
        return False
    sku_id, _name, _price, stock = skus[index - 1]
    if stock <= 0:
        step.reply(step.t("product_sold_out" if len(skus) == 1 else "sku_sold_out"))
        return False
    if quantity > stock:
        step.reply(step.t("short_stock", stock=stock))
        return False
    step.ask(it.AddToCart(int(sku_id), quantity))
    return True


def _cart_line(step: Step, token: str) -> int | None:
    """The SKU id at a cart position; replies when there is none."""
    listing = step.s.listing
    if not listing or listing.get("kind") != "cart":
        step.reply(step.t("need_cart"))
        return None
    ids = listing["ids"]
    position = g.positive_int(token)
    if position is None or position > len(ids):
        step.reply(step.t("out_of_range", n=len(ids)))
        return None
    return int(ids[position - 1])


def set_quantity(step: Step, cmd: g.Command) -> None:
    """``改 1 3`` / ``set 1 3``: line 1 of the cart shown to 3."""
    if len(cmd.args) != 2 or g.whole_number(cmd.args[1]) is None:
        step.reply(step.t("bad_set_quantity"))
        return
    sku_id = _cart_line(step, cmd.args[0])
    if sku_id is not None:
        step.ask(it.SetCartQuantity(sku_id, int(cmd.args[1])))


def remove(step: Step, cmd: g.Command) -> None:
    """``删 1`` / ``remove 1``."""
    if len(cmd.args) != 1:
        step.reply(step.t("bad_remove"))
        return
    sku_id = _cart_line(step, cmd.args[0])
    if sku_id is not None:
        step.ask(it.SetCartQuantity(sku_id, 0))


def clear(step: Step, cmd: g.Command) -> None:
    """``清空`` / ``clear``."""
    step.ask(it.ClearCart())


def cart_shown(step: Step, event: ev.CartShown) -> None:
    """What was added, or the numbered cart (remembered for "改" and "删")."""
    count = sum(line.quantity for line in event.lines)
    unavailable = event.unavailable_count
    if event.added is not None:
        title, quantity = event.added
        summary = step.t("cart_summary_partial", count=count, total=yuan(event.total_fen),
                         n=unavailable) if unavailable else \
            step.t("cart_summary", count=count, total=yuan(event.total_fen))
        step.reply(step.t("added", title=item_title(title, event.added_sku), qty=quantity),
                   summary)
        return
    if not event.lines:
        if step.s.listing and step.s.listing.get("kind") == "cart":
            step.s.listing = None
        step.reply(step.t("cart_changed") if event.changed else "", step.t("cart_empty"))
        return
    step.s.listing = {
        "kind": "cart",
        "ids": [line.sku_id for line in event.lines],
        "extra": [line.product_id for line in event.lines],
    }
    rows = [
        step.t("cart_line", n=n, title=item_title(line.title, line.sku_name),
               price=yuan(line.unit_price_fen), qty=line.quantity,
               amount=yuan(line.amount_fen))
        + _unavailable_note(step, line)
        for n, line in enumerate(event.lines[:MAX_CART_SHOWN], 1)
    ]
    if len(event.lines) > MAX_CART_SHOWN:
        rows.append(step.t("cart_more", n=len(event.lines) - MAX_CART_SHOWN))
    # Lines that cannot be ordered keep their price and amount; the total counts only
    # what checkout would order, and says how many lines it leaves out.
    total = step.t("cart_total_partial", total=yuan(event.total_fen), n=unavailable) \
        if unavailable else step.t("cart_total", total=yuan(event.total_fen))
    step.reply(
        step.t("cart_changed") if event.changed else "",
        step.t("cart_title"),
        *rows,
        total,
        step.t("cart_hint"),
    )


def _unavailable_note(step: Step, line: ev.CartItemLine) -> str:
    if line.available:
        return ""
    if line.off_sale:
        return step.t("cart_line_off_sale")
    return step.t("cart_line_short", stock=max(0, line.stock))


def change_refused(step: Step, event: ev.Failed) -> None:
    """A cart change the shop refused: how much stock is left, or why."""
    if event.code == "internal":
        step.reply(step.t("internal"))
    elif event.code == "short_stock" and event.stock is not None:
        stock, in_cart = max(0, event.stock), max(0, event.in_cart)
        if in_cart and in_cart >= stock:
            step.reply(step.t("short_stock_all_in_cart", stock=stock))
        elif in_cart:
            step.reply(step.t("short_stock_cart", stock=stock, in_cart=in_cart,
                              more=stock - in_cart))
        else:
            step.reply(step.t("short_stock", stock=stock))
    else:
        step.reply(step.t("cart_failed", message=event.message))


COMMANDS: dict[str, CommandHandler] = {
    g.CART: show_cart,
    g.ADD: add,
    g.SET: set_quantity,
    g.REMOVE: remove,
    g.CLEAR: clear,
}
EVENTS: dict[type, EventHandler] = {ev.CartShown: cart_shown}
FAILURES: dict[type, FailureHandler] = {
    it.ShowCart: say_failure,
    it.AddToCart: change_refused,
    it.SetCartQuantity: change_refused,
    it.ClearCart: change_refused,
}
TEXT_STEPS: dict[tuple[str, str], TextHandler] = {}
