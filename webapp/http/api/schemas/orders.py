"""Order schemas: what a buyer, a supplier and an operator each see of an order."""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from bots.dialogue.texts import mask_phone
from core.models import Order
from webapp.http.api.schemas.common import text_field


class MaskedPhone(fields.String):
    """A phone number dumped with its middle hidden (the chat's one mask)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else mask_phone(str(value))


class ShipmentSchema(Schema):
    """A supplier's drop-shipment."""

    supplier_id = fields.Integer()
    carrier = fields.String()
    tracking_number = fields.String()
    shipped_at = fields.DateTime()


class BuyerOrderLineSchema(Schema):
    """A line as its buyer sees it: what they paid, never the supply price."""

    id = fields.Integer()
    sku_id = fields.Integer()
    product_id = fields.Integer()
    title = fields.String()
    sku_name = fields.String()
    unit_price_fen = fields.Integer()
    quantity = fields.Integer()
    amount_fen = fields.Integer()
    refunded_fen = fields.Integer()
    refunded_quantity = fields.Integer()


class _OrderBaseSchema(Schema):
    """Fields every viewer of an order sees."""

    id = fields.Integer()
    number = fields.String()
    status = fields.String()
    recipient = fields.String()
    phone = fields.String()
    shipping_address = fields.String()
    buyer_note = fields.String()
    created_at = fields.DateTime()
    paid_at = fields.DateTime(allow_none=True)
    shipped_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    shipments = fields.Nested(ShipmentSchema, many=True)


class BuyerOrderSchema(_OrderBaseSchema):
    """An order as its buyer sees it."""

    goods_fen = fields.Integer()
    shipping_fen = fields.Integer()
    total_fen = fields.Integer()
    refunded_fen = fields.Integer()
    expires_at = fields.DateTime(metadata={"description": "unpaid orders are cancelled then"})
    # The buyer reads their order, not the courier's label: the number is masked as in the
    # chat and on the H5 pages (suppliers, who ship, and operators see it whole).
    phone = MaskedPhone(metadata={"description": "masked, e.g. 138****8000"})
    cancelled_at = fields.DateTime(allow_none=True)
    cancel_reason = fields.String()
    lines = fields.Nested(BuyerOrderLineSchema, many=True)


class ShipmentInputSchema(Schema):
    """How a supplier sent the goods."""

    carrier = text_field(1, 32, required=True)
    tracking_number = text_field(1, 64, required=True)


class SupplierOrderLineSchema(Schema):
    """A supplier's own line of an order: what to ship and what it is owed."""

    id = fields.Integer()
    sku_id = fields.Integer()
    product_id = fields.Integer()
    title = fields.String()
    sku_name = fields.String()
    quantity = fields.Integer()
    refunded_quantity = fields.Integer()
    unit_supply_price_fen = fields.Integer()
    supply_cost_fen = fields.Integer()


class SupplierOrderSchema(_OrderBaseSchema):
    """An order as a supplier sees it: only its own lines and shipment."""

    lines = fields.Nested(SupplierOrderLineSchema, many=True)


def supplier_order_view(order: Order, supplier_id: int | None) -> dict[str, Any]:
    """The order restricted to one supplier's lines and shipment (None: an operator sees all)."""
    view = {name: getattr(order, name) for name in _OrderBaseSchema._declared_fields}
    view["lines"] = [
        line for line in order.lines if supplier_id is None or line.supplier_id == supplier_id
    ]
    view["shipments"] = [
        s for s in order.shipments if supplier_id is None or s.supplier_id == supplier_id
    ]
    return view


class OperatorOrderLineSchema(BuyerOrderLineSchema):
    """A line with everything an operator needs: supplier, category, supply cost."""

    supplier_id = fields.Integer()
    category_id = fields.Integer()
    unit_supply_price_fen = fields.Integer()
    supply_cost_fen = fields.Integer()


class OperatorOrderSchema(BuyerOrderSchema):
    """An order as an operator sees it."""

    buyer_id = fields.Integer()
    version = fields.Integer()
    attribution = fields.Dict(allow_none=True)
    lines = fields.Nested(OperatorOrderLineSchema, many=True)


class OrderPaymentSchema(Schema):
    """A WeChat Pay transaction of an order."""

    id = fields.Integer()
    out_trade_no = fields.String()
    transaction_id = fields.String(allow_none=True)
    amount_fen = fields.Integer()
    status = fields.String()
    created_at = fields.DateTime()
    paid_at = fields.DateTime(allow_none=True)


class OrderRefundLineSchema(Schema):
    """How much of one order line a refund gives back."""

    order_line_id = fields.Integer()
    quantity = fields.Integer()
    amount_fen = fields.Integer()


class OrderRefundSchema(Schema):
    """Money going back to the buyer."""

    id = fields.Integer()
    out_refund_no = fields.String()
    wechat_refund_id = fields.String(allow_none=True)
    amount_fen = fields.Integer()
    reason = fields.String()
    status = fields.String()
    requested_by_id = fields.Integer(allow_none=True)
    failure_reason = fields.String()
    created_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    lines = fields.Nested(OrderRefundLineSchema, many=True)


class OrderDossierSchema(Schema):
    """An order with its payments and refunds."""

    order = fields.Nested(OperatorOrderSchema)
    payments = fields.Nested(OrderPaymentSchema, many=True)
    refunds = fields.Nested(OrderRefundSchema, many=True)
