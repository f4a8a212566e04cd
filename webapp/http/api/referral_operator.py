"""Operator referral API: settings, distributor decisions and tiers, anyone's place in the tree.

Every change goes through a referral service, which checks the operator role
again, enforces the compliance guardrails and writes the audit row.
"""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import abort
from flask_smorest.pagination import PaginationParameters

from core.models import Role, User
from referral import binding, distributors, queries, settings, tree
from webapp.extensions import db
from webapp.http.api.auth import current_actor, protected
from webapp.http.api.common import ChatShopBlueprint, paginate
from webapp.http.api.referral import distributor_card, member_view, team_view, upline_view
from webapp.http.api.schemas.referral import (
    DECISIONS,
    BindingChangeSchema,
    BindingOutcomeSchema,
    DecisionSchema,
    DistributorQuerySchema,
    DistributorSchema,
    ReferralSettingsSchema,
    ReferralSettingsUpdateSchema,
    TierAssignmentSchema,
    TierCreateSchema,
    TierSchema,
    TierUpdateSchema,
    UplineMoveSchema,
    UserReferralQuerySchema,
    UserReferralSchema,
)

blp = ChatShopBlueprint(
    "referral_operator",
    __name__,
    url_prefix="/api/v1/operator",
    description="Operators: referral settings, distributors, tiers and the referral tree",
)

_ACTION_PATH = "<any(" + ", ".join(DECISIONS) + "):action>"


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404, message="no such user")
    assert user is not None  # abort raises; this tells the type checker
    return user


def _card(user_id: int) -> dict[str, Any]:
    found = queries.named_distributor(db.session, user_id)
    if found is None:
        abort(404, message="no distributor record for this user")
    assert found is not None
    return distributor_card(found.record, found.nickname)


@blp.route("/referral-settings")
class ReferralSettings(MethodView):
    """The referral rules: eligibility, binding mode, levels."""

    @protected(blp, Role.OPERATOR)
    @blp.response(200, ReferralSettingsSchema)
    def get(self) -> Any:
        """The rules in force (the defaults until an operator saves any)."""
        return settings.current_rules(db.session)

    @protected(blp, Role.OPERATOR)
    @blp.arguments(ReferralSettingsUpdateSchema)
    @blp.response(200, ReferralSettingsSchema)
    def put(self, data: dict[str, Any]) -> Any:
        """Change the rules; fields left out keep their values. Audited.

        The compliance guardrails refuse with 422 and say why: more than 3
        levels, 3 levels without ``three_levels_acknowledged``, anything that
        would make becoming a distributor cost money, unknown settings.
        """
        return settings.change_rules(db.session, current_actor(), data)


@blp.route("/distributors")
class Distributors(MethodView):
    """Distributor records: applications and distributors of every status."""

    @protected(blp, Role.OPERATOR)
    @blp.arguments(DistributorQuerySchema, location="query")
    @blp.response(200, DistributorSchema(many=True))
    @blp.paginate()
    def get(self, args: dict[str, Any], pagination_parameters: PaginationParameters) -> Any:
        """Distributor records, optionally of one status, newest application first."""
        total, rows = queries.distributor_listing(
            db.session, status=args.get("status"), offset=pagination_parameters.first_item,
            limit=pagination_parameters.page_size,
        )
        pagination_parameters.item_count = total
        return [distributor_card(row.record, row.nickname) for row in rows]


@blp.route("/distributors/<id:user_id>")
class DistributorDetail(MethodView):
    """One user's distributor record."""

    @protected(blp, Role.OPERATOR)
    @blp.response(200, DistributorSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, user_id: int) -> Any:
        """The record: status and why, tier, invite code, who decided."""
        return _card(user_id)


@blp.route(f"/distributors/<id:user_id>/{_ACTION_PATH}")
class DistributorDecision(MethodView):
    """An operator's decision on a distributor."""

    @protected(blp, Role.OPERATOR)
    @blp.arguments(DecisionSchema)
    @blp.response(200, DistributorSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data: dict[str, Any], user_id: int, action: str) -> Any:
        """Approve, reject, freeze, unfreeze, revoke or reinstate; audited.

        A reason is required to reject, freeze or revoke (422 without one); an
        action that does not apply to the current status is a 409.
        """
        distributors.decide(db.session, current_actor(), user_id, action, data["reason"])
        return _card(user_id)


@blp.route("/distributors/<id:user_id>/tier")
class DistributorTierAssignment(MethodView):
    """A distributor's tier."""

    @protected(blp, Role.OPERATOR)
    @blp.arguments(TierAssignmentSchema)
    @blp.response(200, DistributorSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def put(self, data: dict[str, Any], user_id: int) -> Any:
        """Set the tier (null: none), up or down, with a reason; audited."""
        distributors.set_tier(db.session, current_actor(), user_id, data["tier_id"],
                              data["reason"])
        return _card(user_id)


@blp.route("/distributor-tiers")
class DistributorTiers(MethodView):
    """Distributor tiers and what earns them."""

    @protected(blp, Role.OPERATOR)
    @blp.response(200, TierSchema(many=True))
    def get(self) -> Any:
        """Every tier, lowest rank first."""
        return distributors.list_tiers(db.session)

    @protected(blp, Role.OPERATOR)
    @blp.arguments(TierCreateSchema)
    @blp.response(201, TierSchema)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data: dict[str, Any]) -> Any:
        """Add a tier. Criteria are sales figures; one that counts people is refused (422)."""
        return distributors.save_tier(db.session, current_actor(), data)


@blp.route("/distributor-tiers/<id:tier_id>")
class DistributorTierDetail(MethodView):
    """One tier."""

    @protected(blp, Role.OPERATOR)
    @blp.arguments(TierUpdateSchema)
    @blp.response(200, TierSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def patch(self, data: dict[str, Any], tier_id: int) -> Any:
        """Change a tier's name, code, rank or criteria; audited. Nobody is moved by it."""
        return distributors.save_tier(db.session, current_actor(), data, tier_id)


@blp.route("/users/<id:user_id>/referral")
class UserReferral(MethodView):
    """Anyone's place in the referral tree."""

    @protected(blp, Role.OPERATOR)
    @blp.arguments(UserReferralQuerySchema, location="query")
    @blp.response(200, UserReferralSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args: dict[str, Any], user_id: int) -> Any:
        """The user's upline, chain above and depth, direct downline, team and record.

        The chain lists the nearest ``chain_limit`` users above (``depth`` counts
        them all); the downline is paged with ``page`` and ``page_size``; the
        distributor record is null for someone who never applied.
        """
        user = _user(user_id)
        chain = tree.upline_chain(db.session, user_id, limit=args["chain_limit"])
        page, size = args["page"], args["page_size"]
        total, members = tree.direct_downline(
            db.session, user_id, offset=(page - 1) * size, limit=size
        )
        found = queries.named_distributor(db.session, user_id)
        return {
            "user_id": user.id,
            "nickname": user.nickname,
            "upline": upline_view(queries.current_upline(db.session, user_id)),
            "upline_chain": {
                "depth": chain.depth,
                "members": [
                    {"hops": hops, "user_id": uid, "nickname": name,
                     "distributor_status": status or None}
                    for hops, (uid, name, status) in enumerate(chain.members, start=1)
                ],
            },
            "distributor": distributor_card(found.record, found.nickname) if found else None,
            "team": team_view(tree.team_stats(db.session, user_id), {}),
            "downline": {"total": total, "page": page, "page_size": size,
                         "members": [member_view(member) for member in members]},
        }


@blp.route("/users/<id:user_id>/upline")
class UserUpline(MethodView):
    """Moving a user, with everyone under them."""

    @protected(blp, Role.OPERATOR)
    @blp.arguments(UplineMoveSchema)
    @blp.response(200, BindingOutcomeSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def put(self, data: dict[str, Any], user_id: int) -> Any:
        """Bind the user (and so their whole team) under ``upline_id``, or unbind (null).

        Audited with the reason; whatever the binding mode. Refused with 409
        (``errors.reason``): self, cycle (the new upline is in the user's own
        team), not_distributor, distributor_inactive.
        """
        result = binding.move_user(db.session, current_actor(), user_id, data["upline_id"],
                                   data["reason"])
        return {**upline_view(queries.current_upline(db.session, user_id)),
                "changed": result.changed, "rule": result.reason}


@blp.route("/users/<id:user_id>/binding-history")
class UserBindingHistory(MethodView):
    """Every change of a user's upline, from the audit log."""

    @protected(blp, Role.OPERATOR)
    @blp.response(200, BindingChangeSchema(many=True))
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.paginate()
    def get(self, user_id: int, pagination_parameters: PaginationParameters) -> Any:
        """Binding changes, newest first: source, scene, previous and new upline, who, why."""
        _user(user_id)
        return paginate(queries.binding_history_query(user_id), pagination_parameters)
