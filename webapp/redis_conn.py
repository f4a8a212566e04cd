"""The app's Redis: which server (``REDIS_URL``, else the embedded one in the instance
folder) and one shared fail-fast client per app (``core.redis`` builds both).

RQ workers block on their queues for longer and use clients of their own
(``core.queues.worker_connection``).
"""
from __future__ import annotations

import functools

import redis
from flask import Flask, current_app

from core.redis import APP_CLIENT_KEY, embedded_redis_url, fail_fast_client


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
    # Everything below the web layer reaches the same shared client through this
    # (core.redis.shared_client), without importing webapp.
    app.extensions[APP_CLIENT_KEY] = functools.partial(get_redis, app)


def get_redis(app: Flask | None = None) -> redis.Redis:
    """Shared Redis client for the current app (bytes responses, as RQ expects)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    client = app.extensions.get("chatshop.redis")
    if client is None:
        client = fail_fast_client(
            resolve_redis_url(app),
            connect_timeout=app.config.get("REDIS_CONNECT_TIMEOUT_SECONDS"),
            socket_timeout=app.config.get("REDIS_SOCKET_TIMEOUT_SECONDS"),
        )
        app.extensions["chatshop.redis"] = client
    return client
