"""Bearer-token authentication, role checks, the error shape and the OpenAPI document."""
from __future__ import annotations

import logging

import pytest

from core.models import Role
from shop.auth import revoke_token
from tests.support.api import assert_refused, bearer
from tests.support.db import db_snapshot
from tests.support.factories import make_user
from webapp.extensions import db


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer cs_not-a-real-token",
        "Bearer not-even-prefixed",
        "Bearer cs_" + "x" * 500,
    ],
)
def test_missing_or_invalid_token_is_401_with_challenge(client, header):
    before = db_snapshot()
    headers = {"Authorization": header} if header is not None else {}
    response = client.get("/api/v1/cart", headers=headers)
    body = assert_refused(response, 401, before)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert body["message"]


def test_revoked_token_is_401(client):
    user = make_user()
    headers = bearer(user)
    assert client.get("/api/v1/cart", headers=headers).status_code == 200
    revoke_token(db.session, headers["Authorization"].removeprefix("Bearer "))
    assert client.get("/api/v1/cart", headers=headers).status_code == 401


def test_lowercase_scheme_is_accepted(client):
    user = make_user()
    token = bearer(user)["Authorization"].removeprefix("Bearer ")
    response = client.get("/api/v1/cart", headers={"Authorization": "bearer " + token})
    assert response.status_code == 200


def test_each_request_is_its_own_caller(client):
    buyer = make_user()
    operator = make_user(Role.OPERATOR)
    assert client.get("/api/v1/operator/users", headers=bearer(operator)).status_code == 200
    # Same app context, different token: the first caller must not be remembered.
    assert client.get("/api/v1/operator/users", headers=bearer(buyer)).status_code == 403
    assert client.get("/api/v1/operator/users").status_code == 401


def test_wrong_role_is_403_and_logged(client, caplog):
    headers = bearer(make_user())
    before = db_snapshot()
    with caplog.at_level(logging.INFO):
        response = client.get("/api/v1/supplier/products", headers=headers)
    body = assert_refused(response, 403, before)
    assert "supplier" in body["message"]
    assert any("refused" in r.getMessage() for r in caplog.records)


def test_role_is_checked_before_the_body_is_read(client):
    buyer = make_user()
    response = client.post(
        "/api/v1/operator/suppliers", data="{not json", content_type="application/json",
        headers=bearer(buyer),
    )
    assert response.status_code == 403
    assert client.post("/api/v1/operator/suppliers", data="{not json",
                       content_type="application/json").status_code == 401


def test_openapi_document_lists_paths_and_bearer_scheme(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "cs_<opaque token>",
        "description": "API token issued to a user: `Authorization: Bearer cs_...`",
    }
    paths = spec["paths"]
    expected = {
        "/api/v1/categories": {"get"},
        "/api/v1/products": {"get"},
        "/api/v1/products/{product_id}": {"get"},
        "/api/v1/cart": {"get", "delete"},
        "/api/v1/cart/items": {"post"},
        "/api/v1/cart/items/{sku_id}": {"put"},
        "/api/v1/addresses": {"get", "post"},
        "/api/v1/addresses/{address_id}": {"delete"},
        "/api/v1/addresses/{address_id}/default": {"put"},
        "/api/v1/orders": {"get", "post"},
        "/api/v1/orders/{order_id}": {"get"},
        "/api/v1/orders/{order_id}/cancel": {"post"},
        "/api/v1/orders/{order_id}/confirm-receipt": {"post"},
        "/api/v1/supplier/products": {"get", "post"},
        "/api/v1/supplier/products/{product_id}": {"get", "patch"},
        "/api/v1/supplier/products/{product_id}/skus": {"post"},
        "/api/v1/supplier/skus/{sku_id}": {"patch"},
        "/api/v1/supplier/skus/{sku_id}/stock-adjustments": {"post"},
        "/api/v1/supplier/skus/{sku_id}/stock": {"put"},
        "/api/v1/supplier/orders": {"get"},
        "/api/v1/supplier/orders/{order_id}": {"get"},
        "/api/v1/supplier/orders/{order_id}/shipment": {"post"},
        "/api/v1/operator/orders": {"get"},
        "/api/v1/operator/orders/{order_id}": {"get"},
        "/api/v1/operator/orders/{order_id}/cancel": {"post"},
        "/api/v1/operator/suppliers": {"get", "post"},
        "/api/v1/operator/suppliers/{supplier_id}/deactivate": {"post"},
        "/api/v1/operator/suppliers/{supplier_id}/activate": {"post"},
        "/api/v1/operator/categories": {"post"},
        "/api/v1/operator/users": {"get"},
        "/api/v1/operator/users/{user_id}/roles/{role}": {"put", "delete"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), path
    public = {"/api/v1/categories", "/api/v1/products", "/api/v1/products/{product_id}"}
    for path, methods in expected.items():
        for method in methods:
            operation = paths[path][method]
            if path in public:
                assert "security" not in operation, (method, path)
            else:
                assert operation["security"] == [{"bearerAuth": []}], (method, path)
                assert "401" in operation["responses"], (method, path)


def test_money_fields_are_documented_as_integers(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    draft = schemas["SkuDraft"]["properties"]
    assert draft["price_fen"]["type"] == "integer"
    assert draft["supply_price_fen"]["type"] == "integer"
    assert "supply_price_fen" not in schemas["PublicSku"]["properties"]


def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["code"] == 404


def test_id_beyond_the_column_is_404_not_500(any_app):
    http = any_app.test_client()
    assert http.get(f"/api/v1/products/{10**20}").status_code == 404
    assert http.get("/api/v1/products/0").status_code == 404
