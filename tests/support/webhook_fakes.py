"""Stand-ins for what the WeChat webhook calls: the storefront and the customer-service sender."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from bots.messages import Inbound, Reply, TextReply


class FakeStorefront:
    """Records every call; answers with ``answer(inbound)`` (default: echo the input).

    The quick path (answers in the request, no pool) declines unless ``quick`` is
    set, so by default every turn runs in the pool under the reply deadline.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, Inbound]] = []
        self.quick_calls: list[tuple[str, Inbound]] = []
        self.held: list[Any] = []
        self.lock = threading.Lock()
        self.quick = False
        self.answer: Callable[[Inbound], list[Reply]] = lambda i: [
            TextReply(f"{i.kind}:{i.text}:{i.scene}")
        ]

    def __call__(self, session: Any, openid: str, inbound: Inbound,
                 held: Any = None) -> list[Reply]:
        with self.lock:
            self.calls.append((openid, inbound))
            self.held.append(held)
        return self.answer(inbound)

    def answer_quickly(self, openid: str, inbound: Inbound, held: Any) -> list[Reply] | None:
        """The quick path: ``answer`` when ``quick`` is set (counted in ``calls`` too)."""
        with self.lock:
            self.quick_calls.append((openid, inbound))
        if not self.quick:
            return None
        with self.lock:
            self.calls.append((openid, inbound))
            self.held.append(held)
        return self.answer(inbound)


class FakeOutbound:
    """Records customer-service sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[Reply], str]] = []
        self.keys: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, openid: str, replies: list[Reply], reason: str, key: str) -> None:
        with self.lock:
            self.sent.append((openid, list(replies), reason))
            self.keys.append(key)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[str, list[Reply], str]]:
        """Block until ``count`` sends were recorded."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.sent) >= count:
                    return list(self.sent)
            time.sleep(0.01)
        raise AssertionError(f"expected {count} customer-service sends, got {self.sent}")
