"""Operator schemas: suppliers, categories, users and roles, the order list filter."""
from __future__ import annotations

from datetime import UTC
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from core.bounds import MAX_SORT_ORDER
from core.models import OrderStatus, Role
from webapp.http.api.schemas.common import id_field, query_id_field, text_field


class SupplierSchema(Schema):
    """A supplier company."""

    id = fields.Integer()
    name = fields.String()
    contact = fields.String()
    active = fields.Boolean()
    created_at = fields.DateTime()


class SupplierCreateSchema(Schema):
    """A new supplier."""

    name = text_field(1, 100, required=True)
    contact = text_field(0, 100, load_default="")


class CategoryCreateSchema(Schema):
    """A new category."""

    name = text_field(1, 50, required=True)
    parent_id = id_field(load_default=None, allow_none=True)
    sort_order = fields.Integer(
        strict=True, validate=validate.Range(-MAX_SORT_ORDER, MAX_SORT_ORDER), load_default=0
    )


class UserSchema(Schema):
    """A user with their roles."""

    id = fields.Integer()
    nickname = fields.String()
    openid = fields.String(allow_none=True)
    supplier_id = fields.Integer(allow_none=True)
    roles = fields.List(fields.String(), attribute="role_names")
    subscribed = fields.Boolean()
    created_at = fields.DateTime()


class UserQuerySchema(Schema):
    """Filter of the user list."""

    role = fields.String(validate=validate.OneOf([str(r) for r in Role]))


class RoleGrantSchema(Schema):
    """Extra facts a grant needs: the supplier of new supplier staff."""

    supplier_id = id_field()


class OperatorOrderQuerySchema(Schema):
    """Filters of the operator's order list; dates without a zone are UTC."""

    status = fields.String(validate=validate.OneOf([str(s) for s in OrderStatus]))
    buyer_id = query_id_field()
    supplier_id = query_id_field()
    created_from = fields.AwareDateTime(default_timezone=UTC)
    created_to = fields.AwareDateTime(default_timezone=UTC)

    @validates_schema
    def _ordered_range(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, end = data.get("created_from"), data.get("created_to")
        if start is not None and end is not None and start >= end:
            raise ValidationError("must be after created_from", "created_to")
