"""Operator report schemas: the period and format asked for, and each report (fen as integers)."""
from __future__ import annotations

from datetime import UTC
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from commissions.reports import MAX_TOP


class ReportPeriodSchema(Schema):
    """Orders paid (payables: postings made) in ``[since, until)``; a time without a zone is UTC."""

    since = fields.AwareDateTime(default_timezone=UTC)
    until = fields.AwareDateTime(default_timezone=UTC)

    @validates_schema
    def _ordered(self, data: dict[str, Any], **kwargs: Any) -> None:
        since, until = data.get("since"), data.get("until")
        if since is not None and until is not None and since >= until:
            raise ValidationError("must be after since", "until")


class ReportQuerySchema(ReportPeriodSchema):
    """A period, and JSON (default) or a CSV download."""

    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]))


class TopDistributorsPeriodSchema(ReportPeriodSchema):
    """A period and how many distributors to list."""

    limit = fields.Integer(load_default=10, validate=validate.Range(1, MAX_TOP))


class TopDistributorsQuerySchema(TopDistributorsPeriodSchema, ReportQuerySchema):
    """A period, how many distributors, JSON or CSV."""


class _Report(Schema):
    since = fields.DateTime(allow_none=True)
    until = fields.DateTime(allow_none=True)


class PlatformPnlSchema(_Report):
    """Orders paid in the period, net of their refunds so far.

    net_paid_fen = supplier_cost_fen + commissions_fen + platform_revenue_fen.
    """

    orders = fields.Integer()
    gross_paid_fen = fields.Integer()
    refunds_fen = fields.Integer()
    net_paid_fen = fields.Integer()
    supplier_cost_fen = fields.Integer()
    commissions_gross_fen = fields.Integer()
    commissions_reversed_fen = fields.Integer()
    commissions_fen = fields.Integer(metadata={"description": "net of reversals"})
    platform_revenue_fen = fields.Integer()


class LevelTotalSchema(Schema):
    """Commission at one level."""

    level = fields.Integer()
    lines = fields.Integer()
    distributors = fields.Integer()
    gross_fen = fields.Integer()
    reversed_fen = fields.Integer()
    net_fen = fields.Integer()
    pending_fen = fields.Integer(metadata={"description": "net, not settled yet"})
    settled_fen = fields.Integer(metadata={"description": "net, settled"})


class CommissionsByLevelSchema(_Report):
    """Commission per level on the orders paid in the period."""

    levels = fields.List(fields.Nested(LevelTotalSchema))


class TopDistributorSchema(Schema):
    """One distributor's commission on the orders paid in the period."""

    rank = fields.Integer()
    distributor_id = fields.Integer()
    nickname = fields.String()
    orders = fields.Integer()
    lines = fields.Integer()
    gross_fen = fields.Integer()
    reversed_fen = fields.Integer()
    net_fen = fields.Integer()


class TopDistributorsSchema(_Report):
    """The distributors earning most net commission, best first."""

    distributors = fields.List(fields.Nested(TopDistributorSchema))


class SupplierPayableSchema(Schema):
    """What the platform owes one supplier."""

    supplier_id = fields.Integer()
    supplier_name = fields.String()
    opening_fen = fields.Integer(metadata={"description": "balance at since (0 when open)"})
    change_fen = fields.Integer(metadata={"description": "posted during the period"})
    closing_fen = fields.Integer(metadata={"description": "balance at until (now when open)"})


class SupplierPayablesSchema(_Report):
    """Every supplier's payable, largest first."""

    suppliers = fields.List(fields.Nested(SupplierPayableSchema))
