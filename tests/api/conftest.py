"""Helpers for REST API tests: an authenticated client and a whole-database snapshot."""
from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.clock import utcnow
from core.models import Address, User
from tests.support.factories import auth_header
from webapp.extensions import db

GOOD_ADDRESS = {
    "recipient": "张三",
    "phone": "13800138000",
    "region": "上海市 浦东新区",
    "detail": "世纪大道 100 号",
}


def bearer(user: User) -> dict[str, str]:
    """A fresh token for ``user`` as request headers."""
    return auth_header(user)


def db_snapshot() -> dict[str, list[str]]:
    """Every row of every table, read straight from the database (not the identity map)."""
    snapshot = {
        table.name: sorted(repr(tuple(row)) for row in db.session.execute(select(table)))
        for table in db.metadata.sorted_tables
    }
    db.session.commit()
    return snapshot


def assert_refused(response: Any, status: int, before: dict[str, list[str]]) -> dict[str, Any]:
    """The response is an error of ``status`` in the API's JSON shape, and nothing changed."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == status
    assert isinstance(body["status"], str)
    assert db_snapshot() == before
    return body  # type: ignore[no-any-return]


def save_address(user: User, **overrides: Any) -> Address:
    """A saved address for ``user``."""
    address = Address(user_id=user.id, **{**GOOD_ADDRESS, **overrides})
    db.session.add(address)
    db.session.commit()
    return address


def mark_paid(order_id: int) -> None:
    """Set an order paid directly (payments are tested elsewhere)."""
    from core.models import Order, OrderStatus

    order = db.session.get(Order, order_id)
    assert order is not None
    order.status = OrderStatus.PAID
    order.paid_at = utcnow()
    db.session.commit()


@pytest.fixture
def http(any_app: Flask) -> FlaskClient:
    """Test client of the app, on SQLite and on PostgreSQL."""
    return any_app.test_client()
