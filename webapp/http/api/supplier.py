"""Supplier console API: own products, SKUs, stock, and orders to ship.

Operators may use the product endpoints for any supplier. Another supplier's
product or order is a 404, so ids of other companies' goods reveal nothing.
"""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from core.errors import NotFound
from core.models import Order, Product, Role
from shop import catalogue, orders
from shop.catalogue import SkuDraft
from webapp.extensions import db
from webapp.http.api.auth import current_actor, protected
from webapp.http.api.common import ChatShopBlueprint, paginate
from webapp.http.api.schemas.buyer import BuyerOrderQuerySchema
from webapp.http.api.schemas.catalogue import (
    ManagedProductQuerySchema,
    ManagedProductSchema,
    ManagedSkuSchema,
    ProductCreateSchema,
    ProductUpdateSchema,
    SkuDraftSchema,
    SkuUpdateSchema,
    StockDeltaSchema,
    StockSetSchema,
)
from webapp.http.api.schemas.orders import (
    ShipmentInputSchema,
    SupplierOrderSchema,
    supplier_order_view,
)

blp = ChatShopBlueprint(
    "supplier",
    __name__,
    url_prefix="/api/v1/supplier",
    description="Suppliers: products, SKUs, stock and shipping (operators see all products)",
)

STAFF = (Role.SUPPLIER, Role.OPERATOR)


@blp.route("/products")
class ManagedProducts(MethodView):
    """The caller's products (an operator's: everyone's)."""

    @protected(blp, *STAFF)
    @blp.arguments(ManagedProductQuerySchema, location="query")
    @blp.response(200, ManagedProductSchema(many=True))
    @blp.paginate()
    def get(self, args: dict[str, Any], pagination_parameters: PaginationParameters) -> Any:
        """List the products the caller manages."""
        stmt = catalogue.managed_products_query(current_actor())
        if "status" in args:
            stmt = stmt.where(Product.status == args["status"])
        return paginate(stmt, pagination_parameters)

    @protected(blp, *STAFF)
    @blp.arguments(ProductCreateSchema)
    @blp.response(201, ManagedProductSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """List a new product with its SKUs (prices in fen)."""
        drafts = [SkuDraft(**sku) for sku in data.pop("skus")]
        return catalogue.create_product(db.session, current_actor(), skus=drafts, **data)


@blp.route("/products/<id:product_id>")
class ManagedProduct(MethodView):
    """One of the caller's products."""

    @protected(blp, *STAFF)
    @blp.response(200, ManagedProductSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, product_id: int) -> Any:
        """A product with its SKUs, supply prices and stock versions."""
        return catalogue.get_managed_product(db.session, current_actor(), product_id)

    @protected(blp, *STAFF)
    @blp.arguments(ProductUpdateSchema)
    @blp.response(200, ManagedProductSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def patch(self, data: dict[str, Any], product_id: int) -> Any:
        """Change title, description, image, category or status."""
        return catalogue.update_product(db.session, current_actor(), product_id, **data)


@blp.route("/products/<id:product_id>/skus")
class ManagedSkus(MethodView):
    """The SKUs of one of the caller's products."""

    @protected(blp, *STAFF)
    @blp.arguments(SkuDraftSchema)
    @blp.response(201, ManagedSkuSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, data: dict[str, Any], product_id: int) -> Any:
        """Add a SKU (prices in fen, supply price at most the price)."""
        return catalogue.add_sku(db.session, current_actor(), product_id, SkuDraft(**data))


@blp.route("/skus/<id:sku_id>")
class ManagedSku(MethodView):
    """One SKU of the caller's products."""

    @protected(blp, *STAFF)
    @blp.arguments(SkuUpdateSchema)
    @blp.response(200, ManagedSkuSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def patch(self, data: dict[str, Any], sku_id: int) -> Any:
        """Rename, reprice or (de)activate a SKU; placed orders keep their prices."""
        return catalogue.update_sku(db.session, current_actor(), sku_id, **data)


@blp.route("/skus/<id:sku_id>/stock-adjustments")
class StockAdjustments(MethodView):
    """Relative stock changes."""

    @protected(blp, *STAFF)
    @blp.arguments(StockDeltaSchema)
    @blp.response(200, ManagedSkuSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data: dict[str, Any], sku_id: int) -> Any:
        """Add or remove stock atomically; stock never goes below zero (409)."""
        return catalogue.adjust_stock(db.session, current_actor(), sku_id, delta=data["delta"])


@blp.route("/skus/<id:sku_id>/stock")
class StockLevel(MethodView):
    """The absolute stock of a SKU."""

    @protected(blp, *STAFF)
    @blp.arguments(StockSetSchema)
    @blp.response(200, ManagedSkuSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def put(self, data: dict[str, Any], sku_id: int) -> Any:
        """Set stock to a counted figure; a stale expected_version is a 409."""
        return catalogue.adjust_stock(
            db.session,
            current_actor(),
            sku_id,
            stock=data["stock"],
            expected_version=data.get("expected_version"),
        )


def _supplier_orders(status: str | None) -> Any:
    """Orders with the caller's goods that have been paid (unpaid ones are not theirs yet)."""
    actor = current_actor()
    stmt = orders.visible_orders_query(actor).where(Order.paid_at.is_not(None))
    if status is not None:
        stmt = stmt.where(Order.status == status)
    return stmt


def _supplier_id() -> int | None:
    actor = current_actor()
    return None if actor.is_operator() else actor.supplier_id


@blp.route("/orders")
class SupplierOrders(MethodView):
    """Orders with the caller's goods."""

    @protected(blp, Role.SUPPLIER)
    @blp.arguments(BuyerOrderQuerySchema, location="query")
    @blp.response(200, SupplierOrderSchema(many=True))
    @blp.paginate()
    def get(self, args: dict[str, Any], pagination_parameters: PaginationParameters) -> Any:
        """Paid (and later) orders containing the caller's goods, newest first."""
        current_actor().require_supplier()
        page = paginate(_supplier_orders(args.get("status")), pagination_parameters)
        return [supplier_order_view(order, _supplier_id()) for order in page]


@blp.route("/orders/<id:order_id>")
class SupplierOrder(MethodView):
    """One order with the caller's goods."""

    @protected(blp, Role.SUPPLIER)
    @blp.response(200, SupplierOrderSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, order_id: int) -> Any:
        """The order's shipping details and the caller's lines."""
        current_actor().require_supplier()
        order = db.session.scalars(
            _supplier_orders(None).where(Order.id == order_id)
        ).first()
        if order is None:
            raise NotFound("order not found")
        return supplier_order_view(order, _supplier_id())


@blp.route("/orders/<id:order_id>/shipment")
class SupplierShipment(MethodView):
    """The caller's shipment of an order."""

    @protected(blp, Role.SUPPLIER)
    @blp.arguments(ShipmentInputSchema)
    @blp.response(201, SupplierOrderSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data: dict[str, Any], order_id: int) -> Any:
        """Record that the caller shipped its lines; the order ships when every supplier has."""
        order = orders.ship_order(
            db.session, current_actor(), order_id, data["carrier"], data["tracking_number"]
        )
        return supplier_order_view(order, _supplier_id())
