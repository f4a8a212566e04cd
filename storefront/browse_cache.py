"""A short-lived, per-process cache of what browsing shows (category and product lists).

Every follower asking for 分类 or searching 茶 gets the same list; recomputing
it costs two or three queries per message. Lists may lag the database by up to
``ttl`` seconds (a price or stock figure in a list); a product's own page, the
cart and checkout always read the database, so nothing is sold on stale data.

Inside :func:`cached_only` a miss raises :class:`NotCached` instead of computing:
the storefront answers a message in the web request itself only when it can do
so from memory, and hands it to its worker pool (with its reply deadline) otherwise.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from flask import current_app

from core.settings import settings_in

T = TypeVar("T")

_cached_only: ContextVar[bool] = ContextVar("chatshop_browse_cached_only", default=False)


class NotCached(BaseException):  # noqa: N818 - a signal, not an error
    """A value was missing inside :func:`cached_only`.

    A BaseException, like GeneratorExit, so that the ``except Exception`` of the
    code between the cache and whoever asked for ``cached_only`` (the executor
    turns every Exception into a "sorry" event) lets it through untouched.
    """


@contextmanager
def cached_only() -> Iterator[None]:
    """Within the block, a cache miss raises :class:`NotCached` (this thread only)."""
    token = _cached_only.set(True)
    try:
        yield
    finally:
        _cached_only.reset(token)


class BrowseCache:
    """Values by key for ``ttl`` seconds, at most ``size`` of them."""

    def __init__(self, ttl: float = 10.0, size: int = 1024) -> None:
        self.ttl, self.size = ttl, size
        self._entries: OrderedDict[Hashable, tuple[float, object]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The cached value for ``key``, computing (outside the lock) when missing or old."""
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and now - entry[0] < self.ttl:
            return entry[1]  # type: ignore[return-value]
        if _cached_only.get():
            raise NotCached(key)
        value = compute()
        with self._lock:
            self._entries[key] = (now, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value


def browse_cache() -> BrowseCache:
    """The current app's cache; CHAT_BROWSE_CACHE_SECONDS=0 turns it off."""
    cache: BrowseCache | None = current_app.extensions.get("chatshop.browse_cache")
    if cache is None:
        ttl = float(settings_in(current_app.extensions).chat_browse_cache_seconds)
        cache = current_app.extensions.setdefault("chatshop.browse_cache", BrowseCache(ttl))
    return cache
