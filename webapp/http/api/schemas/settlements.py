"""Supplier settlement schemas: batches, their items, filters and the payment record."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from commissions.supplier_settlement import MAX_REFERENCE, STATUSES
from webapp.http.api.schemas.common import query_id_field, text_field


class SupplierSettlementSchema(Schema):
    """A batch of supply cost owed to one supplier (amounts in integer fen)."""

    id = fields.Integer()
    supplier_id = fields.Integer()
    amount_fen = fields.Integer()
    status = fields.String(metadata={"enum": list(STATUSES)})
    created_at = fields.DateTime()
    created_by = fields.Integer(allow_none=True)
    paid_at = fields.DateTime(allow_none=True)
    paid_by = fields.Integer(allow_none=True)
    payment_reference = fields.String()


class SettlementItemSchema(Schema):
    """One order line in a batch: supply cost − refunded share − earlier batches = amount."""

    order_id = fields.Integer()
    order_line_id = fields.Integer()
    order_number = fields.String()
    paid_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    title = fields.String()
    sku = fields.String()
    quantity = fields.Integer()
    unit_supply_price_fen = fields.Integer()
    supply_cost_fen = fields.Integer()
    refunded_supply_fen = fields.Integer(
        metadata={"description": "taken back by refunds when this batch was opened"})
    earlier_batches_fen = fields.Integer()
    amount_fen = fields.Integer(metadata={"description": "negative after a late refund"})


class SupplierSettlementDetailSchema(SupplierSettlementSchema):
    """A batch with its items."""

    items = fields.Nested(SettlementItemSchema, many=True)


class OwnSettlementQuerySchema(Schema):
    """Filter of a supplier's own batches."""

    status = fields.String(validate=validate.OneOf(STATUSES))


class SettlementQuerySchema(OwnSettlementQuerySchema):
    """Filters of the operator's batch list."""

    supplier_id = query_id_field()


class SettlementPaymentSchema(Schema):
    """How the operator paid a batch (bank transfer number, voucher, ...)."""

    payment_reference = text_field(1, MAX_REFERENCE, required=True)
