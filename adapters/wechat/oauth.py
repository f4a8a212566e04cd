"""Web-page sign-in through WeChat OAuth2 (``snsapi_base``: the openid, no prompt).

The authorize page is WeChat's (``open.weixin.qq.com``); the code is exchanged
at ``sns/oauth2/access_token`` on the API host. In sandbox mode both are the
sandbox's, under ``PUBLIC_BASE_URL/sandbox/wechat/``.

``state`` must be at most 128 letters and digits (WeChat's rule), so it carries
no data: it is a timestamp, a nonce kept in the browser's session cookie and an
HMAC of both, which ties the callback to the browser that started the sign-in.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Mapping
from typing import Any

import requests
from wechatpy.exceptions import WeChatOAuthException
from wechatpy.oauth import WeChatOAuth

log = logging.getLogger(__name__)

REAL_AUTHORIZE_BASE_URL = "https://open.weixin.qq.com/connect/"
STATE_MAX_AGE_SECONDS = 600


class OAuthFailed(Exception):
    """The code could not be exchanged for an openid."""


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def oauth_api_base_url(config: Mapping[str, Any]) -> str:
    """Base URL of ``sns/...``: the official-account API base without its ``cgi-bin/``."""
    base = _with_slash(str(config["WECHAT_API_BASE_URL"]))
    return base[: -len("cgi-bin/")] if base.endswith("/cgi-bin/") else base


def authorize_base_url(config: Mapping[str, Any]) -> str:
    """Base URL of ``oauth2/authorize``: WeChat's, or the sandbox's in sandbox mode."""
    if config.get("WECHAT_SANDBOX"):
        return str(config["PUBLIC_BASE_URL"]).rstrip("/") + "/sandbox/wechat/connect/"
    return REAL_AUTHORIZE_BASE_URL


class _TimedOAuth(WeChatOAuth):
    """wechatpy's OAuth client with a timeout on every call (it sets none)."""

    timeout: float = 5.0

    def _request(self, method: str, url_or_endpoint: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.timeout)
        return super()._request(method, url_or_endpoint, **kwargs)


def oauth_client(
    config: Mapping[str, Any], redirect_uri: str, state: str = ""
) -> WeChatOAuth:
    """wechatpy's ``WeChatOAuth`` for ``snsapi_base``, its base URLs set from the config."""
    client = _TimedOAuth(
        str(config["WECHAT_APP_ID"]), str(config["WECHAT_APP_SECRET"]), redirect_uri,
        scope="snsapi_base", state=state,
    )
    # Per instance, never the class: other apps in the process may point elsewhere.
    client.API_BASE_URL = oauth_api_base_url(config)
    client.OAUTH_BASE_URL = authorize_base_url(config)
    client.timeout = float(config["WECHAT_HTTP_TIMEOUT_SECONDS"] or 5)
    return client


def authorize_url(config: Mapping[str, Any], redirect_uri: str, state: str) -> str:
    """Where to send the browser to sign in (``...#wechat_redirect``)."""
    return str(oauth_client(config, redirect_uri, state).authorize_url)


def openid_for_code(config: Mapping[str, Any], redirect_uri: str, code: str) -> str:
    """Exchange an authorize code for the user's openid; OAuthFailed otherwise."""
    client = oauth_client(config, redirect_uri)
    try:
        answer = client.fetch_access_token(code)
    except WeChatOAuthException as exc:
        raise OAuthFailed(f"WeChat refused the code: {exc.errcode}") from exc
    except (requests.RequestException, KeyError, ValueError) as exc:
        raise OAuthFailed(f"code exchange failed: {type(exc).__name__}") from exc
    openid = answer.get("openid") if isinstance(answer, dict) else None
    if not openid or not isinstance(openid, str):
        raise OAuthFailed("no openid in WeChat's answer")
    return openid


def _state_mac(secret: str, timestamp: str, nonce: str) -> str:
    digest = hmac.new(secret.encode(), f"h5-oauth|{timestamp}|{nonce}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def new_state(secret: str, *, now: float | None = None) -> tuple[str, str]:
    """A fresh (state, nonce): keep the nonce in the session, send the state to WeChat."""
    nonce = secrets.token_hex(12)
    timestamp = str(int(time.time() if now is None else now))
    return f"{timestamp}{nonce}{_state_mac(secret, timestamp, nonce)}", nonce


def state_is_valid(
    secret: str, state: str, nonce: str | None, *, now: float | None = None
) -> bool:
    """True if ``state`` was made by new_state with this nonce within the last 10 minutes."""
    if not nonce or not state or len(state) != 10 + len(nonce) + 32 or not state.isalnum():
        return False
    timestamp, got_nonce, mac = state[:10], state[10:-32], state[-32:]
    if not timestamp.isdigit() or not hmac.compare_digest(got_nonce, nonce):
        return False
    if not hmac.compare_digest(mac, _state_mac(secret, timestamp, nonce)):
        return False
    age = (time.time() if now is None else now) - int(timestamp)
    return -60 <= age <= STATE_MAX_AGE_SECONDS
