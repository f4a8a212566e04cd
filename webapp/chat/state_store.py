"""Dialogue state in Redis: one JSON value per user with a TTL, plus the checkout claims.

The engine itself decides when a list or a checkout has gone stale (after
``CHAT_IDLE_SECONDS`` of silence, 30 min by default) so that it can say so; the
Redis key lives longer (``CHAT_STATE_TTL_SECONDS``, a day) only so that the
engine still sees the old state and can explain, after which Redis forgets it.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis
from redis.exceptions import LockError

from bots.dialogue.state import State

STATE_TTL_SECONDS = 24 * 3600
CLAIM_TTL_SECONDS = 24 * 3600
LOCK_SECONDS = 15  # longer than any webhook request may take
_PENDING = b"pending"


class Busy(Exception):
    """Another message of the same user is still being answered."""


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a checkout token.

    ``won`` means this request owns the token and must create the order; otherwise
    ``number`` is the order already created for it, or None while that is in progress.
    """

    won: bool
    number: str | None = None


class StateStore:
    """Load and save dialogue states, serialise a user's messages, claim checkouts."""

    def __init__(self, client: redis.Redis, ttl_seconds: int = STATE_TTL_SECONDS) -> None:
        """Use ``client``; states expire ``ttl_seconds`` after the last save."""
        self.redis = client
        self.ttl = int(ttl_seconds)

    @staticmethod
    def _key(openid: str) -> str:
        return f"chat:state:{openid}"

    def load(self, openid: str) -> State:
        """The user's state, or a fresh one."""
        return State.from_json(self.redis.get(self._key(openid)))

    def save(self, openid: str, state: State) -> None:
        """Store the state and restart its TTL."""
        self.redis.set(self._key(openid), state.to_json(), ex=self.ttl)

    def clear(self, openid: str) -> None:
        """Forget the user's state."""
        self.redis.delete(self._key(openid))

    @contextmanager
    def user_lock(self, openid: str, wait_seconds: float = 2.0) -> Iterator[None]:
        """Hold the user's conversation lock, so two quick messages are answered in turn.

        Raises Busy if the previous message is still being answered after ``wait_seconds``.
        """
        lock = self.redis.lock(
            f"chat:lock:{openid}", timeout=LOCK_SECONDS, blocking_timeout=wait_seconds
        )
        if not lock.acquire():
            raise Busy(openid)
        try:
            yield
        finally:
            try:
                lock.release()
            except LockError:
                pass  # it expired meanwhile: nothing left to release

    @staticmethod
    def _claim_key(openid: str, token: str) -> str:
        return f"chat:checkout:{openid}:{token}"

    def claim_checkout(self, openid: str, token: str) -> Claim:
        """Atomically take a checkout token; only the first claimant creates the order."""
        key = self._claim_key(openid, token)
        if self.redis.set(key, _PENDING, nx=True, ex=CLAIM_TTL_SECONDS):
            return Claim(won=True)
        value = self.redis.get(key)
        if value is None or value == _PENDING:
            return Claim(won=False)
        number = value.decode("utf-8") if isinstance(value, bytes) else str(value)
        return Claim(won=False, number=number)

    def settle_checkout(self, openid: str, token: str, number: str) -> None:
        """Record the order created for a claimed token."""
        self.redis.set(self._claim_key(openid, token), number, ex=CLAIM_TTL_SECONDS)

    def release_checkout(self, openid: str, token: str) -> None:
        """Give a claimed token back after checkout failed, so the user may try again."""
        self.redis.delete(self._claim_key(openid, token))
