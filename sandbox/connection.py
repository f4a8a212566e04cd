"""The sandbox's Redis client: handed in by whoever mounts the sandbox.

The sandbox keeps its own state (WeChat's users, orders, tokens, clock) in Redis.
It does not know how the app reaches Redis: ``register_sandbox`` takes a factory
for the client, and without one the sandbox opens its own client on the app's
``REDIS_URL``.
"""
from __future__ import annotations

from collections.abc import Callable

import redis
from flask import Flask, current_app

FACTORY_KEY = "sandbox.redis_factory"

RedisFactory = Callable[[], "redis.Redis"]


def install(app: Flask, factory: RedisFactory | None) -> None:
    """Remember how the sandbox mounted on ``app`` gets its Redis client."""
    app.extensions[FACTORY_KEY] = factory or _own_client(app)


def _own_client(app: Flask) -> RedisFactory:
    """A factory for one client on REDIS_URL, made on first use (the URL may be set late)."""
    made: list[redis.Redis] = []

    def client() -> redis.Redis:
        if not made:
            url = str(app.config.get("REDIS_URL") or "")
            if not url:
                raise RuntimeError("the WeChat sandbox needs REDIS_URL or a redis_factory")
            made.append(redis.Redis.from_url(url))
        return made[0]

    return client


def get_redis() -> redis.Redis:
    """The Redis client of the sandbox mounted on the current app."""
    factory: RedisFactory | None = current_app.extensions.get(FACTORY_KEY)
    if factory is None:
        raise RuntimeError("the WeChat sandbox is not mounted on this app (register_sandbox)")
    return factory()
