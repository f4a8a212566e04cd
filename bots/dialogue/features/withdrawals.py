"""Withdrawals: what can be withdrawn, and asking for an amount in yuan."""
from __future__ import annotations

import re

from bots.dialogue import events as ev
from bots.dialogue import intents as it
from bots.dialogue.features.standing import said_status
from bots.dialogue.step import (
    CommandHandler,
    EventHandler,
    FailureHandler,
    Step,
    TextHandler,
    say_failure,
)
from bots.dialogue.texts import yuan

# A withdrawal amount in yuan: up to two decimals, an optional ¥ before or 元/块/yuan after.
_YUAN = re.compile(r"^[¥￥]?(\d{1,9})(?:\.(\d{1,2}))? ?(?:元|块|块钱|yuan|rmb|cny)?$")
# Why a withdrawal was refused (Failed codes from the shop), each a text of its own.
_WITHDRAW_REFUSALS = frozenset({"withdraw_debt", "withdraw_insufficient", "withdraw_below_min"})


def withdraw_amount(step: Step, text: str) -> None:
    """``提现 50`` / ``withdraw 12.5``: an amount in yuan, turned into fen without a float."""
    match = _YUAN.match(text)
    fen = 0
    if match is not None:
        fen = int(match.group(1)) * 100 + int((match.group(2) or "").ljust(2, "0"))
    if fen <= 0:
        step.reply(step.t("withdraw_bad_amount"))
        return
    step.ask(it.RequestWithdrawal(fen))


def withdrawal_info(step: Step, event: ev.WithdrawalInfo) -> None:
    """The balance, the minimum and how to ask (or the debt, said plainly)."""
    if event.debt_fen:
        step.reply(step.t("withdraw_debt", amount=yuan(event.debt_fen)))
        return
    if event.available_fen < event.min_fen:
        step.reply(step.t("withdraw_nothing", available=yuan(event.available_fen),
                          withdrawing=yuan(event.withdrawing_fen),
                          minimum=yuan(event.min_fen)))
        return
    step.reply(step.t("withdraw_info", available=yuan(event.available_fen),
                      withdrawing=yuan(event.withdrawing_fen), minimum=yuan(event.min_fen)),
               step.t("withdraw_how"))


def withdrawal_requested(step: Step, event: ev.WithdrawalRequested) -> None:
    """The withdrawal's number and what is left."""
    step.reply(step.t("withdraw_requested", amount=yuan(event.amount_fen),
                      number=event.number, available=yuan(event.available_fen)))


def info_refused(step: Step, event: ev.Failed) -> None:
    """Only active distributors see what they can withdraw."""
    if not said_status(step, event):
        say_failure(step, event)


def request_refused(step: Step, event: ev.Failed) -> None:
    """Refused for the user's status, the debt, the balance or the minimum."""
    if said_status(step, event):
        return
    if event.code in _WITHDRAW_REFUSALS:
        # subject: the available balance, the debt or the minimum, in fen.
        amount = yuan(int(event.subject or 0))
        step.reply(step.t(event.code, amount=amount), step.t("withdraw_how"))
    else:
        step.reply(step.t("withdraw_failed", message=event.message))


COMMANDS: dict[str, CommandHandler] = {}  # "提现" is an item of the distributor centre
EVENTS: dict[type, EventHandler] = {
    ev.WithdrawalInfo: withdrawal_info,
    ev.WithdrawalRequested: withdrawal_requested,
}
FAILURES: dict[type, FailureHandler] = {
    it.ShowWithdrawal: info_refused,
    it.RequestWithdrawal: request_refused,
}
TEXT_STEPS: dict[tuple[str, str], TextHandler] = {}
