"""Referral schemas: distributors, tiers, bindings, teams and the operator's referral settings.

Several request schemas pass fields they do not declare through to the
services (``unknown = INCLUDE``): the compliance guardrails live in the domain
and must be the ones to refuse, with their own words, a setting that would
charge an entry fee or a tier earned by head count. The services refuse any
other unknown name too, so nothing undeclared is ever stored.
"""
from __future__ import annotations

from datetime import UTC
from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema

from core.bounds import (
    MAX_AMOUNT_FEN,
    MAX_BINDING_DAYS,
    MAX_COUNT,
    MAX_LEVELS,
    MAX_PAGE,
    MAX_PAGE_SIZE,
    MAX_TIER_RANK,
)
from referral.domain.rules import (
    TRANSITIONS,
    BindingMode,
    BindingSource,
    DistributorStatus,
    Eligibility,
    InactiveUpline,
)
from webapp.http.api.schemas.common import id_field, text_field, whole_field

REASON_LENGTH = 200


def _choice(kind: type[Any], **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.OneOf([str(member) for member in kind]), **kwargs)


def _not_empty(data: dict[str, Any]) -> None:
    if not data:
        raise ValidationError("nothing to change")


# -- tiers -------------------------------------------------------------------------------


class TierSchema(Schema):
    """A distributor tier and the sales thresholds that earn it (never a head count)."""

    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    rank = fields.Integer(metadata={"description": "higher is better; unique"})
    min_own_spend_fen = fields.Integer()
    min_own_sales_fen = fields.Integer()
    min_team_sales_fen = fields.Integer()
    min_completed_orders = fields.Integer()
    created_at = fields.DateTime()


def _criterion(description: str, ceiling: int = MAX_AMOUNT_FEN) -> fields.Integer:
    return whole_field(0, ceiling, metadata={"description": description})


class TierCreateSchema(Schema):
    """A new tier. Criteria are sales figures only: a head-count criterion is refused (422)."""

    class Meta:
        unknown = INCLUDE

    code = text_field(1, 32, required=True)
    name = text_field(1, 64, required=True)
    rank = whole_field(1, MAX_TIER_RANK, required=True)
    min_own_spend_fen = _criterion("own completed purchases, fen")
    min_own_sales_fen = _criterion("completed sales to direct customers, fen")
    min_team_sales_fen = _criterion("completed sales at every commission level, fen")
    min_completed_orders = _criterion("own completed orders", MAX_COUNT)


class TierUpdateSchema(TierCreateSchema):
    """Changes to a tier; send only what changes."""

    code = text_field(1, 32)
    name = text_field(1, 64)
    rank = whole_field(1, MAX_TIER_RANK)

    @validates_schema
    def _something(self, data: dict[str, Any], **kwargs: Any) -> None:
        _not_empty(data)


class TierRefSchema(Schema):
    """A tier as named on a distributor."""

    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    rank = fields.Integer()


# -- distributors ------------------------------------------------------------------------


class DistributorSchema(Schema):
    """A distributor record: status, tier and how they share."""

    user_id = fields.Integer()
    nickname = fields.String()
    status = _choice(DistributorStatus)
    status_reason = fields.String()
    tier = fields.Nested(TierRefSchema, allow_none=True)
    invite_code = fields.String()
    share_url = fields.String(
        allow_none=True,
        metadata={"description": "link that binds whoever opens it; null unless active"},
    )
    qr_url = fields.String(allow_none=True, metadata={"description": "the permanent QR code"})
    applied_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    decided_by = fields.Integer(allow_none=True)


class DistributorQuerySchema(Schema):
    """Filter of the operator's distributor list."""

    status = _choice(DistributorStatus)


class DecisionSchema(Schema):
    """Why the operator decides so (required to reject, freeze or revoke)."""

    reason = text_field(0, REASON_LENGTH, load_default="")


DECISIONS = tuple(TRANSITIONS)


class TierAssignmentSchema(Schema):
    """Set a distributor's tier (null: none); the only way a tier goes down."""

    tier_id = id_field(required=True, allow_none=True)
    reason = text_field(1, REASON_LENGTH, required=True)


# -- binding -----------------------------------------------------------------------------


class UplineSchema(Schema):
    """Who a user is bound to now (``bound`` false: nobody, or the binding expired)."""

    bound = fields.Boolean()
    upline_id = fields.Integer(allow_none=True)
    nickname = fields.String(allow_none=True)
    source = _choice(BindingSource, allow_none=True)
    bound_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime(
        allow_none=True, metadata={"description": "first touch expiring: a new touch may rebind"}
    )


class BindingOutcomeSchema(UplineSchema):
    """The upline after a binding attempt, and whether it changed."""

    changed = fields.Boolean(metadata={"description": "false: the binding rules kept it as it was"})
    rule = fields.String(
        metadata={"description": "the rule that decided: new, already bound, first touch, ..."}
    )


class InviteCodeSchema(Schema):
    """Bind the caller under the distributor with this invite code."""

    invite_code = text_field(1, 32, required=True,
                             metadata={"description": "8 letters and digits; case, spaces and "
                                                      "hyphens ignored"})


class UplineMoveSchema(Schema):
    """An operator moves a user (and everyone under them) to a new upline, or to none."""

    upline_id = id_field(required=True, allow_none=True)
    reason = text_field(1, REASON_LENGTH, required=True)


class BindingChangeSchema(Schema):
    """One change of a user's upline, from the audit log."""

    id = fields.Integer()
    at = fields.DateTime(attribute="created_at")
    actor_id = fields.Integer(allow_none=True)
    source = fields.String(attribute="details.source")
    scene = fields.String(attribute="details.scene")
    previous_upline_id = fields.Integer(attribute="details.previous_upline_id", allow_none=True)
    upline_id = fields.Integer(attribute="details.upline_id", allow_none=True)
    rule = fields.String(attribute="details.rule")
    reason = fields.String(attribute="details.reason")
    expires_at = fields.String(attribute="details.expires_at", allow_none=True)


# -- team --------------------------------------------------------------------------------


class PeriodSchema(Schema):
    """A period of payment times ``[since, until)``; a time without a zone is UTC."""

    since = fields.AwareDateTime(default_timezone=UTC)
    until = fields.AwareDateTime(default_timezone=UTC)

    @validates_schema
    def _ordered(self, data: dict[str, Any], **kwargs: Any) -> None:
        since, until = data.get("since"), data.get("until")
        if since is not None and until is not None and since >= until:
            raise ValidationError("must be after since", "until")


class LevelSalesSchema(Schema):
    """Sales attributed at one commission level, net of refunds."""

    level = fields.Integer(metadata={"description": "1 = direct customers"})
    sales_fen = fields.Integer()
    orders = fields.Integer()


class TeamStatsSchema(Schema):
    """A distributor's team: head counts (for information only) and sales by level."""

    direct_count = fields.Integer()
    team_size = fields.Integer()
    team_sales_fen = fields.Integer()
    levels = fields.Nested(LevelSalesSchema, many=True)
    since = fields.DateTime(allow_none=True)
    until = fields.DateTime(allow_none=True)


class DownlineMemberSchema(Schema):
    """Someone bound directly under a distributor."""

    user_id = fields.Integer()
    nickname = fields.String()
    source = _choice(BindingSource)
    bound_at = fields.DateTime()
    distributor_status = fields.String(
        allow_none=True, metadata={"description": "null: not a distributor"}
    )
    direct_count = fields.Integer(metadata={"description": "people bound directly under them"})


class ChainMemberSchema(Schema):
    """One user above someone in the tree."""

    hops = fields.Integer(metadata={"description": "1 = the direct upline"})
    user_id = fields.Integer()
    nickname = fields.String()
    distributor_status = fields.String(allow_none=True)


class UplineChainSchema(Schema):
    """The users above someone, nearest first (at most ``chain_limit``), and the depth."""

    depth = fields.Integer(metadata={"description": "how many users are above, in all"})
    members = fields.Nested(ChainMemberSchema, many=True)


class DownlinePageSchema(Schema):
    """One page of a user's direct downline."""

    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    members = fields.Nested(DownlineMemberSchema, many=True)


class UserReferralQuerySchema(Schema):
    """Which part of the user's tree to show."""

    page = fields.Integer(validate=validate.Range(min=1, max=MAX_PAGE), load_default=1)
    page_size = fields.Integer(validate=validate.Range(min=1, max=MAX_PAGE_SIZE), load_default=20)
    chain_limit = fields.Integer(validate=validate.Range(min=1, max=500), load_default=50)


class UserReferralSchema(Schema):
    """A user's place in the tree, for operators."""

    user_id = fields.Integer()
    nickname = fields.String()
    upline = fields.Nested(UplineSchema)
    upline_chain = fields.Nested(UplineChainSchema)
    distributor = fields.Nested(DistributorSchema, allow_none=True)
    team = fields.Nested(TeamStatsSchema)
    downline = fields.Nested(DownlinePageSchema)


# -- settings ----------------------------------------------------------------------------


class ReferralSettingsSchema(Schema):
    """The operator's referral rules."""

    eligibility = _choice(Eligibility, metadata={
        "description": "manual: an operator approves; everyone; spend: after a spend threshold"
    })
    eligibility_spend_fen = fields.Integer()
    binding_mode = _choice(BindingMode)
    binding_days = fields.Integer(allow_none=True)
    levels = fields.Integer(metadata={"description": f"levels that earn: 1 to {MAX_LEVELS}"})
    three_levels_acknowledged = fields.Boolean()
    inactive_upline = _choice(InactiveUpline, metadata={
        "description": "frozen or revoked distributors in a chain: skip them, or forfeit"
    })


class ReferralSettingsUpdateSchema(Schema):
    """Settings to change; those left out keep their values. The guardrails refuse with 422.

    ``levels`` is at most 3, and 3 only with ``three_levels_acknowledged``;
    nothing may make becoming a distributor cost money.
    """

    class Meta:
        unknown = INCLUDE

    eligibility = _choice(Eligibility)
    eligibility_spend_fen = whole_field(0, MAX_AMOUNT_FEN)
    binding_mode = _choice(BindingMode)
    binding_days = whole_field(1, MAX_BINDING_DAYS, allow_none=True)
    # Bounds documented, not validated here: the guardrail refuses in its own words.
    levels = fields.Integer(strict=True, metadata={"minimum": 1, "maximum": MAX_LEVELS})
    three_levels_acknowledged = fields.Boolean(truthy={True}, falsy={False})
    inactive_upline = _choice(InactiveUpline)

    @validates_schema
    def _something(self, data: dict[str, Any], **kwargs: Any) -> None:
        _not_empty(data)
