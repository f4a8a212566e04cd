"""Lua scripts run by SHA1, each made once per process.

redis-py's ``register_script`` builds a Script object (and hashes its source) per
call; the chat path runs a script on every message, so each script here is
hashed once at import and sent as ``EVALSHA``, loading it on the first NOSCRIPT
(a new or restarted server).
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import redis
from redis.exceptions import NoScriptError


class Lua:
    """One Lua script."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode("utf-8")).hexdigest()

    def __call__(self, conn: redis.Redis, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run the script with ``keys`` and ``args``; its reply."""
        try:
            return conn.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            conn.script_load(self.source)
            return conn.evalsha(self.sha, len(keys), *keys, *args)
