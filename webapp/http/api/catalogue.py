"""The public catalogue: categories and products on sale (no token needed)."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from shop import catalogue
from webapp.extensions import db
from webapp.http.api.common import ChatShopBlueprint, paginate
from webapp.http.api.schemas.catalogue import (
    CategorySchema,
    ProductQuerySchema,
    PublicProductSchema,
)

blp = ChatShopBlueprint(
    "catalogue", __name__, url_prefix="/api/v1", description="The shop's public catalogue"
)


@blp.route("/categories")
class Categories(MethodView):
    """The shop's categories."""

    @blp.response(200, CategorySchema(many=True))
    def get(self) -> Any:
        """List categories in display order."""
        return catalogue.list_categories(db.session)


@blp.route("/products")
class Products(MethodView):
    """Products on sale."""

    @blp.arguments(ProductQuerySchema, location="query")
    @blp.response(200, PublicProductSchema(many=True))
    @blp.paginate()
    def get(self, args: dict[str, Any], pagination_parameters: PaginationParameters) -> Any:
        """List products on sale, optionally in one category or matching words."""
        stmt = catalogue.public_products_query(args.get("category_id"), args.get("q"))
        return paginate(stmt, pagination_parameters)


@blp.route("/products/<id:product_id>")
class ProductDetail(MethodView):
    """One product on sale."""

    @blp.response(200, PublicProductSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, product_id: int) -> Any:
        """A product with its SKUs (price and stock)."""
        return catalogue.get_public_product(db.session, product_id)
