"""Settings read from the environment: parsing and refusal of garbage."""
from __future__ import annotations

import pytest

from core.settings import Settings, build_config, settings_from_environment


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


def test_settings_object_holds_every_setting_read_from_the_environment(tmp_path):
    cfg = build_config(str(tmp_path), {"MAX_CART_LINES": 7})
    settings = Settings.from_config(cfg)
    assert settings.max_cart_lines == 7
    assert settings.wechat_api_base_url == "https://api.weixin.qq.com/cgi-bin/"
    # every environment setting has a typed field, and every field an environment setting
    assert {f.upper() for f in Settings.__dataclass_fields__} == set(settings_from_environment())
