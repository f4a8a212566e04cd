"""Fixtures for the webhook tests: a configured app, a fake storefront and outbound."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from storefront import turns
from tests.support.webhook_fakes import FakeOutbound, FakeStorefront
from tests.support.wechat_messages import APP_ID, TOKEN


@pytest.fixture
def storefront(monkeypatch: pytest.MonkeyPatch) -> FakeStorefront:
    """The fake storefront, installed."""
    fake = FakeStorefront()
    monkeypatch.setattr(turns, "storefront_respond", fake)
    monkeypatch.setattr(turns, "storefront_quick", fake.answer_quickly)
    return fake


@pytest.fixture
def outbound(monkeypatch: pytest.MonkeyPatch) -> FakeOutbound:
    """The fake customer-service sender, installed."""
    fake = FakeOutbound()
    monkeypatch.setattr(turns, "send_customer_service", fake)
    return fake


@pytest.fixture
def wx_app(app: Flask, storefront: FakeStorefront, outbound: FakeOutbound) -> Iterator[Flask]:
    """The SQLite app configured as a plaintext-mode account, with fakes installed."""
    app.config.update(WECHAT_TOKEN=TOKEN, WECHAT_APP_ID=APP_ID, WECHAT_ENCODING_AES_KEY="")
    yield app
    turns.shutdown_turns(app)


@pytest.fixture
def wx(wx_app: Flask) -> Any:
    """Test client of ``wx_app``."""
    return wx_app.test_client()
