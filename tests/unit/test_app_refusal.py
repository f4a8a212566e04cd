"""The app factory refuses unsafe settings outside sandbox mode; sandbox mode and tests pass."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.settings import settings_from_environment
from core.settings_check import UnsafeConfiguration
from webapp import create_app

FATAL_NAMES = ["SECRET_KEY", "WECHAT_TOKEN", "WECHAT_APP_ID", "WECHAT_APP_SECRET", "WECHAT_MCH_ID",
               "WECHAT_PAY_API_KEY", "WECHAT_PAY_CERT_PATH", "WECHAT_PAY_KEY_PATH",
               "PUBLIC_BASE_URL"]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No ChatShop setting in the environment; the instance folder under tmp_path."""
    for name in [*settings_from_environment(), "TESTING", "FLASK_TESTING", "FLASK_DEBUG"]:
        monkeypatch.delenv(name, raising=False)
    instance = tmp_path / "instance"
    monkeypatch.setenv("CHATSHOP_INSTANCE_PATH", str(instance))
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:9/0")  # never connected to
    return instance


def _safe_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cert, key = tmp_path / "apiclient_cert.pem", tmp_path / "apiclient_key.pem"
    cert.write_text("cert")
    key.write_text("key")
    for name, value in {
        "SECRET_KEY": "s" * 40, "WECHAT_TOKEN": "prodToken123",
        "WECHAT_APP_ID": "wx0011223344556677", "WECHAT_APP_SECRET": "f" * 32,
        "WECHAT_MCH_ID": "1611111111", "WECHAT_PAY_API_KEY": "P" * 32,
        "WECHAT_PAY_CERT_PATH": str(cert), "WECHAT_PAY_KEY_PATH": str(key),
        "PUBLIC_BASE_URL": "https://shop.example.com",
    }.items():
        monkeypatch.setenv(name, value)


def test_defaults_outside_sandbox_are_refused_naming_every_setting(clean_env: Path):
    with pytest.raises(UnsafeConfiguration) as caught:
        create_app()
    message = str(caught.value)
    assert message.startswith("ChatShop refuses to start")
    for name in FATAL_NAMES:
        assert f"  - {name}: " in message
    # Refused before anything was created.
    assert not clean_env.exists()


def test_sandbox_off_said_explicitly_is_refused_too(clean_env: Path,
                                                    monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("WECHAT_SANDBOX", "0")
    with pytest.raises(UnsafeConfiguration):
        create_app()


def test_one_unsafe_setting_among_safe_ones_is_named_alone(
        clean_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    _safe_env(monkeypatch, tmp_path)
    monkeypatch.setenv("SECRET_KEY", "too-short")
    with pytest.raises(UnsafeConfiguration) as caught:
        create_app()
    assert [f.setting for f in caught.value.findings if f.fatal] == ["SECRET_KEY"]


def test_safe_settings_start(clean_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                             caplog: pytest.LogCaptureFixture):
    _safe_env(monkeypatch, tmp_path)
    app = create_app()
    assert app.config["SECRET_KEY"] == "s" * 40
    assert app.config["SESSION_COOKIE_SECURE"] is True
    # The advisories (plaintext messages, SQLite) are logged, not fatal.
    assert "configuration: WECHAT_ENCODING_AES_KEY" in caplog.text
    assert "configuration: DATABASE_URL" in caplog.text


def test_sandbox_mode_starts_with_no_setting_at_all(clean_env: Path,
                                                    monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("WECHAT_SANDBOX", "1")
    app = create_app()
    assert app.config["WECHAT_SANDBOX"] is True
    assert app.config["SESSION_COOKIE_SECURE"] is False


def test_tests_pass_testing_true_in_the_config_mapping(clean_env: Path, tmp_path: Path):
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite:///" + str(tmp_path / "t.db")})
    assert app.testing


@pytest.mark.parametrize("config", [
    {"TESTING": "1"}, {"TESTING": 1}, {"TESTING": "true"}, {"TESTING": False}, {},
])
def test_only_a_real_true_exempts(clean_env: Path, config: dict[str, Any]):
    with pytest.raises(UnsafeConfiguration):
        create_app(config)


@pytest.mark.parametrize("name", ["TESTING", "FLASK_TESTING"])
def test_the_environment_alone_cannot_claim_testing(clean_env: Path,
                                                    monkeypatch: pytest.MonkeyPatch, name: str):
    monkeypatch.setenv(name, "1")
    with pytest.raises(UnsafeConfiguration):
        create_app()
    with pytest.raises(UnsafeConfiguration):
        create_app({"DATABASE_URL": "sqlite://"})
