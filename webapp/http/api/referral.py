"""Referral API for consumers and distributors: applying, my upline, my team.

Any signed-in user may apply to distribute and bind themselves by an invite
code. The team views need the caller's own distributor record, active or
frozen (a frozen distributor may look but earns nothing); the ``distributor``
role alone is not enough, since the record is what approval, freezing and
revoking change. There is no way to name another distributor here: a
distributor only ever sees their own team.
"""
from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import abort
from flask_smorest.pagination import PaginationParameters

from core.models import Distributor
from referral import binding, distributors, links, queries, tree
from referral.domain.rules import BindingSource, DistributorStatus
from webapp.extensions import db
from webapp.http.api.auth import current_actor, protected
from webapp.http.api.common import ChatShopBlueprint
from webapp.http.api.schemas.referral import (
    BindingOutcomeSchema,
    DistributorSchema,
    DownlineMemberSchema,
    InviteCodeSchema,
    PeriodSchema,
    TeamStatsSchema,
    UplineSchema,
)

blp = ChatShopBlueprint(
    "referral",
    __name__,
    url_prefix="/api/v1",
    description="Referral: applying to distribute, binding by invite code, a distributor's team",
)

def distributor_card(record: Distributor, nickname: str) -> dict[str, Any]:
    """A distributor record as the API shows it (to its owner and to operators)."""
    active = record.status == DistributorStatus.ACTIVE
    return {
        "user_id": record.user_id,
        "nickname": nickname,
        "status": record.status,
        "status_reason": record.status_reason,
        "tier": record.tier,
        "invite_code": record.invite_code,
        # Bindings onto anyone but an active distributor are refused, so a link
        # that could only fail is not handed out.
        "share_url": (
            links.share_url(str(current_app.config["PUBLIC_BASE_URL"]), record.invite_code)
            if active else None
        ),
        "qr_url": record.qr_url,
        "applied_at": record.applied_at,
        "decided_at": record.decided_at,
        "decided_by": record.decided_by,
    }


def upline_view(upline: queries.Upline | None) -> dict[str, Any]:
    """A user's current upline for :class:`UplineSchema` (all null when not bound)."""
    if upline is None:
        return {"bound": False, "upline_id": None, "nickname": None, "source": None,
                "bound_at": None, "expires_at": None}
    return {"bound": True, "upline_id": upline.upline_id, "nickname": upline.nickname,
            "source": upline.source, "bound_at": upline.bound_at,
            "expires_at": upline.expires_at}


def team_view(stats: tree.TeamStats, args: dict[str, Any]) -> dict[str, Any]:
    """Team figures for :class:`TeamStatsSchema`, levels in order."""
    return {
        "direct_count": stats.direct_count,
        "team_size": stats.team_size,
        "team_sales_fen": stats.team_sales_fen,
        "levels": [
            {"level": level, "sales_fen": stats.sales_by_level[level],
             "orders": stats.orders_by_level.get(level, 0)}
            for level in sorted(stats.sales_by_level)
        ],
        "since": args.get("since"),
        "until": args.get("until"),
    }


def member_view(member: tree.DownlineMember) -> dict[str, Any]:
    """A direct downline member for :class:`DownlineMemberSchema`."""
    return {
        "user_id": member.user_id,
        "nickname": member.nickname,
        "source": member.source,
        "bound_at": member.bound_at,
        "distributor_status": member.distributor_status or None,
        "direct_count": member.direct_count,
    }


def _my_card() -> dict[str, Any] | None:
    found = queries.named_distributor(db.session, current_actor().user_id)
    return distributor_card(found.record, found.nickname) if found else None


def _my_distributor() -> Distributor:
    """The caller's own distributor record, which must be active or frozen (else 403)."""
    try:
        record = distributors.require_distributor(
            db.session, current_actor().user_id, distributors.TEAM_STATUSES)
    except distributors.DistributorRefused:
        abort(403, message="this needs an active or frozen distributor account")
    return record


@blp.route("/me/distributor")
class MyDistributor(MethodView):
    """The caller's own distributor record."""

    @protected(blp)
    @blp.response(200, DistributorSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self) -> Any:
        """My status, tier, invite code and share link (404: never applied)."""
        card = _my_card()
        if card is None:
            abort(404, message="you have not applied to be a distributor")
        return card

    @protected(blp)
    @blp.response(201, DistributorSchema)
    @blp.alt_response(200, schema=DistributorSchema, success=True,
                      description="already applied (pending, active or frozen): nothing changed")
    @blp.alt_response(409, response="CONFLICT")
    def post(self) -> Any:
        """Apply to become a distributor; free, always. The operator's eligibility rule decides.

        201 when an application was made (approved at once if the rule says so);
        200 with the record unchanged when one is pending or already decided in
        the caller's favour; 409 for a revoked distributor (an operator reinstates).
        """
        user_id = current_actor().user_id
        before = distributors.distributor_of(db.session, user_id)
        fresh = before is None or before.status == DistributorStatus.REJECTED
        distributors.apply(db.session, user_id)
        return _my_card(), 201 if fresh else 200


@blp.route("/me/upline")
class MyUpline(MethodView):
    """The distributor the caller is bound to."""

    @protected(blp)
    @blp.response(200, UplineSchema)
    def get(self) -> Any:
        """Who I am bound to (``bound`` false: nobody, or a first-touch binding expired)."""
        return upline_view(queries.current_upline(db.session, current_actor().user_id))

    @protected(blp)
    @blp.arguments(InviteCodeSchema)
    @blp.response(200, BindingOutcomeSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data: dict[str, Any]) -> Any:
        """Bind me under the distributor with this invite code, as the binding mode allows.

        A binding the mode does not allow (first touch kept) is not an error:
        ``changed`` is false and ``upline`` is unchanged. Refused bindings are a
        409 whose ``errors.reason`` is ``self``, ``cycle``, ``not_distributor``
        or ``distributor_inactive``; an unknown code is a 404, a malformed one a 422.
        """
        user_id = current_actor().user_id
        result = binding.bind_by_invite_code(
            db.session, user_id, data["invite_code"], BindingSource.INVITE_CODE
        )
        return {**upline_view(queries.current_upline(db.session, user_id)),
                "changed": result.changed, "rule": result.reason}


@blp.route("/distributor/team")
class MyTeam(MethodView):
    """The caller's team, as a distributor."""

    @protected(blp)
    @blp.arguments(PeriodSchema, location="query")
    @blp.response(200, TeamStatsSchema)
    @blp.alt_response(403, response="FORBIDDEN")
    def get(self, args: dict[str, Any]) -> Any:
        """Head counts and team sales by level, for orders paid in ``[since, until)``."""
        record = _my_distributor()
        stats = tree.team_stats(db.session, record.user_id, since=args.get("since"),
                                until=args.get("until"))
        return team_view(stats, args)


@blp.route("/distributor/team/members")
class MyTeamMembers(MethodView):
    """The people bound directly under the caller."""

    @protected(blp)
    @blp.response(200, DownlineMemberSchema(many=True))
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.paginate()
    def get(self, pagination_parameters: PaginationParameters) -> Any:
        """My direct downline, newest first."""
        record = _my_distributor()
        total, members = tree.direct_downline(
            db.session, record.user_id, offset=pagination_parameters.first_item,
            limit=pagination_parameters.page_size,
        )
        pagination_parameters.item_count = total
        return [member_view(member) for member in members]
