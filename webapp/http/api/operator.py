"""Operator API: every order, suppliers, categories, users and their roles."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from core.models import Role
from shop import administration, orders
from shop.administration import GRANTABLE_ROLES, OrderFilter
from webapp.extensions import db
from webapp.http.api.auth import current_actor, protected
from webapp.http.api.common import ChatShopBlueprint, paginate
from webapp.http.api.schemas.catalogue import CategorySchema
from webapp.http.api.schemas.operator import (
    CategoryCreateSchema,
    OperatorOrderQuerySchema,
    RoleGrantSchema,
    SupplierCreateSchema,
    SupplierSchema,
    UserQuerySchema,
    UserSchema,
)
from webapp.http.api.schemas.orders import OperatorOrderSchema, OrderDossierSchema

blp = ChatShopBlueprint(
    "operator",
    __name__,
    url_prefix="/api/v1/operator",
    description="Operators: order oversight, suppliers, categories, users and roles",
)

_ROLE_PATH = "<any(" + ", ".join(str(r) for r in GRANTABLE_ROLES) + "):role>"


@blp.route("/orders")
class AllOrders(MethodView):
    """Every order on the platform."""

    @protected(blp, Role.OPERATOR)
    @blp.arguments(OperatorOrderQuerySchema, location="query")
    @blp.response(200, OperatorOrderSchema(many=True))
    @blp.paginate()
    def get(self, args: dict[str, Any], pagination_parameters: PaginationParameters) -> Any:
        """Orders filtered by status, buyer, supplier and creation time, newest first."""
        stmt = administration.operator_orders_query(current_actor(), OrderFilter(**args))
        return paginate(stmt, pagination_parameters)


@blp.route("/orders/<id:order_id>")
class OrderDossier(MethodView):
    """One order with its money trail."""

    @protected(blp, Role.OPERATOR)
    @blp.response(200, OrderDossierSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, order_id: int) -> Any:
        """The order, its payments and its refunds."""
        return administration.order_dossier(db.session, current_actor(), order_id)


@blp.route("/orders/<id:order_id>/cancel")
class OrderCancel(MethodView):
    """Cancelling any unpaid order."""

    @protected(blp, Role.OPERATOR)
    @blp.response(200, OperatorOrderSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, order_id: int) -> Any:
        """Cancel an unpaid order on the buyer's behalf; its stock is released."""
        return orders.cancel_order(db.session, current_actor(), order_id, reason="operator")


@blp.route("/suppliers")
class Suppliers(MethodView):
    """Supplier companies."""

    @protected(blp, Role.OPERATOR)
    @blp.response(200, SupplierSchema(many=True))
    def get(self) -> Any:
        """Every supplier."""
        return administration.list_suppliers(db.session, current_actor())

    @protected(blp, Role.OPERATOR)
    @blp.arguments(SupplierCreateSchema)
    @blp.response(201, SupplierSchema)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data: dict[str, Any]) -> Any:
        """Register a supplier."""
        return administration.create_supplier(db.session, current_actor(), **data)


@blp.route("/suppliers/<id:supplier_id>/deactivate")
class SupplierDeactivation(MethodView):
    """Taking a supplier off the shop."""

    @protected(blp, Role.OPERATOR)
    @blp.response(200, SupplierSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, supplier_id: int) -> Any:
        """Deactivate a supplier: its products can no longer be seen or bought."""
        return administration.set_supplier_active(db.session, current_actor(), supplier_id, False)


@blp.route("/suppliers/<id:supplier_id>/activate")
class SupplierActivation(MethodView):
    """Putting a supplier back on the shop."""

    @protected(blp, Role.OPERATOR)
    @blp.response(200, SupplierSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, supplier_id: int) -> Any:
        """Reactivate a supplier."""
        return administration.set_supplier_active(db.session, current_actor(), supplier_id, True)


@blp.route("/categories")
class Categories(MethodView):
    """Creating categories (listing is public: GET /api/v1/categories)."""

    @protected(blp, Role.OPERATOR)
    @blp.arguments(CategoryCreateSchema)
    @blp.response(201, CategorySchema)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data: dict[str, Any]) -> Any:
        """Add a category, optionally under a parent."""
        return administration.create_category(db.session, current_actor(), **data)


@blp.route("/users")
class Users(MethodView):
    """Platform users."""

    @protected(blp, Role.OPERATOR)
    @blp.arguments(UserQuerySchema, location="query")
    @blp.response(200, UserSchema(many=True))
    @blp.paginate()
    def get(self, args: dict[str, Any], pagination_parameters: PaginationParameters) -> Any:
        """Users with their roles, optionally only those holding one role."""
        stmt = administration.users_query(current_actor(), args.get("role"))
        return paginate(stmt, pagination_parameters)


@blp.route(f"/users/<id:user_id>/roles/{_ROLE_PATH}")
class UserRole(MethodView):
    """One role of one user (operator or supplier)."""

    @protected(blp, Role.OPERATOR)
    @blp.arguments(RoleGrantSchema)
    @blp.response(200, UserSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def put(self, data: dict[str, Any], user_id: int, role: str) -> Any:
        """Grant the role (supplier staff need supplier_id); audited."""
        return administration.grant_user_role(
            db.session, current_actor(), user_id, role, supplier_id=data.get("supplier_id")
        )

    @protected(blp, Role.OPERATOR)
    @blp.response(200, UserSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def delete(self, user_id: int, role: str) -> Any:
        """Revoke the role; audited. Operators cannot revoke their own operator role."""
        return administration.revoke_user_role(db.session, current_actor(), user_id, role)
