"""The public catalogue: categories, product list with filters and pages, product detail."""
from __future__ import annotations

import json

from core.models import ProductStatus, Sku
from tests.support.factories import make_category, make_product, make_supplier
from webapp.extensions import db


def test_categories_in_display_order(http):
    make_category("B")
    a = make_category("A")
    a.sort_order = -1
    db.session.commit()
    response = http.get("/api/v1/categories")
    assert response.status_code == 200
    assert [c["name"] for c in response.get_json()] == ["A", "B"]


def test_products_list_only_what_is_on_sale(http):
    shelf = make_category()
    on_sale, _ = make_product(category=shelf, title="Green tea")
    make_product(category=shelf, title="Draft tea", status=ProductStatus.DRAFT)
    gone = make_supplier()
    gone.active = False
    db.session.commit()
    make_product(supplier=gone, category=shelf, title="Tea of a closed supplier")
    response = http.get("/api/v1/products")
    assert response.status_code == 200
    assert [p["title"] for p in response.get_json()] == ["Green tea"]
    assert json.loads(response.headers["X-Pagination"])["total"] == 1


def test_products_filter_by_category_and_words(http):
    tea, fruit = make_category(), make_category()
    make_product(category=tea, title="Oolong 乌龙茶")
    make_product(category=tea, title="Puer")
    make_product(category=fruit, title="Mango")
    by_category = http.get(f"/api/v1/products?category_id={tea.id}").get_json()
    assert sorted(p["title"] for p in by_category) == ["Oolong 乌龙茶", "Puer"]
    by_words = http.get("/api/v1/products", query_string={"q": "乌龙"}).get_json()
    assert [p["title"] for p in by_words] == ["Oolong 乌龙茶"]
    # LIKE wildcards typed by a buyer are literal characters.
    assert http.get("/api/v1/products?q=%25").get_json() == []


def test_products_are_paginated(http):
    shelf = make_category()
    for n in range(5):
        make_product(category=shelf, title=f"Item {n}")
    response = http.get("/api/v1/products?page=2&page_size=2")
    assert [p["title"] for p in response.get_json()] == ["Item 2", "Item 3"]
    meta = json.loads(response.headers["X-Pagination"])
    assert meta["total"] == 5 and meta["total_pages"] == 3 and meta["page"] == 2


def test_bad_list_filters_are_422(http):
    assert http.get("/api/v1/products?category_id=abc").status_code == 422
    assert http.get("/api/v1/products?page_size=100000").status_code == 422
    assert http.get("/api/v1/products?page=0").status_code == 422


def test_product_detail_shows_price_and_stock_never_supply_price(http):
    product, sku = make_product(price_fen=1990, supply_price_fen=1200, stock=7)
    hidden = Sku(product_id=product.id, code="OFF-1", price_fen=500, supply_price_fen=100)
    hidden.active = False
    db.session.add(hidden)
    db.session.commit()
    response = http.get(f"/api/v1/products/{product.id}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["skus"] == [
        {"id": sku.id, "code": sku.code, "name": "standard", "price_fen": 1990, "stock": 7}
    ]
    assert "supply_price_fen" not in response.get_data(as_text=True)
    assert "supplier_id" not in body


def test_product_not_on_sale_is_404(http):
    draft, _ = make_product(status=ProductStatus.DRAFT)
    response = http.get(f"/api/v1/products/{draft.id}")
    assert response.status_code == 404
    assert response.get_json()["status"] == "not_found"
    assert http.get("/api/v1/products/999999").status_code == 404
