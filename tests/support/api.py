"""REST API test helpers: an authenticated caller and the error shape with nothing changed."""
from __future__ import annotations

from typing import Any

from core.models import User
from tests.support.db import db_snapshot
from tests.support.factories import auth_header


def bearer(user: User) -> dict[str, str]:
    """A fresh token for ``user`` as request headers."""
    return auth_header(user)


def assert_refused(response: Any, status: int, before: dict[str, list[str]]) -> dict[str, Any]:
    """The response is an error of ``status`` in the API's JSON shape, and nothing changed."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == status
    assert isinstance(body["status"], str)
    assert db_snapshot() == before
    return body  # type: ignore[no-any-return]
