"""Settings read from the environment, with defaults that need nothing installed.

The defaults are public development values: they make the demo and the tests
run with nothing set, and ``core.settings_check`` refuses them outside sandbox
mode.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any

# Public development defaults (anyone reading this file knows them).
DEV_SECRET_KEY = "dev-only-secret-change-me"
DEV_PUBLIC_BASE_URL = "http://127.0.0.1:5000"
DEV_WECHAT_TOKEN = "chatshop-dev-token"
DEV_WECHAT_APP_ID = "wxchatshopdemo0001"
DEV_WECHAT_APP_SECRET = "chatshop-dev-app-secret"
DEV_WECHAT_MCH_ID = "1900000109"
DEV_WECHAT_PAY_API_KEY = "chatshopdevpaykey0000000000000000"
# The demo's EncodingAESKey (43 characters of base64, as WeChat issues them); `chatshop demo`
# sets it so the sandbox chat page's encrypted modes work out of the box.
DEV_WECHAT_ENCODING_AES_KEY = "ChatShopDemoOnlyEncodingAESKeyNotForProd012"
# How long an H5 sign-in lasts when H5_SESSION_DAYS is unset.
DEFAULT_H5_SESSION_DAYS = 7
# The app's Redis client fails fast so the webhook can still answer during an outage.
DEFAULT_REDIS_CONNECT_TIMEOUT_SECONDS = 1.0
DEFAULT_REDIS_SOCKET_TIMEOUT_SECONDS = 2.0
# How long a chat turn waits for the user's previous turn to release the conversation.
DEFAULT_CHAT_LOCK_WAIT_SECONDS = 2.0


def _env_bool(name: str, default: bool = False) -> bool:
    """Read a boolean environment variable ("1", "true", "yes" are true)."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    """Read an integer environment variable, refusing garbage loudly."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be an integer, got {raw!r}") from exc


def _env_seconds(name: str, default: float) -> float:
    """Read a positive number of seconds (fractions allowed), refusing garbage loudly."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be a number of seconds, got {raw!r}") from exc
    if not 0 < value <= 60:
        raise RuntimeError(f"{name} must be between 0 and 60 seconds, got {raw!r}")
    return value


def settings_from_environment() -> dict[str, Any]:
    """Collect every setting ChatShop reads from the environment."""
    sandbox = _env_bool("WECHAT_SANDBOX", False)
    return {
        "SECRET_KEY": os.environ.get("SECRET_KEY", DEV_SECRET_KEY),
        "DATABASE_URL": os.environ.get("DATABASE_URL", ""),
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        "REDIS_CONNECT_TIMEOUT_SECONDS": _env_seconds(
            "REDIS_CONNECT_TIMEOUT_SECONDS", DEFAULT_REDIS_CONNECT_TIMEOUT_SECONDS),
        "REDIS_SOCKET_TIMEOUT_SECONDS": _env_seconds(
            "REDIS_SOCKET_TIMEOUT_SECONDS", DEFAULT_REDIS_SOCKET_TIMEOUT_SECONDS),
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", DEV_PUBLIC_BASE_URL),
        "WECHAT_TOKEN": os.environ.get("WECHAT_TOKEN", DEV_WECHAT_TOKEN),
        "WECHAT_APP_ID": os.environ.get("WECHAT_APP_ID", DEV_WECHAT_APP_ID),
        "WECHAT_APP_SECRET": os.environ.get("WECHAT_APP_SECRET", DEV_WECHAT_APP_SECRET),
        "WECHAT_ENCODING_AES_KEY": os.environ.get("WECHAT_ENCODING_AES_KEY", ""),
        "WECHAT_MCH_ID": os.environ.get("WECHAT_MCH_ID", DEV_WECHAT_MCH_ID),
        "WECHAT_PAY_API_KEY": os.environ.get("WECHAT_PAY_API_KEY", DEV_WECHAT_PAY_API_KEY),
        "WECHAT_PAY_CERT_PATH": os.environ.get("WECHAT_PAY_CERT_PATH", ""),
        "WECHAT_PAY_KEY_PATH": os.environ.get("WECHAT_PAY_KEY_PATH", ""),
        "WECHAT_PREVIOUS_ENCODING_AES_KEY": os.environ.get("WECHAT_PREVIOUS_ENCODING_AES_KEY", ""),
        "WECHAT_REQUIRE_ENCRYPTION": _env_bool("WECHAT_REQUIRE_ENCRYPTION", False),
        "WECHAT_TIMESTAMP_WINDOW_SECONDS": _env_int("WECHAT_TIMESTAMP_WINDOW_SECONDS", 300),
        "WECHAT_REPLY_DEADLINE_SECONDS": _env_int("WECHAT_REPLY_DEADLINE_SECONDS", 4),
        "WECHAT_DEDUPE_TTL_SECONDS": _env_int("WECHAT_DEDUPE_TTL_SECONDS", 600),
        "WECHAT_REPLY_WORKERS": _env_int("WECHAT_REPLY_WORKERS", 8),
        "WECHAT_API_BASE_URL": os.environ.get("WECHAT_API_BASE_URL", ""),
        "WECHAT_PAY_API_BASE_URL": os.environ.get("WECHAT_PAY_API_BASE_URL", ""),
        "WECHAT_SANDBOX": sandbox,
        "WECHAT_HTTP_TIMEOUT_SECONDS": _env_int("WECHAT_HTTP_TIMEOUT_SECONDS", 5),
        "PAYMENT_TIMEOUT_MINUTES": _env_int("PAYMENT_TIMEOUT_MINUTES", 30),
        # Withdrawals (issue 6): the smallest amount a distributor may ask for, in fen
        # (WeChat's own minimum for a transfer to change is 30 fen).
        "WITHDRAWAL_MIN_FEN": _env_int("WITHDRAWAL_MIN_FEN", 100),
        "AUTO_COMPLETE_DAYS": _env_int("AUTO_COMPLETE_DAYS", 10),
        "MAX_LINE_QUANTITY": _env_int("MAX_LINE_QUANTITY", 999),
        "MAX_CART_LINES": _env_int("MAX_CART_LINES", 50),
        "CHAT_IDLE_SECONDS": _env_int("CHAT_IDLE_SECONDS", 1800),
        "CHAT_STATE_TTL_SECONDS": _env_int("CHAT_STATE_TTL_SECONDS", 86400),
        "CHAT_BROWSE_CACHE_SECONDS": _env_int("CHAT_BROWSE_CACHE_SECONDS", 10),
        "CHAT_LOCK_WAIT_SECONDS": _env_seconds(
            "CHAT_LOCK_WAIT_SECONDS", DEFAULT_CHAT_LOCK_WAIT_SECONDS),
        # A TrueType/OpenType font with CJK glyphs for distributor posters (e.g. Noto Sans
        # CJK). Unset: posters carry ASCII text only (Pillow's built-in font has no CJK).
        "POSTER_FONT_PATH": os.environ.get("POSTER_FONT_PATH", ""),
        # An H5 sign-in (the openid in the session cookie) lasts this many days.
        "H5_SESSION_DAYS": _env_int("H5_SESSION_DAYS", DEFAULT_H5_SESSION_DAYS),
    }


def build_config(instance_path: str, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge environment settings with explicit overrides and derive the rest."""
    cfg = settings_from_environment()
    if overrides:
        cfg.update(overrides)
    if not cfg.get("DATABASE_URL"):
        cfg["DATABASE_URL"] = "sqlite:///" + os.path.join(instance_path, "chatshop.sqlite3")
    cfg["SQLALCHEMY_DATABASE_URI"] = cfg["DATABASE_URL"]
    cfg.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(cfg["DATABASE_URL"]))
    public = str(cfg["PUBLIC_BASE_URL"]).rstrip("/")
    cfg["PUBLIC_BASE_URL"] = public
    if cfg.get("WECHAT_SANDBOX"):
        # In sandbox mode the real wechatpy clients talk to our own stand-in.
        if not cfg.get("WECHAT_API_BASE_URL"):
            cfg["WECHAT_API_BASE_URL"] = public + "/sandbox/wechat/cgi-bin/"
        if not cfg.get("WECHAT_PAY_API_BASE_URL"):
            cfg["WECHAT_PAY_API_BASE_URL"] = public + "/sandbox/pay/"
    cfg.setdefault("WECHAT_API_BASE_URL", "")
    if not cfg.get("WECHAT_API_BASE_URL"):
        cfg["WECHAT_API_BASE_URL"] = "https://api.weixin.qq.com/cgi-bin/"
    if not cfg.get("WECHAT_PAY_API_BASE_URL"):
        cfg["WECHAT_PAY_API_BASE_URL"] = "https://api.mch.weixin.qq.com/"
    cfg.setdefault("API_TITLE", "ChatShop API")
    cfg.setdefault("API_VERSION", "v1")
    cfg.setdefault("OPENAPI_VERSION", "3.0.3")
    cfg.setdefault("OPENAPI_URL_PREFIX", "/api/v1")
    cfg.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    cfg.setdefault("MAX_CONTENT_LENGTH", 1024 * 1024)
    # The H5 pages keep the WeChat openid in the signed session cookie.
    cfg.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    cfg.setdefault("SESSION_COOKIE_HTTPONLY", True)
    cfg.setdefault("SESSION_COOKIE_SECURE", public.startswith("https://"))
    # Flask refuses a session cookie signed longer ago than this (its signature carries the
    # time); webapp.sessions also checks the sign-in time stored inside the session.
    cfg.setdefault("PERMANENT_SESSION_LIFETIME", timedelta(days=h5_session_days(cfg)))
    return cfg


def h5_session_days(cfg: Mapping[str, Any]) -> int:
    """H5_SESSION_DAYS as a whole number of days, at least 1 (a bad value falls back to 7)."""
    raw = cfg.get("H5_SESSION_DAYS", DEFAULT_H5_SESSION_DAYS)
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= 365:
        return DEFAULT_H5_SESSION_DAYS
    return raw


def engine_options(url: str) -> dict[str, Any]:
    """Engine options per backend: SQLite needs a busy timeout for concurrent writers."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 10}


# Where an app keeps its Settings among its extensions (set by the Flask factory).
SETTINGS_KEY = "chatshop.settings"


@dataclass(frozen=True)
class Settings:
    """Every ChatShop setting, typed: built once per app from its merged configuration
    (``Settings.from_config(app.config)``) and passed to the code that needs it."""

    secret_key: str
    database_url: str
    redis_url: str
    redis_connect_timeout_seconds: float
    redis_socket_timeout_seconds: float
    public_base_url: str
    wechat_token: str
    wechat_app_id: str
    wechat_app_secret: str
    wechat_encoding_aes_key: str
    wechat_previous_encoding_aes_key: str
    wechat_require_encryption: bool
    wechat_mch_id: str
    wechat_pay_api_key: str
    wechat_pay_cert_path: str
    wechat_pay_key_path: str
    wechat_timestamp_window_seconds: int
    wechat_reply_deadline_seconds: int
    wechat_dedupe_ttl_seconds: int
    wechat_reply_workers: int
    wechat_api_base_url: str
    wechat_pay_api_base_url: str
    wechat_sandbox: bool
    wechat_http_timeout_seconds: int
    payment_timeout_minutes: int
    withdrawal_min_fen: int
    auto_complete_days: int
    max_line_quantity: int
    max_cart_lines: int
    chat_idle_seconds: int
    chat_state_ttl_seconds: int
    chat_browse_cache_seconds: int
    chat_lock_wait_seconds: float
    poster_font_path: str
    h5_session_days: int

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> Settings:
        """The settings in ``cfg`` (upper-case keys, as built by :func:`build_config`)."""
        return cls(**{f.name: cfg[f.name.upper()] for f in fields(cls)})


def settings_in(extensions: Mapping[str, Any]) -> Settings:
    """The Settings of the app whose ``extensions`` these are."""
    settings: Settings = extensions[SETTINGS_KEY]
    return settings
