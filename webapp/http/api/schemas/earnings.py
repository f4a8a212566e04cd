"""Earnings schemas: a distributor's summary and statement lines (fen as integers)."""
from __future__ import annotations

from marshmallow import Schema, fields


class EarningsSummarySchema(Schema):
    """A distributor's money in fen; every figure is 0 or more."""

    pending_fen = fields.Integer(
        metadata={"description": "earned on orders not yet past their return window"})
    available_fen = fields.Integer(
        metadata={"description": "settled and not withdrawn; 0 while there is a debt"})
    withdrawing_fen = fields.Integer(metadata={"description": "asked for, not yet paid out"})
    withdrawn_fen = fields.Integer(metadata={"description": "paid out, all time"})
    debt_fen = fields.Integer(
        metadata={"description": "taken back by refunds after settlement beyond the available "
                                 "balance; later earnings pay it off first, and it blocks "
                                 "withdrawal"})


class StatementLineSchema(Schema):
    """One commission earned, or one clawed back after settlement."""

    id = fields.Integer()
    kind = fields.String(metadata={"description": "commission or clawback"})
    order_id = fields.Integer()
    order_number = fields.String()
    product_title = fields.String()
    level = fields.Integer(metadata={"description": "1 = the buyer's own distributor"})
    amount_fen = fields.Integer(metadata={"description": "negative for a clawback"})
    reversed_fen = fields.Integer(
        metadata={"description": "taken back by refunds, before or after settlement"})
    clawed_back_fen = fields.Integer(
        metadata={"description": "the part of reversed_fen taken back after settlement "
                                 "(shown again as clawback rows)"})
    net_fen = fields.Integer(
        metadata={"description": "what this row adds to pending + available: the rows add "
                                 "up to those balances"})
    status = fields.String(metadata={"description": "pending, available or reversed"})
    created_at = fields.DateTime()
    matures_at = fields.DateTime(
        allow_none=True,
        metadata={"description": "when settlement may make it available (set at completion)"})
    settled_at = fields.DateTime(allow_none=True)
    clawback_of = fields.Integer(
        allow_none=True, metadata={"description": "the commission line a clawback takes from"})
