"""The production checks of core.settings_check: each rule, a safe configuration, sandbox mode."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core import settings_check as config_check
from core.settings import (
    DEV_SECRET_KEY,
    DEV_WECHAT_APP_ID,
    DEV_WECHAT_APP_SECRET,
    DEV_WECHAT_ENCODING_AES_KEY,
    DEV_WECHAT_MCH_ID,
    DEV_WECHAT_PAY_API_KEY,
    DEV_WECHAT_TOKEN,
)
from core.settings_check import (
    CHECKED_SETTINGS,
    Finding,
    UnsafeConfiguration,
    check_settings,
    enforce,
    fatal_findings,
    fine_settings,
)
from tests.support.imports import FORBIDDEN, imported_modules

SAFE: dict[str, Any] = {
    "WECHAT_SANDBOX": False,
    "SECRET_KEY": "k" * 24 + "Zq9!xY2@pL7#mN4$",
    "WECHAT_TOKEN": "shopTokenA1b2C3",
    "WECHAT_APP_ID": "wx1234567890abcdef",
    "WECHAT_APP_SECRET": "0123456789abcdef0123456789abcdef",
    "WECHAT_MCH_ID": "1612345678",
    "WECHAT_PAY_API_KEY": "A" * 16 + "b" * 16,
    "WECHAT_PAY_CERT_PATH": "/etc/chatshop/apiclient_cert.pem",
    "WECHAT_PAY_KEY_PATH": "/etc/chatshop/apiclient_key.pem",
    "PUBLIC_BASE_URL": "https://shop.example.com",
    "WECHAT_ENCODING_AES_KEY": "b" * 43,
    "WECHAT_PREVIOUS_ENCODING_AES_KEY": "",
    "WECHAT_API_BASE_URL": "https://api.weixin.qq.com/cgi-bin/",
    "WECHAT_PAY_API_BASE_URL": "https://api.mch.weixin.qq.com/",
    "DATABASE_URL": "postgresql+psycopg://shop:pw@db/shop",
    "REDIS_URL": "redis://cache:6379/0",
    "H5_SESSION_DAYS": 7,
}

FATAL_NAMES = ["SECRET_KEY", "WECHAT_TOKEN", "WECHAT_APP_ID", "WECHAT_APP_SECRET", "WECHAT_MCH_ID",
               "WECHAT_PAY_API_KEY", "WECHAT_PAY_CERT_PATH", "WECHAT_PAY_KEY_PATH",
               "PUBLIC_BASE_URL"]


def _readable(path: str) -> bool:
    return True


def _check(**changes: Any) -> list[Finding]:
    return check_settings({**SAFE, **changes}, readable=_readable)


def _only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def test_a_safe_configuration_has_no_finding():
    findings = _check()
    assert findings == []
    assert [name for name, _ in fine_settings(findings)] == list(CHECKED_SETTINGS)


DEV_DEFAULTS = {
    "SECRET_KEY": DEV_SECRET_KEY, "WECHAT_TOKEN": DEV_WECHAT_TOKEN,
    "WECHAT_APP_ID": DEV_WECHAT_APP_ID, "WECHAT_APP_SECRET": DEV_WECHAT_APP_SECRET,
    "WECHAT_MCH_ID": DEV_WECHAT_MCH_ID, "WECHAT_PAY_API_KEY": DEV_WECHAT_PAY_API_KEY,
}


@pytest.mark.parametrize("name", sorted(DEV_DEFAULTS))
def test_a_development_default_is_fatal(name: str):
    finding = _only(_check(**{name: DEV_DEFAULTS[name]}))
    assert finding.setting == name and finding.fatal
    assert DEV_DEFAULTS[name] not in finding.line()  # values are never shown


@pytest.mark.parametrize("name", sorted(DEV_DEFAULTS))
@pytest.mark.parametrize("empty", ["", "   ", None])
def test_an_unset_credential_is_fatal(name: str, empty: str | None):
    finding = _only(_check(**{name: empty}))
    assert finding.setting == name and finding.fatal
    assert "not set" in finding.problem


def test_a_short_secret_key_is_fatal():
    finding = _only(_check(SECRET_KEY="x" * 31))
    assert finding.fatal and "31 bytes" in finding.problem
    assert _check(SECRET_KEY="x" * 32) == []
    # Bytes, not characters: 11 three-byte characters are 33 bytes.
    assert _check(SECRET_KEY="密" * 11) == []


@pytest.mark.parametrize("value", ["test-secret", "bench"])
def test_secret_keys_published_by_the_tests_and_benchmarks_are_fatal(value: str):
    assert _only(_check(SECRET_KEY=value)).fatal


def test_a_pay_api_key_of_the_wrong_length_is_fatal():
    finding = _only(_check(WECHAT_PAY_API_KEY="x" * 31))
    assert finding.setting == "WECHAT_PAY_API_KEY" and finding.fatal
    assert "32 characters" in finding.problem


@pytest.mark.parametrize("url", ["http://shop.example.com", "http://127.0.0.1:5000", "https://",
                                 "shop.example.com", "", "ftp://shop.example.com"])
def test_a_public_url_that_is_not_https_is_fatal(url: str):
    finding = _only(_check(PUBLIC_BASE_URL=url))
    assert finding.setting == "PUBLIC_BASE_URL" and finding.fatal


@pytest.mark.parametrize("name", ["WECHAT_PAY_CERT_PATH", "WECHAT_PAY_KEY_PATH"])
def test_a_missing_merchant_certificate_is_fatal(name: str):
    finding = _only(_check(**{name: ""}))
    assert finding.setting == name and finding.fatal
    assert "refunds" in finding.problem


def test_an_unreadable_merchant_certificate_is_fatal(tmp_path: Path):
    cert = tmp_path / "apiclient_cert.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = {**SAFE, "WECHAT_PAY_CERT_PATH": str(cert),
                "WECHAT_PAY_KEY_PATH": str(tmp_path / "missing.pem")}
    # The real file test: the certificate exists, the key does not.
    finding = _only(check_settings(settings))
    assert finding.setting == "WECHAT_PAY_KEY_PATH" and finding.fatal
    assert "cannot be read" in finding.problem
    # A directory is not a certificate.
    settings["WECHAT_PAY_KEY_PATH"] = str(tmp_path)
    assert _only(check_settings(settings)).setting == "WECHAT_PAY_KEY_PATH"


@pytest.mark.parametrize("name", ["WECHAT_ENCODING_AES_KEY", "WECHAT_PREVIOUS_ENCODING_AES_KEY"])
def test_the_demo_encoding_aes_key_is_fatal(name: str):
    finding = _only(_check(**{name: DEV_WECHAT_ENCODING_AES_KEY}))
    assert finding.setting == name and finding.fatal


@pytest.mark.parametrize(("changes", "name"), [
    ({"WECHAT_ENCODING_AES_KEY": ""}, "WECHAT_ENCODING_AES_KEY"),
    ({"DATABASE_URL": "sqlite:////srv/instance/chatshop.sqlite3"}, "DATABASE_URL"),
    ({"REDIS_URL": ""}, "REDIS_URL"),
    ({"WECHAT_PAY_API_BASE_URL": "http://pay.internal/"}, "WECHAT_PAY_API_BASE_URL"),
    ({"WECHAT_API_BASE_URL": "http://oa.internal/"}, "WECHAT_API_BASE_URL"),
])
def test_advisories_are_warnings_not_fatal(changes: dict[str, str], name: str):
    finding = _only(_check(**changes))
    assert finding.setting == name and not finding.fatal
    enforce({**SAFE, **changes}, readable=_readable)  # does not raise


@pytest.mark.parametrize("days", [0, -1, 366, 10**30, True, "7"])
def test_an_h5_session_lifetime_out_of_range_is_fatal(days: object):
    finding = _only(_check(H5_SESSION_DAYS=days))
    assert finding.setting == "H5_SESSION_DAYS" and finding.fatal


def _all_defaults() -> dict[str, Any]:
    return {**SAFE, **DEV_DEFAULTS, "WECHAT_PAY_CERT_PATH": "", "WECHAT_PAY_KEY_PATH": "",
            "PUBLIC_BASE_URL": "http://127.0.0.1:5000"}


def test_every_unsafe_setting_is_named_in_one_refusal():
    with pytest.raises(UnsafeConfiguration) as caught:
        enforce(_all_defaults(), readable=_readable)
    message = str(caught.value)
    assert [f.setting for f in fatal_findings(caught.value.findings)] == FATAL_NAMES
    for name in FATAL_NAMES:
        assert f"  - {name}: " in message
    assert "WECHAT_SANDBOX=1" in message and "check-config" in message
    for value in DEV_DEFAULTS.values():
        assert value not in message


def test_in_sandbox_mode_the_same_findings_are_not_fatal():
    settings = {**_all_defaults(), "WECHAT_SANDBOX": True}
    findings = check_settings(settings, readable=_readable)
    assert sorted(f.setting for f in findings) == sorted(FATAL_NAMES)
    assert fatal_findings(findings) == []
    assert enforce(settings, readable=_readable) == findings


def test_the_rules_import_no_framework():
    path = Path(config_check.__file__)
    bad = {name for name in imported_modules(path) if any(name == f or name.startswith(f + ".")
                                                  for f in FORBIDDEN)}
    assert not bad
