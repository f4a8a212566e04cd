"""Settings read from the environment: parsing and refusal of garbage."""
from __future__ import annotations

import pytest

from core.settings import settings_from_environment


def test_redis_timeouts_default_to_fail_fast_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_CONNECT_TIMEOUT_SECONDS", raising=False)
    monkeypatch.delenv("REDIS_SOCKET_TIMEOUT_SECONDS", raising=False)
    cfg = settings_from_environment()
    assert cfg["REDIS_CONNECT_TIMEOUT_SECONDS"] == 1.0
    assert cfg["REDIS_SOCKET_TIMEOUT_SECONDS"] == 2.0


def test_redis_timeouts_accept_fractions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_CONNECT_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("REDIS_SOCKET_TIMEOUT_SECONDS", "3")
    cfg = settings_from_environment()
    assert cfg["REDIS_CONNECT_TIMEOUT_SECONDS"] == 0.5
    assert cfg["REDIS_SOCKET_TIMEOUT_SECONDS"] == 3.0


@pytest.mark.parametrize("raw", ["soon", "0", "-1", "61", "nan", "inf"])
def test_redis_timeouts_refuse_garbage(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("REDIS_SOCKET_TIMEOUT_SECONDS", raw)
    with pytest.raises(RuntimeError, match="REDIS_SOCKET_TIMEOUT_SECONDS"):
        settings_from_environment()
