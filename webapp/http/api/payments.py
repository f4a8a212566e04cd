"""Payments and refunds API: the buyer starts paying; operators (or the buyer) refund.

Thin views: parse with marshmallow, call one service, render. The refund
rules (who, how much) are in ``shop.refunds`` and
``shop.domain.refund_rules``.
"""
from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from core.actors import Actor
from core.bounds import MAX_QUANTITY
from shop import payments, refunds
from webapp.clients import app_settings, pay_gateway
from webapp.extensions import db
from webapp.http.api.auth import current_actor, protected
from webapp.http.api.common import ChatShopBlueprint
from webapp.http.api.schemas.common import fen_field, id_field, text_field
from webapp.http.api.schemas.orders import OrderRefundSchema

blp = ChatShopBlueprint(
    "payments", __name__, url_prefix="/api/v1", description="Payments and refunds"
)

# More lines than an order can hold is never a real request.
MAX_REFUND_LINES = 200


class JsapiParamsSchema(Schema):
    """What the H5 page passes to ``WeixinJSBridge.invoke('getBrandWCPayRequest', ...)``."""

    # WeChat's own camelCase parameter names, passed through unchanged.
    appId = fields.String()
    timeStamp = fields.String()
    nonceStr = fields.String()
    package = fields.String()
    signType = fields.String()
    paySign = fields.String()


class PaymentStartSchema(Schema):
    """How to pay an order."""

    order_id = fields.Integer()
    out_trade_no = fields.String(metadata={"description": "WeChat Pay trade number (order number)"})
    amount_fen = fields.Integer()
    jsapi = fields.Nested(JsapiParamsSchema)
    pay_url = fields.String(
        allow_none=True,
        metadata={"description": "sandbox only: the page where a person pays this order"},
    )


class RefundLineRequestSchema(Schema):
    """Refund part of one order line: units coming back and/or an amount."""

    order_line_id = id_field(required=True)
    quantity = fields.Integer(
        strict=True, load_default=0, validate=validate.Range(min=0, max=MAX_QUANTITY),
        metadata={"description": "units refunded (0: money only)"},
    )
    amount_fen = fen_field(
        minimum=1, load_default=None, allow_none=True,
        metadata={"description": "money refunded; omitted: the units' share at the unit price"},
    )


class RefundRequestSchema(Schema):
    """A refund: some lines, or (no ``lines``) everything still refundable."""

    lines = fields.List(
        fields.Nested(RefundLineRequestSchema),
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=MAX_REFUND_LINES),
        metadata={"description": "omit for a full refund of what is left"},
    )
    reason = text_field(maximum=200, load_default="")


def _buyer() -> Actor:
    """The caller acting only as a buyer."""
    return Actor(current_actor().user_id)


@blp.route("/orders/<id:order_id>/payment")
class OrderPayment(MethodView):
    """Paying an order with WeChat Pay (JSAPI)."""

    @protected(blp)
    @blp.response(200, PaymentStartSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    @blp.alt_response(502, response="DEFAULT_ERROR")
    def post(self, order_id: int) -> Any:
        """Start (or resume) paying one of the caller's unpaid orders.

        Returns the JSAPI parameters for WeChat's in-app browser and, in sandbox
        mode, ``pay_url``: the page where a person completes the payment.
        """
        return payments.start_payment(db.session, pay_gateway(), app_settings(), _buyer(), order_id,
                                      request.remote_addr)


@blp.route("/orders/<id:order_id>/refunds")
class OrderRefunds(MethodView):
    """Refunds of an order."""

    @protected(blp)
    @blp.response(200, OrderRefundSchema(many=True))
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, order_id: int) -> Any:
        """The order's refunds, oldest first (buyer, operator, or a supplier of the order)."""
        return refunds.list_refunds(db.session, current_actor(), order_id)

    @protected(blp)
    @blp.arguments(RefundRequestSchema)
    @blp.response(201, OrderRefundSchema)
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data: dict[str, Any], order_id: int) -> Any:
        """Refund lines of a paid order, or everything left when no lines are given.

        Operators may refund any paid order; the buyer only while nothing has
        shipped. The money goes back through WeChat Pay: the refund is
        ``processing`` until WeChat confirms it, or ``failed`` if WeChat refuses.
        """
        lines = data.get("lines")
        specs = None if lines is None else [
            (line["order_line_id"], line["quantity"], line["amount_fen"]) for line in lines
        ]
        return refunds.request_refund(
            db.session, pay_gateway(), current_actor(), order_id, specs, reason=data["reason"]
        )
