"""Fixtures of the REST API tests (helpers are in tests/support/api.py)."""
from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient


@pytest.fixture
def http(any_app: Flask) -> FlaskClient:
    """Test client of the app, on SQLite and on PostgreSQL."""
    return any_app.test_client()
