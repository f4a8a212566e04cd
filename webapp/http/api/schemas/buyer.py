"""Buyer schemas: cart, saved addresses, checkout and the order list filter."""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from core.bounds import MAX_QUANTITY
from core.models import OrderStatus
from webapp.http.api.schemas.common import id_field, text_field

# Above any configured per-line limit: the service applies the configured one.
QUANTITY_CEILING = MAX_QUANTITY


def quantity_field(minimum: int = 1, **kwargs: Any) -> fields.Integer:
    """A strict whole quantity; the configured maximum is enforced by the services."""
    return fields.Integer(
        strict=True, validate=validate.Range(min=minimum, max=QUANTITY_CEILING), **kwargs
    )


class CartLineSchema(Schema):
    """One cart line at today's price."""

    sku_id = fields.Integer()
    product_id = fields.Integer()
    title = fields.String()
    sku_name = fields.String()
    unit_price_fen = fields.Integer()
    quantity = fields.Integer()
    amount_fen = fields.Integer()
    available = fields.Boolean(metadata={"description": "on sale with enough stock right now"})


class CartSchema(Schema):
    """The whole cart."""

    lines = fields.Nested(CartLineSchema, many=True)
    total_fen = fields.Integer(
        metadata={"description": "what checkout would charge now: available lines only"}
    )


class CartAddSchema(Schema):
    """Add some of a SKU to the cart."""

    sku_id = id_field(required=True)
    quantity = quantity_field(required=True)


class CartQuantitySchema(Schema):
    """Set a cart line's quantity; 0 removes the line."""

    quantity = quantity_field(0, required=True)


class AddressInputSchema(Schema):
    """A shipping address typed by the buyer (checked in full by the domain rules)."""

    recipient = text_field(1, 32, required=True)
    phone = text_field(1, 20, required=True)
    region = text_field(0, 64, load_default="")
    detail = text_field(1, 200, required=True)


class AddressCreateSchema(AddressInputSchema):
    """A new saved address."""

    is_default = fields.Boolean(load_default=False)


class AddressSchema(Schema):
    """A saved address."""

    id = fields.Integer()
    recipient = fields.String()
    phone = fields.String()
    region = fields.String()
    detail = fields.String()
    is_default = fields.Boolean()
    created_at = fields.DateTime()


class CheckoutItemSchema(Schema):
    """One SKU to order. A price sent by the client is accepted and ignored."""

    sku_id = id_field(required=True)
    quantity = quantity_field(required=True)
    # Clients (and old app versions) echo prices back; the order always uses the
    # database price, so these are read and thrown away, never trusted.
    price_fen = fields.Raw(load_only=True, metadata={"description": "ignored"})
    unit_price_fen = fields.Raw(load_only=True, metadata={"description": "ignored"})


class CheckoutSchema(Schema):
    """Place an order for ``items`` (or, without items, the whole cart)."""

    items = fields.List(
        fields.Nested(CheckoutItemSchema),
        validate=validate.Length(1, 100),
        metadata={"description": "omit to order the whole cart"},
    )
    address_id = id_field()
    address = fields.Nested(AddressInputSchema)
    note = text_field(0, 200, load_default="")

    @validates_schema
    def _one_address(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("address_id" in data) == ("address" in data):
            raise ValidationError("give exactly one of address_id or address", "address")


class BuyerOrderQuerySchema(Schema):
    """Filter of the buyer's order list."""

    status = fields.String(validate=validate.OneOf([str(s) for s in OrderStatus]))

