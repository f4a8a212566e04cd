"""Refunds asked in the chat: the order, the reason (typed with it or asked for), the answer."""
from __future__ import annotations

from typing import Any

from bots.dialogue import events as ev
from bots.dialogue import grammar as g
from bots.dialogue import intents as it
from bots.dialogue.features.orders import order_ref
from bots.dialogue.step import CommandHandler, EventHandler, FailureHandler, Step, TextHandler
from bots.dialogue.texts import status_label, yuan

MAX_REASON = 200  # the refund service's limit


def refund(step: Step, cmd: g.Command) -> None:
    """``退款`` (orders to pick from), ``退款 N`` (asks the reason) or ``退款 N 原因``."""
    if not cmd.args:
        step.ask(it.ShowOrders(purpose="refund"))
        return
    number = order_ref(step, cmd.args[0])
    if number is None:
        return
    parts = cmd.rest.split(" ", 1)
    reason = parts[1].strip() if len(parts) > 1 else ""
    if not reason:
        step.s.flow = {"name": "refund", "step": "reason", "number": number}
        step.reply(step.t("ask_reason"))
    elif len(reason) > MAX_REASON:
        step.s.flow = {"name": "refund", "step": "reason", "number": number}
        step.reply(step.t("reason_too_long"))
    else:
        step.ask(it.RequestRefund(number, reason))


def typed_reason(step: Step, flow: dict[str, Any], text: str) -> None:
    """The reason typed after being asked for one."""
    if not text:
        step.reply(step.t("ask_reason"))
    elif len(text) > MAX_REASON:
        step.reply(step.t("reason_too_long"))
    else:
        step.s.flow = None
        step.ask(it.RequestRefund(str(flow["number"]), text))


def refund_requested(step: Step, event: ev.RefundRequested) -> None:
    """The refund is open; WeChat Pay's outcome comes later."""
    step.reply(step.t("refund_requested", number=event.number, amount=yuan(event.amount_fen)))


def refund_refused(step: Step, event: ev.Failed) -> None:
    """Why the order cannot be refunded here (unpaid, shipped, its status)."""
    code = event.code
    if code == "internal":
        step.reply(step.t("internal"))
    elif code == "not_found":
        step.reply(step.t("no_such_order"))
    elif code in ("refund_unpaid", "refund_shipped"):
        step.reply(step.t(code))
    elif code == "refund_status":
        step.reply(step.t("refund_status", status=status_label(step.s.lang, event.subject)))
    else:
        step.reply(step.t("refund_failed", message=event.message))


COMMANDS: dict[str, CommandHandler] = {g.REFUND: refund}
EVENTS: dict[type, EventHandler] = {ev.RefundRequested: refund_requested}
FAILURES: dict[type, FailureHandler] = {it.RequestRefund: refund_refused}
TEXT_STEPS: dict[tuple[str, str], TextHandler] = {("refund", "reason"): typed_reason}
