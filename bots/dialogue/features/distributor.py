"""The distributor centre: applying, the invite code, QR code, poster, team and earnings."""
from __future__ import annotations

from collections.abc import Callable

from bots.dialogue import events as ev
from bots.dialogue import grammar as g
from bots.dialogue import intents as it
from bots.dialogue.features.standing import said_status
from bots.dialogue.features.withdrawals import withdraw_amount
from bots.dialogue.step import (
    CommandHandler,
    EventHandler,
    FailureHandler,
    Step,
    TextHandler,
    say_failure,
)
from bots.dialogue.texts import TEXTS, yuan
from bots.messages import ArticleReply

# Distributor-centre actions and the intent each asks for (the others are answered here).
_ACTION_INTENTS: dict[str, Callable[[], it.Intent]] = {
    g.APPLY: it.ApplyDistributor,
    g.MY_CODE: it.ShowInviteCode,
    g.MY_QR: it.ShowQrCode,
    g.POSTER: it.RequestPoster,
    g.MY_TEAM: it.ShowTeam,
    g.MY_EARNINGS: it.ShowEarnings,
    g.WITHDRAW: it.ShowWithdrawal,
}
_LEVEL_NAMES_ZH = "一二三"


def centre(step: Step, cmd: g.Command) -> None:
    """``分销`` (the centre's menu), ``分销 N`` or a tool's own keyword (``二维码`` ...)."""
    action = cmd.args[0] if cmd.args else None
    if action is not None and action not in g.DISTRIBUTOR_ACTIONS:
        position = g.positive_int(action)
        count = len(g.DISTRIBUTOR_ACTIONS)
        action = g.DISTRIBUTOR_ACTIONS[position - 1] if position and position <= count else None
    if action is None:
        step.s.listing = {"kind": "distributor", "ids": list(g.DISTRIBUTOR_ACTIONS)}
        step.reply(step.t("distributor_menu"))
        return
    amount = " ".join(cmd.args[1:]) if cmd.args and cmd.args[0] == g.WITHDRAW else ""
    if action == g.WITHDRAW and amount:
        withdraw_amount(step, amount)
        return
    intent = _ACTION_INTENTS.get(action)
    if intent is not None:
        step.ask(intent())
        return
    step.reply(step.t("dist_" + action))


def open_tool(step: Step, action: str) -> None:
    """One item of the centre, as if typed (``分销 N`` picked it, or ``邀请码`` alone)."""
    centre(step, g.Command(g.DISTRIBUTOR, (action,)))


def applied(step: Step, event: ev.DistributorApplied) -> None:
    """Approved, pending (and what spend is missing), or the status that stops it."""
    status, before = event.status, event.before
    if status == "active":
        first = "dist_already_active" if before == "active" else "dist_approved"
        step.reply(step.t(first), step.t("dist_tools"))
    elif status == "pending" and event.missing_fen > 0:
        step.reply(step.t("dist_spend_missing", threshold=yuan(event.threshold_fen),
                          missing=yuan(event.missing_fen)))
    elif status == "pending":
        step.reply(step.t("dist_still_pending" if before == "pending" else "dist_applied"))
    elif "dist_status_" + status in TEXTS:
        step.reply(step.t("dist_status_" + status))
    else:
        step.reply(step.t("failed", message=status))


def invite_code_shown(step: Step, event: ev.InviteCodeShown) -> None:
    """The invite code and share link."""
    step.reply(step.t("invite_code", code=event.code, share_url=event.share_url))


def qr_code_shown(step: Step, event: ev.QrCodeShown) -> None:
    """The QR code as a news card."""
    # A news card shows the code itself; opening it gives the full-size picture
    # to press and hold (save, forward), which is how WeChat users share a code.
    step.replies.append(ArticleReply(
        step.t("qr_title"), step.t("qr_description", code=event.code), event.image_url,
        event.image_url,
    ))


def poster_requested(step: Step, event: ev.PosterRequested) -> None:
    """The poster comes later as an image."""
    step.reply(step.t("poster_requested"))


def _level_name(step: Step, level: int) -> str:
    if step.s.lang == "zh" and 1 <= level <= len(_LEVEL_NAMES_ZH):
        return _LEVEL_NAMES_ZH[level - 1]
    return str(level)


def team_shown(step: Step, event: ev.TeamShown) -> None:
    """Head counts and the month's sales by level."""
    rows = "\n".join(
        step.t("team_level", level=_level_name(step, x.level), orders=x.orders,
               amount=yuan(x.sales_fen))
        for x in event.levels
    )
    period = step.t("team_period", year=event.year, month=event.month)
    step.reply(step.t("team", direct=event.direct_count, size=event.team_size,
                      period=period, rows=rows, total=yuan(event.sales_fen)))


def earnings_shown(step: Step, event: ev.EarningsShown) -> None:
    """The balances and the latest commission lines (a debt said plainly)."""
    rows = "\n".join(
        step.t("earning_line", number=x.order_number, level=_level_name(step, x.level),
               amount=yuan(x.net_fen) if x.net_fen >= 0 else "-" + yuan(-x.net_fen),
               status=step.t("earning_" + x.status))
        for x in event.lines
    ) or step.t("earnings_none")
    debt = step.t("earnings_debt", debt=yuan(event.debt_fen)) if event.debt_fen else ""
    step.reply(step.t("earnings", pending=yuan(event.pending_fen),
                      available=yuan(event.available_fen),
                      withdrawing=yuan(event.withdrawing_fen),
                      withdrawn=yuan(event.withdrawn_fen), rows=rows), debt)


def tool_refused(step: Step, event: ev.Failed) -> None:
    """A tool refused for the user's status, or for another reason."""
    if not said_status(step, event):
        say_failure(step, event)


def qr_refused(step: Step, event: ev.Failed) -> None:
    """The status, or else that the code cannot be had right now."""
    if not said_status(step, event):
        # WeChat refused or was slow making the code, or it is being made right now.
        step.reply(step.t("qr_unavailable"))


COMMANDS: dict[str, CommandHandler] = {g.DISTRIBUTOR: centre}
EVENTS: dict[type, EventHandler] = {
    ev.DistributorApplied: applied,
    ev.InviteCodeShown: invite_code_shown,
    ev.QrCodeShown: qr_code_shown,
    ev.PosterRequested: poster_requested,
    ev.TeamShown: team_shown,
    ev.EarningsShown: earnings_shown,
}
FAILURES: dict[type, FailureHandler] = {
    it.ApplyDistributor: tool_refused,
    it.ShowInviteCode: tool_refused,
    it.ShowQrCode: qr_refused,
    it.RequestPoster: tool_refused,
    it.ShowTeam: tool_refused,
    it.ShowEarnings: tool_refused,
}
TEXT_STEPS: dict[tuple[str, str], TextHandler] = {}
