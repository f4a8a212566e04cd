"""The official account's access_token, shared by every process through Redis.

WeChat issues one access_token per account at a time: each fetch makes the
previous token expire five minutes later. If every web and worker process
fetched its own, they would keep invalidating each other. So the token lives in
Redis (wechatpy's ``RedisStorage``) and only the holder of a short Redis lock
(``SET NX PX``) fetches a new one; everybody else keeps using the stored token,
or, when there is none, waits briefly for the holder to store it.
"""
from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable

import redis
import requests
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.redisstorage import RedisStorage

log = logging.getLogger(__name__)

STORAGE_PREFIX = "chatshop:wechat"
# Stored for this much less than WeChat's expires_in, against latency and clock skew.
EXPIRY_MARGIN_SECONDS = 60
# In its last minutes one process fetches a successor while the others keep using it.
REFRESH_AHEAD_SECONDS = 300
POLL_SECONDS = 0.05

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class AccessTokenUnavailable(WeChatClientException):
    """No access_token could be obtained in time (errcode None: try again later)."""

    def __init__(self, message: str) -> None:
        super().__init__(None, message)


Fetch = Callable[[], tuple[str, int]]


class SharedAccessToken:
    """One account's access_token in Redis, refreshed by a single process at a time."""

    def __init__(
        self,
        conn: redis.Redis,
        appid: str,
        fetch: Fetch,
        *,
        fetch_timeout: float,
        wait_seconds: float | None = None,
    ) -> None:
        """``fetch`` asks WeChat for a new token and returns (token, expires_in seconds)."""
        self.conn = conn
        self.storage = RedisStorage(conn, prefix=STORAGE_PREFIX)
        self.token_key = f"{appid}_access_token"
        self.lock_key = f"{STORAGE_PREFIX}:{appid}_access_token_lock"
        self.fetch = fetch
        # The lock outlives one fetch (timeout) so that a crashed holder frees it soon.
        self.lock_ms = int((fetch_timeout + 2) * 1000)
        self.wait_seconds = fetch_timeout + 2 if wait_seconds is None else wait_seconds
        self._release = conn.register_script(_RELEASE)

    def stored(self) -> str | None:
        """The token currently in Redis, if any."""
        value = self.storage.get(self.token_key)
        return str(value) if value else None

    def get(self) -> str:
        """A usable token: the stored one, or a fresh one fetched by exactly one process."""
        token = self.stored()
        if token is None:
            return self.refresh()
        ttl_ms = self.conn.pttl(self.storage.key_name(self.token_key))
        if 0 <= ttl_ms < REFRESH_AHEAD_SECONDS * 1000:
            # Near its end: whoever gets the lock fetches a successor; the token
            # is still valid, so nobody waits for that.
            try:
                fresh = self._refresh_if_locked(stale=token, only_if_expiring=True)
            except (WeChatClientException, requests.RequestException) as exc:
                log.warning("early access_token refresh failed, keeping the current one: %s", exc)
                fresh = None
            if fresh is not None:
                return fresh
        return token

    def refresh(self, stale: str | None = None) -> str:
        """A token other than ``stale`` (None: any token), fetching one if nobody else is."""
        deadline = time.monotonic() + self.wait_seconds
        while True:
            current = self.stored()
            if current is not None and current != stale:
                return current
            fresh = self._refresh_if_locked(stale=stale)
            if fresh is not None:
                return fresh
            if time.monotonic() >= deadline:
                raise AccessTokenUnavailable("timed out waiting for another process's refresh")
            time.sleep(POLL_SECONDS)

    def _refresh_if_locked(self, stale: str | None, only_if_expiring: bool = False) -> str | None:
        """Fetch and store a token if this process wins the lock; None if another holds it."""
        owner = secrets.token_hex(8)
        if not self.conn.set(self.lock_key, owner, nx=True, px=self.lock_ms):
            return None
        try:
            # Re-read under the lock: the previous holder may have just stored one.
            current = self.stored()
            if current is not None and current != stale:
                return current
            if only_if_expiring:
                ttl_ms = self.conn.pttl(self.storage.key_name(self.token_key))
                if current is not None and ttl_ms >= REFRESH_AHEAD_SECONDS * 1000:
                    return current
            token, expires_in = self.fetch()
            ttl = max(int(expires_in) - EXPIRY_MARGIN_SECONDS, 1)
            self.storage.set(self.token_key, token, ttl=ttl)
            log.info("fetched a new WeChat access_token (valid %d s)", expires_in)
            return token
        finally:
            self._release(keys=[self.lock_key], args=[owner])
