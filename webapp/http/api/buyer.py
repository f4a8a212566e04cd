"""Buyer API: cart, saved addresses, checkout and the caller's own orders.

Any authenticated user is a buyer here. Orders are always looked up as the
caller's own (even for operators and suppliers), so ids of other people's
orders are a 404.
"""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from core.actors import Actor
from core.models import Order
from shop import addresses, cart, checkout, orders
from webapp.clients import app_settings
from webapp.extensions import db
from webapp.http.api.auth import current_actor, protected
from webapp.http.api.common import ChatShopBlueprint, paginate
from webapp.http.api.schemas.buyer import (
    AddressCreateSchema,
    AddressSchema,
    BuyerOrderQuerySchema,
    CartAddSchema,
    CartQuantitySchema,
    CartSchema,
    CheckoutSchema,
)
from webapp.http.api.schemas.orders import BuyerOrderSchema

blp = ChatShopBlueprint(
    "buyer", __name__, url_prefix="/api/v1", description="Buyers: cart, addresses, orders"
)


def _buyer() -> Actor:
    """The caller acting only as a buyer: their other roles give no extra reach here."""
    return Actor(current_actor().user_id)


def _cart() -> dict[str, Any]:
    lines = cart.view_cart(db.session, current_actor().user_id)
    return {"lines": lines, "total_fen": cart.orderable_total_fen(lines)}


@blp.route("/cart")
class Cart(MethodView):
    """The caller's cart."""

    @protected(blp)
    @blp.response(200, CartSchema)
    def get(self) -> Any:
        """The cart at today's prices."""
        return _cart()

    @protected(blp)
    @blp.response(204)
    def delete(self) -> None:
        """Empty the cart."""
        cart.clear_cart(db.session, current_actor().user_id)


@blp.route("/cart/items")
class CartItems(MethodView):
    """Lines of the caller's cart."""

    @protected(blp)
    @blp.arguments(CartAddSchema)
    @blp.response(201, CartSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, data: dict[str, Any]) -> Any:
        """Add some of a SKU (added to what is already in the cart)."""
        cart.add_to_cart(db.session, app_settings(), current_actor().user_id, data["sku_id"],
                         data["quantity"])
        return _cart()


@blp.route("/cart/items/<id:sku_id>")
class CartItem(MethodView):
    """One line of the caller's cart."""

    @protected(blp)
    @blp.arguments(CartQuantitySchema)
    @blp.response(200, CartSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def put(self, data: dict[str, Any], sku_id: int) -> Any:
        """Set the quantity of a line; 0 removes it."""
        cart.set_cart_quantity(db.session, app_settings(), current_actor().user_id, sku_id,
                               data["quantity"])
        return _cart()


@blp.route("/addresses")
class Addresses(MethodView):
    """The caller's saved shipping addresses."""

    @protected(blp)
    @blp.response(200, AddressSchema(many=True))
    def get(self) -> Any:
        """Saved addresses, the default first."""
        return addresses.list_addresses(db.session, current_actor().user_id)

    @protected(blp)
    @blp.arguments(AddressCreateSchema)
    @blp.response(201, AddressSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Save an address (checked: recipient, phone, street)."""
        return addresses.add_address(db.session, current_actor().user_id, **data)


@blp.route("/addresses/<id:address_id>")
class AddressDetail(MethodView):
    """One saved address."""

    @protected(blp)
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, address_id: int) -> None:
        """Delete a saved address."""
        addresses.delete_address(db.session, current_actor().user_id, address_id)


@blp.route("/addresses/<id:address_id>/default")
class DefaultAddress(MethodView):
    """Which saved address is used first."""

    @protected(blp)
    @blp.response(200, AddressSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def put(self, address_id: int) -> Any:
        """Make this address the default."""
        return addresses.set_default_address(db.session, current_actor().user_id, address_id)


@blp.route("/orders")
class Orders(MethodView):
    """The caller's orders."""

    @protected(blp)
    @blp.arguments(BuyerOrderQuerySchema, location="query")
    @blp.response(200, BuyerOrderSchema(many=True))
    @blp.paginate()
    def get(self, args: dict[str, Any], pagination_parameters: PaginationParameters) -> Any:
        """The caller's orders, newest first."""
        stmt = orders.visible_orders_query(_buyer())
        if "status" in args:
            stmt = stmt.where(Order.status == args["status"])
        return paginate(stmt, pagination_parameters)

    @protected(blp)
    @blp.arguments(CheckoutSchema)
    @blp.response(201, BuyerOrderSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data: dict[str, Any]) -> Any:
        """Place an order for ``items`` or the whole cart; stock is reserved until payment.

        Prices come from the catalogue: a price sent with an item is ignored.
        """
        buyer_id = current_actor().user_id
        shipping = checkout.resolve_address(
            db.session, buyer_id, data.get("address_id"), data.get("address")
        )
        items = data.get("items")
        pairs = None if items is None else [(i["sku_id"], i["quantity"]) for i in items]
        return checkout.checkout(db.session, app_settings(), buyer_id, pairs, shipping,
                                 note=data["note"])


@blp.route("/orders/<id:order_id>")
class OrderDetail(MethodView):
    """One of the caller's orders."""

    @protected(blp)
    @blp.response(200, BuyerOrderSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, order_id: int) -> Any:
        """The order with its lines and shipments."""
        return orders.get_visible_order(db.session, _buyer(), order_id)


@blp.route("/orders/<id:order_id>/cancel")
class OrderCancel(MethodView):
    """Cancelling an unpaid order."""

    @protected(blp)
    @blp.response(200, BuyerOrderSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, order_id: int) -> Any:
        """Cancel an unpaid order; its stock is released."""
        return orders.cancel_order(db.session, _buyer(), order_id, reason="buyer")


@blp.route("/orders/<id:order_id>/confirm-receipt")
class OrderReceipt(MethodView):
    """Confirming the goods arrived."""

    @protected(blp)
    @blp.response(200, BuyerOrderSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, order_id: int) -> Any:
        """Confirm receipt of a shipped order: it becomes completed."""
        return orders.confirm_receipt(db.session, _buyer(), order_id)

