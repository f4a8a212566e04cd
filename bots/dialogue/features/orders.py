"""The buyer's orders: the list, one order, cancelling an unpaid one, and "取消" in general."""
from __future__ import annotations

import re

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
from bots.dialogue.texts import item_title, lines_block, mask_phone, status_label, yuan

_ORDER_NUMBER = re.compile(r"^CS\d{22}$")


def show_orders(step: Step, cmd: g.Command) -> None:
    """``订单`` (the list) or ``订单 N`` (one order, by number or list position)."""
    if not cmd.args:
        step.ask(it.ShowOrders())
        return
    number = order_ref(step, cmd.args[0])
    if number is not None:
        step.ask(it.ShowOrder(number))


def show_order_number(step: Step, cmd: g.Command) -> None:
    """An order number typed alone."""
    step.ask(it.ShowOrder(cmd.args[0]))


def order_ref(step: Step, token: str) -> str | None:
    """The order number a token means (a number or a list position); replies if none."""
    if _ORDER_NUMBER.match(token.upper()):
        return token.upper()
    position = g.positive_int(token)
    listing = step.s.listing
    if position is not None and listing and listing.get("kind") == "orders":
        ids = listing["ids"]
        if position <= len(ids):
            return str(ids[position - 1])
        step.reply(step.t("out_of_range", n=len(ids)))
        return None
    if step.expired:
        step.no_context()
    else:
        step.reply(step.t("no_such_order"))
    return None


def cancel(step: Step, cmd: g.Command) -> None:
    """``取消 N``: cancel an unpaid order; ``取消`` alone: leave the current step."""
    if cmd.args:
        number = order_ref(step, cmd.args[0])
        if number is not None:
            step.drop_flow()
            step.ask(it.CancelOrder(number))
        return
    if step.s.flow is not None or step.expired == "flow":
        step.drop_flow()
        step.reply(step.t("cancelled_flow"))
    else:
        step.reply(step.t("nothing_to_cancel"))


def orders_listed(step: Step, event: ev.OrdersListed) -> None:
    """A numbered page of orders, with the hint for what the list was asked for."""
    if not event.items:
        step.s.listing = None
        step.reply(step.t("no_orders"))
        return
    step.s.listing = {
        "kind": "orders",
        "ids": [o.number for o in event.items],
        "page": event.page,
        "pages": event.pages,
        "source": {"orders": event.purpose},
    }
    rows = [
        step.t("order_item", n=n, number=o.number, status=status_label(step.s.lang, o.status),
               total=yuan(o.total_fen), created=o.created)
        for n, o in enumerate(event.items, 1)
    ]
    page_of = step.t("page_of", page=event.page, pages=event.pages)
    hint = step.t("orders_hint_" + (event.purpose if event.purpose in
                                    ("refund", "cancel") else "list"))
    paging = step.t("paging_hint").lstrip("，; ") if event.pages > 1 else ""
    step.reply(step.t("orders_title", page_of=page_of), *rows, hint, paging)


def order_shown(step: Step, event: ev.OrderShown) -> None:
    """One order in full, with the pay link while unpaid."""
    lines = lines_block(
        step.s.lang,
        [(item_title(x.title, x.sku_name), x.quantity, x.amount_fen) for x in event.lines],
    )
    refunded = step.t("refunded_part", amount=yuan(event.refunded_fen)) \
        if event.refunded_fen else ""
    text = step.t(
        "order_detail", number=event.number, status=status_label(step.s.lang, event.status),
        created=event.created, lines=lines, total=yuan(event.total_fen), refunded=refunded,
        recipient=event.recipient, phone=mask_phone(event.phone), address=event.address,
    )
    pay = step.t("pay_link", pay_url=event.pay_url) if event.pay_url else ""
    step.reply(text, pay)


def order_cancelled(step: Step, event: ev.OrderCancelled) -> None:
    """The cancelled order's number."""
    step.reply(step.t("order_cancelled", number=event.number))


def order_refused(step: Step, event: ev.Failed) -> None:
    """An order that is not the buyer's (or does not exist), or one that cannot be cancelled."""
    if event.code == "not_found":
        step.reply(step.t("no_such_order"))
    elif event.code == "cancel_status":
        step.reply(step.t("cancel_status", status=status_label(step.s.lang, event.subject)))
    else:
        say_failure(step, event)


COMMANDS: dict[str, CommandHandler] = {
    g.ORDERS: show_orders,
    g.ORDER_NUMBER: show_order_number,
    g.CANCEL: cancel,
}
EVENTS: dict[type, EventHandler] = {
    ev.OrdersListed: orders_listed,
    ev.OrderShown: order_shown,
    ev.OrderCancelled: order_cancelled,
}
FAILURES: dict[type, FailureHandler] = {
    it.ShowOrders: say_failure,
    it.ShowOrder: order_refused,
    it.CancelOrder: order_refused,
}
TEXT_STEPS: dict[tuple[str, str], TextHandler] = {}
