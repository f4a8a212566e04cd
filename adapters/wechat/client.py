"""The official-account API client: wechatpy's ``WeChatClient`` configured for ChatShop.

What differs from a bare ``WeChatClient``:

- every URL, the token endpoint included, starts at ``WECHAT_API_BASE_URL``
  (the sandbox in development), set on the instance, never on the class;
- every call has a timeout (wechatpy fetches the token with none);
- the access_token is shared through Redis and fetched by one process at a
  time (``adapters.wechat.token_store``);
- a call refused for a stale token (40001, 40014, 42001) gets the token that
  replaced it, or a fresh one, and is retried once; wechatpy's own retry
  recurses without limit and refreshes even when another process already has.
"""
from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

import redis
import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from adapters.wechat.token_store import SharedAccessToken
from core.settings import Settings

log = logging.getLogger(__name__)

EXTENSION_KEY = "chatshop.wechat_client"

# invalid credential, invalid access_token, expired access_token
TOKEN_REJECTED = frozenset({40001, 40014, 42001})


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


class ChatShopWeChatClient(WeChatClient):
    """A ``WeChatClient`` whose token is shared through Redis and whose calls all time out."""

    def __init__(
        self,
        appid: str,
        secret: str,
        *,
        conn: redis.Redis,
        api_base_url: str,
        timeout: float,
    ) -> None:
        """Client for one account; ``api_base_url`` ends in ``cgi-bin/``."""
        if not timeout or timeout <= 0:
            raise ValueError("WeChat API calls need a positive timeout")
        self.token = SharedAccessToken(conn, appid, self._fetch_token, fetch_timeout=timeout)
        super().__init__(
            appid, secret, session=self.token.storage, timeout=timeout, auto_retry=False
        )
        # wechatpy builds every URL from this attribute; per instance, never the class.
        self.API_BASE_URL = _with_slash(api_base_url)

    @property
    def access_token(self) -> str:
        """The shared token (fetched under the Redis lock when there is none)."""
        return self.token.get()

    def fetch_access_token(self) -> dict[str, Any]:
        """Replace the stored token now (one process does; the others get its result)."""
        token = self.token.refresh(stale=self.token.stored())
        return {"access_token": token}

    def _fetch_token(self) -> tuple[str, int]:
        """Ask WeChat for a new token: (access_token, expires_in)."""
        res = self._http.get(
            self.API_BASE_URL + "token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
            timeout=self.timeout,
        )
        try:
            res.raise_for_status()
            result = res.json()
        except (requests.RequestException, ValueError) as exc:
            raise WeChatClientException(
                None, f"token: {type(exc).__name__}", client=self, request=res.request,
                response=res,
            ) from exc
        if not isinstance(result, dict) or not result.get("access_token"):
            errcode = result.get("errcode") if isinstance(result, dict) else None
            errmsg = result.get("errmsg") if isinstance(result, dict) else "unreadable answer"
            raise WeChatClientException(errcode, errmsg, client=self, request=res.request,
                                        response=res)
        return str(result["access_token"]), int(result.get("expires_in") or 7200)

    def _request(self, method: str, url_or_endpoint: str, **kwargs: Any) -> Any:
        """wechatpy's request with the shared token, retried once if WeChat calls it stale."""
        params = kwargs.pop("params", None)
        if params is None:
            params = {}
        if not isinstance(params, dict) or "access_token" in params:
            return super()._request(method, url_or_endpoint, params=params, **kwargs)
        token = self.access_token
        try:
            return super()._request(
                method, url_or_endpoint, params={**params, "access_token": token}, **kwargs
            )
        except WeChatClientException as exc:
            if exc.errcode not in TOKEN_REJECTED:
                raise
            log.info("WeChat refused the access_token (%s); retrying with a new one", exc.errcode)
        fresh = self.token.refresh(stale=token)
        return super()._request(
            method, url_or_endpoint, params={**params, "access_token": fresh}, **kwargs
        )


def client_from_config(config: Any, conn: redis.Redis) -> ChatShopWeChatClient:
    """A client built from app settings and a Redis connection."""
    return ChatShopWeChatClient(
        str(config["WECHAT_APP_ID"]),
        str(config["WECHAT_APP_SECRET"]),
        conn=conn,
        api_base_url=str(config["WECHAT_API_BASE_URL"]),
        timeout=float(config["WECHAT_HTTP_TIMEOUT_SECONDS"] or 0),
    )


def official_account_client(settings: Settings, conn: redis.Redis) -> ChatShopWeChatClient:
    """The official-account client for these settings, its token shared through ``conn``."""
    return ChatShopWeChatClient(
        settings.wechat_app_id,
        settings.wechat_app_secret,
        conn=conn,
        api_base_url=settings.wechat_api_base_url,
        timeout=float(settings.wechat_http_timeout_seconds or 0),
    )


def kept_client(
    extensions: MutableMapping[str, Any], settings: Settings, conn: redis.Redis
) -> ChatShopWeChatClient:
    """The client an app keeps in its ``extensions`` (one per app, reused across requests
    and jobs; tests may put another there), built on first use."""
    client: ChatShopWeChatClient | None = extensions.get(EXTENSION_KEY)
    if client is None:
        client = extensions.setdefault(EXTENSION_KEY, official_account_client(settings, conn))
    return client
