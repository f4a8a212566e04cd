"""Catalogue schemas: the public view (no supply prices) and the supplier's view."""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from core.bounds import MAX_ID, MAX_STOCK
from core.models import ProductStatus
from webapp.http.api.schemas.common import fen_field, id_field, query_id_field, text_field

STATUSES = [str(s) for s in ProductStatus]


class CategorySchema(Schema):
    """A shelf of the shop."""

    id = fields.Integer(dump_only=True)
    name = fields.String(dump_only=True)
    parent_id = fields.Integer(dump_only=True, allow_none=True)
    sort_order = fields.Integer(dump_only=True)


class PublicSkuSchema(Schema):
    """A SKU as buyers see it: price and stock, never the supply price."""

    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    price_fen = fields.Integer()
    stock = fields.Integer()


class _ActiveOnly(fields.Nested):
    """Nested list that leaves out inactive SKUs (buyers cannot order them)."""

    # Same signature as marshmallow's Nested, which itself renames Field's argument.
    def _serialize(  # type: ignore[override]
        self, nested_obj: Any, attr: Any, obj: Any, **kwargs: Any
    ) -> Any:
        if nested_obj is not None:
            nested_obj = [item for item in nested_obj if item.active]
        return super()._serialize(nested_obj, attr, obj, **kwargs)


class PublicProductSchema(Schema):
    """A product on sale, with its SKUs."""

    id = fields.Integer()
    category_id = fields.Integer()
    title = fields.String()
    description = fields.String()
    image_url = fields.String()
    skus = _ActiveOnly(PublicSkuSchema, many=True)


class ProductQuerySchema(Schema):
    """Filters of the public product list."""

    category_id = query_id_field()
    q = text_field(1, 50, metadata={"description": "words in the title or description"})


class ManagedSkuSchema(Schema):
    """A SKU as its supplier (or an operator) sees it."""

    id = fields.Integer()
    product_id = fields.Integer()
    code = fields.String()
    name = fields.String()
    price_fen = fields.Integer()
    supply_price_fen = fields.Integer()
    stock = fields.Integer()
    version = fields.Integer(metadata={"description": "send as expected_version to set stock"})
    active = fields.Boolean()


class ManagedProductSchema(Schema):
    """A product as its supplier (or an operator) sees it."""

    id = fields.Integer()
    supplier_id = fields.Integer()
    category_id = fields.Integer()
    title = fields.String()
    description = fields.String()
    image_url = fields.String()
    status = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    skus = fields.Nested(ManagedSkuSchema, many=True)


def _check_supply_within_price(data: dict[str, Any]) -> None:
    price, supply = data.get("price_fen"), data.get("supply_price_fen")
    if price is not None and supply is not None and supply > price:
        raise ValidationError("must not exceed price_fen", "supply_price_fen")


class SkuDraftSchema(Schema):
    """A new SKU: prices in integer fen, supply price at most the price."""

    code = text_field(1, 64, required=True)
    name = text_field(0, 64, load_default="")
    price_fen = fen_field(1, required=True)
    supply_price_fen = fen_field(0, required=True)
    stock = fields.Integer(strict=True, validate=validate.Range(0, MAX_STOCK), load_default=0)

    @validates_schema
    def _supply_within_price(self, data: dict[str, Any], **kwargs: Any) -> None:
        _check_supply_within_price(data)


class ProductCreateSchema(Schema):
    """A new product with at least one SKU."""

    title = text_field(1, 120, required=True)
    category_id = id_field(required=True)
    description = text_field(0, 5000, load_default="")
    image_url = text_field(0, 512, load_default="")
    status = fields.String(validate=validate.OneOf(STATUSES), load_default=ProductStatus.DRAFT)
    supplier_id = id_field(metadata={"description": "operators only: whose product this is"})
    skus = fields.List(
        fields.Nested(SkuDraftSchema), required=True, validate=validate.Length(1, 50)
    )


class ProductUpdateSchema(Schema):
    """Changes to a product; send only what changes."""

    title = text_field(1, 120)
    category_id = id_field()
    description = text_field(0, 5000)
    image_url = text_field(0, 512)
    status = fields.String(validate=validate.OneOf(STATUSES))

    @validates_schema
    def _not_empty(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ValidationError("nothing to change")


class SkuUpdateSchema(Schema):
    """Changes to a SKU: name, prices, whether it is on sale."""

    name = text_field(0, 64)
    price_fen = fen_field(1)
    supply_price_fen = fen_field(0)
    active = fields.Boolean()

    @validates_schema
    def _valid_change(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ValidationError("nothing to change")
        _check_supply_within_price(data)


class StockDeltaSchema(Schema):
    """Add (positive) or remove (negative) stock."""

    delta = fields.Integer(
        strict=True,
        required=True,
        validate=[
            validate.Range(-MAX_STOCK, MAX_STOCK),
            validate.NoneOf([0], error="delta must not be zero"),
        ],
    )


class StockSetSchema(Schema):
    """Set stock to a counted figure, optionally only if the SKU is unchanged since read."""

    stock = fields.Integer(strict=True, required=True, validate=validate.Range(0, MAX_STOCK))
    expected_version = fields.Integer(strict=True, validate=validate.Range(1, MAX_ID))


class ManagedProductQuerySchema(Schema):
    """Filters of the supplier's product list."""

    status = fields.String(validate=validate.OneOf(STATUSES))
