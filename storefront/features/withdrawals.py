"""Withdrawals from the chat: what can be withdrawn, and asking for an amount.

The service's typed refusals (in debt, balance too low, below the minimum) are
worded by the executor; only active distributors get this far.
"""
from __future__ import annotations

from bots.dialogue import events as ev
from bots.dialogue import intents as it
from commissions import withdrawals
from commissions.earnings import earnings_summary
from referral.distributors import require_active_distributor
from storefront.features.context import ChatUser, Execute


def _min_withdrawal_fen(chat: ChatUser) -> int:
    return chat.settings.withdrawal_min_fen


def show_withdrawal(chat: ChatUser, intent: it.ShowWithdrawal) -> ev.Event:
    """The available balance, what is in flight, the debt and the minimum."""
    require_active_distributor(chat.session, chat.user_id)
    summary = earnings_summary(chat.session, chat.user_id)
    return ev.WithdrawalInfo(summary.available_fen, summary.withdrawing_fen,
                             summary.debt_fen, _min_withdrawal_fen(chat))


def request_withdrawal(chat: ChatUser, intent: it.RequestWithdrawal) -> ev.Event:
    """Withdraw to WeChat change; the withdrawal and what is left."""
    # The status first: a frozen distributor hears that, whatever amount they typed.
    require_active_distributor(chat.session, chat.user_id)
    made = withdrawals.request_withdrawal(
        chat.session, chat.actor, intent.amount_fen, channel=withdrawals.WECHAT,
        min_fen=_min_withdrawal_fen(chat))
    summary = earnings_summary(chat.session, chat.user_id)
    return ev.WithdrawalRequested(made.number, made.amount_fen, summary.available_fen)


EXECUTORS: dict[type, Execute] = {
    it.ShowWithdrawal: show_withdrawal,
    it.RequestWithdrawal: request_withdrawal,
}
