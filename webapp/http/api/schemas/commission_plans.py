"""Commission plan schemas: the rules of a version, saving a new one, the history.

The rules are passed through untyped (``Raw``, unknown names included): the
plan's own validation (``commissions.plans``) must be the one to refuse a rate
that is negative, not whole, over the cap or beyond the level limit, and it
lists every problem at once, which field-by-field schema errors would not.
"""
from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields

from core.bounds import MAX_RATE_BP, MAX_RETURN_WINDOW_DAYS
from webapp.http.api.schemas.common import text_field


def _rule(description: str) -> fields.Raw:
    return fields.Raw(allow_none=True, metadata={"description": description})


class PlanRulesSchema(Schema):
    """A commission plan's rules (rates in integer basis points: 100 bp = 1 %)."""

    class Meta:
        unknown = INCLUDE

    rates_bp = _rule(f"required: one rate per level, 0 to {MAX_RATE_BP} each, e.g. [1000, 500]")
    levels = _rule("1, 2 (default) or 3 (needs three_levels_acknowledged)")
    base = _rule("'margin' (paid - supply cost, default) or 'paid'")
    cap_bp = _rule("total commission on a line <= cap x margin; default 10000")
    category_rates_bp = _rule("category id -> rates per level")
    product_rates_bp = _rule("product id -> rates per level")
    tier_rates_bp = _rule("tier code -> rates per level")
    self_purchase_earns = _rule("whether a distributor earns on their own purchases (false)")
    return_window_days = _rule(
        f"days after completion before commission settles: 0 to {MAX_RETURN_WINDOW_DAYS} (7)")
    three_levels_acknowledged = _rule("the compliance acknowledgement 3 levels need")


class PlanVersionCreateSchema(Schema):
    """A new plan version: its rules and why it was made."""

    rules = fields.Nested(PlanRulesSchema, required=True)
    note = text_field(0, 200, load_default="")


class PlanVersionSchema(Schema):
    """One plan version (version 0 with a null id: the built-in default, never saved)."""

    version_id = fields.Integer(allow_none=True)
    version = fields.Integer()
    is_default = fields.Boolean()
    rules = fields.Nested(PlanRulesSchema)
    note = fields.String()
    created_at = fields.DateTime(allow_none=True)
    created_by = fields.Integer(allow_none=True)
