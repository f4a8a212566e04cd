"""The distributor centre from the chat: applying, invite code, QR code, poster, team, earnings.

Every tool asks :func:`referral.distributors.require_distributor` first; its typed
refusal (not a distributor, or the status) is worded by the executor.
"""
from __future__ import annotations

from datetime import UTC, datetime

from bots.dialogue import events as ev
from bots.dialogue import intents as it
from commissions.earnings import EARNINGS_STATUSES, earnings_summary, statement
from referral import links, qrcodes
from referral.distributors import (
    apply,
    completed_spend,
    distributor_of,
    require_active_distributor,
    require_distributor,
)
from referral.domain.rules import DistributorStatus, Eligibility
from referral.settings import current_rules
from referral.tree import team_stats
from storefront.features.context import ChatUser, Execute, china_month

STATEMENT_LINES = 5  # the latest commission lines the chat shows


def apply_to_distribute(chat: ChatUser, intent: it.ApplyDistributor) -> ev.Event:
    """Apply; the status after, and what spend is still missing while pending on it."""
    found = distributor_of(chat.session, chat.user_id)
    before = str(found.status) if found is not None else ""
    record = apply(chat.session, chat.user_id)  # DistributorRevoked: worded as "revoked"
    status = str(record.status)
    missing = threshold = 0
    if status == DistributorStatus.PENDING:
        rules = current_rules(chat.session)
        if rules.eligibility is Eligibility.SPEND:
            threshold = rules.eligibility_spend_fen
            missing = max(0, threshold - completed_spend(chat.session, chat.user_id))
    return ev.DistributorApplied(status, before, missing, threshold)


def show_invite_code(chat: ChatUser, intent: it.ShowInviteCode) -> ev.Event:
    """The active distributor's code and share link."""
    code = require_active_distributor(chat.session, chat.user_id).invite_code
    return ev.InviteCodeShown(code, links.share_url(chat.base_url, code))


def show_qr_code(chat: ChatUser, intent: it.ShowQrCode) -> ev.Event:
    """The active distributor's referral QR code (made on first use)."""
    code = require_active_distributor(chat.session, chat.user_id).invite_code
    qr = qrcodes.ensure_qr_code(chat.session, chat.user_id)
    return ev.QrCodeShown(qr.image_url, code)


def request_poster(chat: ChatUser, intent: it.RequestPoster) -> ev.Event:
    """Have the poster made by a job; it arrives as a customer-service message."""
    from referral import posters  # late: it loads Pillow, which only this intent needs

    require_active_distributor(chat.session, chat.user_id)
    posters.request_poster(chat.user_id, chat.openid)
    return ev.PosterRequested()


def show_team(chat: ChatUser, intent: it.ShowTeam) -> ev.Event:
    """Head counts and this China-time month's sales by level."""
    require_active_distributor(chat.session, chat.user_id)
    year, month, since, until = china_month(datetime.now(UTC))
    stats = team_stats(chat.session, chat.user_id, since=since, until=until)
    levels = current_rules(chat.session).levels
    return ev.TeamShown(
        stats.direct_count, stats.team_size, year, month,
        tuple(
            ev.LevelSales(level, stats.orders_by_level.get(level, 0),
                          stats.sales_by_level.get(level, 0))
            for level in range(1, levels + 1)
        ),
    )


def show_earnings(chat: ChatUser, intent: it.ShowEarnings) -> ev.Event:
    """Balances and the latest lines, for every distributor once approved."""
    require_distributor(chat.session, chat.user_id, EARNINGS_STATUSES)
    summary = earnings_summary(chat.session, chat.user_id)
    _total, lines = statement(chat.session, chat.user_id, 0, STATEMENT_LINES)
    return ev.EarningsShown(
        summary.pending_fen, summary.available_fen, summary.withdrawing_fen,
        summary.withdrawn_fen, summary.debt_fen,
        tuple(ev.EarningLine(x.order_number, x.level, x.net_fen,
                             "reversed" if x.kind == "clawback" else x.status)
              for x in lines),
    )


EXECUTORS: dict[type, Execute] = {
    it.ApplyDistributor: apply_to_distribute,
    it.ShowInviteCode: show_invite_code,
    it.ShowQrCode: show_qr_code,
    it.RequestPoster: request_poster,
    it.ShowTeam: show_team,
    it.ShowEarnings: show_earnings,
}
