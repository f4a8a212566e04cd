"""Which settings are unsafe for a real deployment: pure rules shared by the factory and the CLI.

``check_settings`` takes the settings mapping (as ``core.settings.build_config``
returns it) and answers a list of findings. Outside sandbox mode a fatal finding
makes ``create_app`` (web, worker, every data command) refuse to start with
``UnsafeConfiguration``; ``chatshop check-config`` prints the same findings.
In sandbox mode (WECHAT_SANDBOX=1) the same rules run but nothing is fatal: the
demo and the tests use the public development values on purpose.

No framework imports here; the only I/O is asking whether a certificate file
can be read, and that question is a parameter.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from core.settings import (
    DEV_SECRET_KEY,
    DEV_WECHAT_APP_ID,
    DEV_WECHAT_APP_SECRET,
    DEV_WECHAT_ENCODING_AES_KEY,
    DEV_WECHAT_MCH_ID,
    DEV_WECHAT_PAY_API_KEY,
    DEV_WECHAT_TOKEN,
)

MIN_SECRET_KEY_BYTES = 32
MAX_H5_SESSION_DAYS = 365

# Values published in this repository (defaults, demo, tests, benchmarks): whoever
# holds one can sign what the setting is meant to authenticate.
KNOWN_SECRET_KEYS = frozenset({DEV_SECRET_KEY, "test-secret", "bench", "dev", "secret",
                               "change-me", "changeme"})
KNOWN_WECHAT_TOKENS = frozenset({DEV_WECHAT_TOKEN, "token", "weixin", "wechat"})
KNOWN_APP_SECRETS = frozenset({DEV_WECHAT_APP_SECRET})
KNOWN_PAY_API_KEYS = frozenset({DEV_WECHAT_PAY_API_KEY})
KNOWN_AES_KEYS = frozenset({DEV_WECHAT_ENCODING_AES_KEY})
DEMO_MCH_IDS = frozenset({DEV_WECHAT_MCH_ID})
DEMO_APP_IDS = frozenset({DEV_WECHAT_APP_ID})

# Every setting the rules look at, with what "fine" means (printed by check-config).
CHECKED_SETTINGS: dict[str, str] = {
    "SECRET_KEY": f"set, not a published value, at least {MIN_SECRET_KEY_BYTES} bytes",
    "WECHAT_TOKEN": "set, not a published value",
    "WECHAT_APP_ID": "set, not the demo app id",
    "WECHAT_APP_SECRET": "set, not a published value",
    "WECHAT_MCH_ID": "set, not the demo merchant id",
    "WECHAT_PAY_API_KEY": "set, not a published value, 32 characters",
    "WECHAT_PAY_CERT_PATH": "a readable merchant certificate file (refunds, payouts)",
    "WECHAT_PAY_KEY_PATH": "a readable merchant private key file (refunds, payouts)",
    "PUBLIC_BASE_URL": "an https:// address with a host",
    "WECHAT_ENCODING_AES_KEY": "set (safe mode), not a published value",
    "WECHAT_PREVIOUS_ENCODING_AES_KEY": "empty or not a published value",
    "WECHAT_API_BASE_URL": "https://",
    "WECHAT_PAY_API_BASE_URL": "https://",
    "DATABASE_URL": "a server database (PostgreSQL), not SQLite",
    "REDIS_URL": "a Redis server, not the embedded one",
    "H5_SESSION_DAYS": f"a whole number of days from 1 to {MAX_H5_SESSION_DAYS}",
}


@dataclass(frozen=True)
class Finding:
    """One problem with one setting; ``fatal`` ones stop the app outside sandbox mode."""

    setting: str
    problem: str
    fatal: bool

    def line(self) -> str:
        """``SETTING: problem`` (never the value: it may be a secret)."""
        return f"{self.setting}: {self.problem}"


class UnsafeConfiguration(RuntimeError):
    """The app refuses to start: the message lists every fatal finding, one a line."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        super().__init__(refusal_message(findings))


def refusal_message(findings: list[Finding]) -> str:
    """The single message naming every fatal finding, and how to get going."""
    fatal = [f for f in findings if f.fatal]
    lines = [f"ChatShop refuses to start: {len(fatal)} setting(s) missing or unsafe "
             "outside sandbox mode (WECHAT_SANDBOX is off):"]
    lines += [f"  - {f.line()}" for f in fatal]
    lines.append("Set them in the environment (README, 'Running in production'); "
                 "`chatshop check-config` lists every check. For the demo, set WECHAT_SANDBOX=1.")
    return "\n".join(lines)


def file_is_readable(path: str) -> bool:
    """True if ``path`` is a regular file this process may read."""
    return os.path.isfile(path) and os.access(path, os.R_OK)


def is_sandbox(settings: Mapping[str, Any]) -> bool:
    """Sandbox (demo) mode: development values are allowed."""
    return bool(settings.get("WECHAT_SANDBOX"))


def _text(settings: Mapping[str, Any], name: str) -> str:
    value = settings.get(name)
    return "" if value is None else str(value)


def _secret(settings: Mapping[str, Any], name: str, known: frozenset[str],
            what: str) -> list[Finding]:
    value = _text(settings, name)
    if not value.strip():
        return [Finding(name, f"is not set; {what}", True)]
    if value in known:
        return [Finding(name, f"is a published development value; {what}", True)]
    return []


def _secret_key(settings: Mapping[str, Any]) -> list[Finding]:
    value = _text(settings, "SECRET_KEY")
    why = "anyone could forge the H5 session cookie and OAuth state"
    found = _secret(settings, "SECRET_KEY", KNOWN_SECRET_KEYS, why)
    if found:
        return found
    size = len(value.encode("utf-8"))
    if size < MIN_SECRET_KEY_BYTES:
        return [Finding("SECRET_KEY", f"is {size} bytes long; use at least "
                        f"{MIN_SECRET_KEY_BYTES} random bytes", True)]
    return []


def _pay_api_key(settings: Mapping[str, Any]) -> list[Finding]:
    found = _secret(settings, "WECHAT_PAY_API_KEY", KNOWN_PAY_API_KEYS,
                    "anyone could sign a pay notify and mark an order paid")
    if found:
        return found
    if len(_text(settings, "WECHAT_PAY_API_KEY")) != 32:
        # WeChat Pay issues v2 API keys of exactly 32 characters: anything else is a typo.
        return [Finding("WECHAT_PAY_API_KEY", "is not 32 characters long, as WeChat Pay "
                        "issues them; every signature would fail", True)]
    return []


def _demo_id(settings: Mapping[str, Any], name: str, demo: frozenset[str],
             what: str) -> list[Finding]:
    value = _text(settings, name).strip()
    if not value:
        return [Finding(name, f"is not set; {what}", True)]
    if value in demo:
        return [Finding(name, f"is the demo value; {what}", True)]
    return []


def _public_base_url(settings: Mapping[str, Any]) -> list[Finding]:
    value = _text(settings, "PUBLIC_BASE_URL").strip()
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        return [Finding("PUBLIC_BASE_URL", "is not an https:// address; WeChat Pay notify "
                        "URLs, OAuth and the Secure session cookie need https", True)]
    return []


def _merchant_certificate(settings: Mapping[str, Any],
                          readable: Callable[[str], bool]) -> list[Finding]:
    # Refunds and payouts (enterprise payment to change) are always on, and WeChat
    # authenticates both by the merchant's TLS client certificate: without it every
    # refund and withdrawal would fail at the first call, after the money moved in our books.
    found = []
    for name, what in (("WECHAT_PAY_CERT_PATH", "certificate (apiclient_cert.pem)"),
                       ("WECHAT_PAY_KEY_PATH", "private key (apiclient_key.pem)")):
        path = _text(settings, name).strip()
        if not path:
            found.append(Finding(name, f"is not set; refunds and withdrawal payouts need the "
                                 f"merchant {what}", True))
        elif not readable(path):
            found.append(Finding(name, f"names a file that does not exist or cannot be read; "
                                 f"refunds and withdrawal payouts need the merchant {what}",
                                 True))
    return found


def _encoding_aes_keys(settings: Mapping[str, Any]) -> list[Finding]:
    found = []
    current = _text(settings, "WECHAT_ENCODING_AES_KEY")
    if not current:
        found.append(Finding("WECHAT_ENCODING_AES_KEY", "is not set: messages travel in "
                             "plaintext mode; safe mode is advisable", False))
    elif current in KNOWN_AES_KEYS:
        found.append(Finding("WECHAT_ENCODING_AES_KEY", "is the published demo key; anyone "
                             "could read and forge encrypted messages", True))
    if _text(settings, "WECHAT_PREVIOUS_ENCODING_AES_KEY") in KNOWN_AES_KEYS:
        found.append(Finding("WECHAT_PREVIOUS_ENCODING_AES_KEY", "is the published demo key; "
                             "anyone could forge encrypted messages", True))
    return found


def _infrastructure(settings: Mapping[str, Any]) -> list[Finding]:
    found = []
    for name in ("WECHAT_API_BASE_URL", "WECHAT_PAY_API_BASE_URL"):
        value = _text(settings, name)
        if value and not value.startswith("https://"):
            found.append(Finding(name, "is not https://; credentials would cross the "
                                 "network in the clear", False))
    database = _text(settings, "DATABASE_URL")
    if not database or database.startswith("sqlite"):
        found.append(Finding("DATABASE_URL", "is SQLite: one machine only; use PostgreSQL",
                             False))
    if not _text(settings, "REDIS_URL"):
        found.append(Finding("REDIS_URL", "is not set: the embedded Redis serves one machine "
                             "only; use a Redis server", False))
    days = settings.get("H5_SESSION_DAYS")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int)
                             or not 1 <= days <= MAX_H5_SESSION_DAYS):
        found.append(Finding("H5_SESSION_DAYS", f"must be 1 to {MAX_H5_SESSION_DAYS} days",
                             True))
    return found


def check_settings(settings: Mapping[str, Any],
                   readable: Callable[[str], bool] = file_is_readable) -> list[Finding]:
    """Every finding about ``settings``; in sandbox mode none is fatal."""
    findings = [
        *_secret_key(settings),
        *_secret(settings, "WECHAT_TOKEN", KNOWN_WECHAT_TOKENS,
                 "anyone could sign official-account messages as any user"),
        *_demo_id(settings, "WECHAT_APP_ID", DEMO_APP_IDS, "use the official account's AppID"),
        *_secret(settings, "WECHAT_APP_SECRET", KNOWN_APP_SECRETS,
                 "use the official account's AppSecret"),
        *_demo_id(settings, "WECHAT_MCH_ID", DEMO_MCH_IDS, "use your WeChat Pay merchant id"),
        *_pay_api_key(settings),
        *_merchant_certificate(settings, readable),
        *_public_base_url(settings),
        *_encoding_aes_keys(settings),
        *_infrastructure(settings),
    ]
    if is_sandbox(settings):
        return [Finding(f.setting, f.problem, False) for f in findings]
    return findings


def fatal_findings(findings: list[Finding]) -> list[Finding]:
    """The findings that stop the app."""
    return [f for f in findings if f.fatal]


def fine_settings(findings: list[Finding]) -> list[tuple[str, str]]:
    """Checked settings with no finding, each with what was checked."""
    flagged = {f.setting for f in findings}
    return [(name, rule) for name, rule in CHECKED_SETTINGS.items() if name not in flagged]


def enforce(settings: Mapping[str, Any],
            readable: Callable[[str], bool] = file_is_readable) -> list[Finding]:
    """Raise UnsafeConfiguration on any fatal finding; return the other (warning) findings."""
    findings = check_settings(settings, readable)
    fatal = fatal_findings(findings)
    if fatal:
        raise UnsafeConfiguration(findings)
    return findings
