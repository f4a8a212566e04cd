"""Checkout: the address (saved, or typed one field at a time), the confirmation, the order."""
from __future__ import annotations

from typing import Any

from bots.dialogue import events as ev
from bots.dialogue import grammar as g
from bots.dialogue import intents as it
from bots.dialogue.features.help import not_understood
from bots.dialogue.step import (
    CommandHandler,
    EventHandler,
    FailureHandler,
    Step,
    TextHandler,
    say_failure,
)
from bots.dialogue.texts import TEXTS, clip, item_title, lines_block, mask_phone, yuan

# The step that asks for each address field, and the field each typing step fills.
_FIELD_STEP = {"recipient": "name", "phone": "phone", "detail": "detail"}
_STEP_FIELD = {step: field for field, step in _FIELD_STEP.items()}


def start(step: Step, cmd: g.Command) -> None:
    """``结算`` / ``checkout``."""
    step.ask(it.StartCheckout())


def choose_address(step: Step, flow: dict[str, Any], token: str) -> None:
    """A number typed at the address step: a saved address, or 0 for a new one."""
    listing = step.s.listing or {}
    ids = listing.get("ids", []) if listing.get("kind") == "addresses" else []
    if token.isdigit() and int(token) == 0:
        new_address(step, g.Command(g.NEW_ADDRESS))
        return
    position = g.positive_int(token)
    if position is None or position > len(ids):
        step.reply(step.t("out_of_range", n=len(ids)), step.t("address_hint"))
        return
    address = {"id": int(ids[position - 1]), "label": str(listing["extra"][position - 1])}
    _to_confirm(step, address)


def new_address(step: Step, cmd: g.Command) -> None:
    """``新地址`` / ``new`` at the address step: type name, phone and address."""
    flow = step.s.flow
    if flow is None or not step.flow_is("checkout", "address"):
        not_understood(step, g.Command(g.UNKNOWN))
        return
    flow.update(step="name", draft={})
    step.s.listing = None
    step.reply(step.t("ask_name_again"))


def _to_confirm(step: Step, address: dict[str, Any]) -> None:
    flow = step.s.flow
    assert flow is not None
    # A fresh token per confirmation: the executor creates at most one order per token,
    # so a double tap on "确认" cannot order twice.
    token = step.ctx.nonce or f"t{step.ctx.now:.6f}"
    flow.update(step="confirm", address=address, token=token)
    if step.s.listing and step.s.listing.get("kind") == "addresses":
        step.s.listing = None
    step.reply(_confirm_text(step, address["label"]))


def _confirm_text(step: Step, label: str) -> str:
    flow = step.s.flow or {}
    lines = lines_block(step.s.lang, [(str(t), int(q), int(a)) for t, q, a in flow["lines"]])
    return step.t("confirm", lines=lines, total=yuan(int(flow.get("total", 0))), address=label)


def confirm(step: Step, cmd: g.Command) -> None:
    """``确认`` / ``confirm``: place the order (once per confirmation token)."""
    flow = step.s.flow
    if flow and flow.get("name") == "checkout":
        at = flow.get("step")
        if at == "confirm":
            address = flow["address"]
            step.ask(it.ConfirmOrder(
                token=str(flow["token"]),
                address_id=address.get("id"),
                recipient=address.get("recipient", ""),
                phone=address.get("phone", ""),
                detail=address.get("detail", ""),
                save_address=bool(address.get("save", False)),
            ))
        elif at == "address":
            step.reply(step.t("address_hint"))
        else:
            step.reply(step.t("nothing_to_confirm"))
        return
    last = step.s.last_order
    if last:
        step.reply(step.t("already_ordered", number=last["number"], pay_url=last["pay_url"]))
    elif step.expired == "flow":
        step.no_context()
    else:
        step.reply(step.t("nothing_to_confirm"))


def typed_field(step: Step, flow: dict[str, Any], text: str) -> None:
    """A name, phone or street typed at its step: have the shop check it."""
    draft = dict(flow.get("draft") or {})
    field = _STEP_FIELD[str(flow.get("step"))]
    draft[field] = text
    step.ask(it.CheckAddress(
        field,
        recipient=draft.get("recipient", ""),
        phone=draft.get("phone", ""),
        detail=draft.get("detail", ""),
    ))


def address_label(recipient: str, phone: str, address: str) -> str:
    """An address on one line, the phone masked."""
    return f"{recipient} {mask_phone(phone)} {clip(address, 60)}"


def checkout_ready(step: Step, event: ev.CheckoutReady) -> None:
    """What will be ordered, then the saved addresses to pick from, or the first field."""
    if not event.lines:
        step.reply(step.t("cart_empty"))
        return
    rows = [(item_title(x.title, x.sku_name), x.quantity, x.amount_fen) for x in event.lines]
    step.s.flow = {
        "name": "checkout",
        "total": event.total_fen,
        "lines": [list(row) for row in rows],
        "draft": {},
    }
    summary = step.t("checkout_lines") + "\n" + lines_block(step.s.lang, rows)
    total = yuan(event.total_fen)
    if event.addresses:
        step.s.flow["step"] = "address"
        labels = [address_label(a.recipient, a.phone, a.address) for a in event.addresses]
        step.s.listing = {
            "kind": "addresses",
            "ids": [a.id for a in event.addresses],
            "extra": labels,
        }
        choices = "\n".join(f"{n}. {label}" for n, label in enumerate(labels, 1))
        step.reply(summary, step.t("choose_address", total=total, addresses=choices))
    else:
        step.s.flow["step"] = "name"
        step.reply(summary, step.t("ask_name", total=total))


def address_checked(step: Step, event: ev.AddressChecked) -> None:
    """A field accepted (ask the next, or confirm) or refused (say why)."""
    flow = step.s.flow
    at = _FIELD_STEP.get(event.field)
    if flow is None or at is None or not step.flow_is("checkout", at):
        return  # the user moved on meanwhile
    if not event.ok:
        specific = "bad_" + event.reason
        step.reply(step.t(specific if event.reason and specific in TEXTS
                          else "bad_" + event.field))
        return
    draft = dict(flow.get("draft") or {})
    draft[event.field] = event.value
    flow["draft"] = draft
    if event.field == "recipient":
        flow["step"] = "phone"
        step.reply(step.t("ask_phone"))
    elif event.field == "phone":
        flow["step"] = "detail"
        step.reply(step.t("ask_address"))
    else:
        # Nothing is saved yet: the address is kept for next time only when the order
        # is placed, so a checkout abandoned here leaves no trace.
        recipient, phone, detail = draft["recipient"], draft["phone"], draft["detail"]
        _to_confirm(step, {
            "recipient": recipient, "phone": phone, "detail": detail, "save": True,
            "label": address_label(recipient, phone, detail),
        })


def order_created(step: Step, event: ev.OrderCreated) -> None:
    """The order and its pay link (remembered, so a second "确认" shows it again)."""
    step.s.flow = None
    step.s.listing = None
    step.s.last_order = {"number": event.number, "pay_url": event.pay_url}
    if event.duplicate:
        step.reply(step.t("already_ordered", number=event.number, pay_url=event.pay_url))
        return
    note = step.t("address_not_saved", message=event.address_not_saved) \
        if event.address_not_saved else ""
    step.reply(step.t("order_created", number=event.number, total=yuan(event.total_fen),
                      minutes=event.expires_minutes, pay_url=event.pay_url), note)


def start_refused(step: Step, event: ev.Failed) -> None:
    """Checkout could not start: the checkout flow ends."""
    step.s.flow = None
    if event.code == "internal":
        step.reply(step.t("internal"))
    elif event.code == "cart_empty":
        step.reply(step.t("cart_empty"))
    elif event.code == "cart_unavailable":
        step.reply(step.t("checkout_unavailable", subject=event.subject))
    else:
        step.reply(step.t("checkout_failed", message=event.message))


def confirm_refused(step: Step, event: ev.Failed) -> None:
    """No order: still being placed by a double tap (the flow stays), or refused (it ends)."""
    if event.code == "in_progress":
        step.reply(step.t("order_in_progress"))
        return
    step.s.flow = None
    if event.code == "internal":
        step.reply(step.t("internal"))
    elif event.code == "cart_empty":
        step.reply(step.t("cart_empty"))
    elif event.code == "out_of_stock":
        step.reply(step.t("out_of_stock", subject=event.subject))
    else:
        step.reply(step.t("checkout_failed", message=event.message))


COMMANDS: dict[str, CommandHandler] = {
    g.CHECKOUT: start,
    g.CONFIRM: confirm,
    g.NEW_ADDRESS: new_address,
}
EVENTS: dict[type, EventHandler] = {
    ev.CheckoutReady: checkout_ready,
    ev.AddressChecked: address_checked,
    ev.OrderCreated: order_created,
}
FAILURES: dict[type, FailureHandler] = {
    it.StartCheckout: start_refused,
    it.CheckAddress: say_failure,
    it.ConfirmOrder: confirm_refused,
}
TEXT_STEPS: dict[tuple[str, str], TextHandler] = {
    ("checkout", "name"): typed_field,
    ("checkout", "phone"): typed_field,
    ("checkout", "detail"): typed_field,
}
