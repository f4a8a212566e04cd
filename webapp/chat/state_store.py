"""Dialogue state in Redis: one JSON value per user with a TTL, plus the checkout claims.

The engine itself decides when a list or a checkout has gone stale (after
``CHAT_IDLE_SECONDS`` of silence, 30 min by default) so that it can say so; the
Redis key lives longer (``CHAT_STATE_TTL_SECONDS``, a day) only so that the
engine still sees the old state and can explain, after which Redis forgets it.
"""
from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis

from bots.dialogue.state import State
from webapp.chat.lua import Lua

STATE_TTL_SECONDS = 24 * 3600
CLAIM_TTL_SECONDS = 24 * 3600
LOCK_SECONDS = 15  # longer than any webhook request may take
_PENDING = b"pending"
# Polling a busy user lock: the first retries come quickly (a double tap's first
# turn takes milliseconds), then back off.
_FIRST_POLL_SECONDS = 0.005
_MAX_POLL_SECONDS = 0.05

# Take the user's lock and, only if taken, read the state: one round trip, and the
# state read is the one the previous holder left. Replies {1, state or false} or {0}.
_LOCK_AND_LOAD = Lua("""
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1, redis.call('GET', KEYS[2])}
end
return {0}
""")

# Store (ARGV[2] 'save': ARGV[3] for ARGV[4] s) or forget ('clear') the state, or leave
# it ('keep'), then release the lock if ARGV[1] still holds it: a lock that expired
# and was taken by another turn is not ours to release. The state is written even
# then, as it was before this script: the user has seen this turn's replies.
# Replies 1 when the lock was released, 0 when it was no longer ours.
_SAVE_AND_RELEASE = Lua("""
if ARGV[2] == 'save' then
  redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4])
elseif ARGV[2] == 'clear' then
  redis.call('DEL', KEYS[2])
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
""")


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


class Conversation:
    """One turn's hold on a user: the state read under the lock, and what to leave behind.

    ``save`` and ``clear`` take effect when the turn ends, together with releasing
    the lock (``StateStore.conversation``).
    """

    def __init__(self, state: State) -> None:
        self.state = state
        self.outcome = "keep"
        self.saved: State | None = None

    def save(self, state: State) -> None:
        """Store ``state`` (restarting its TTL) when the turn ends."""
        self.outcome, self.saved = "save", state

    def clear(self) -> None:
        """Forget the user's state when the turn ends."""
        self.outcome, self.saved = "clear", None


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

    @staticmethod
    def _lock_key(openid: str) -> str:
        return f"chat:lock:{openid}"

    def _acquire(self, openid: str, token: str, wait_seconds: float) -> State:
        """Take the user's lock and read the state in one go; Busy after ``wait_seconds``."""
        keys = [self._lock_key(openid), self._key(openid)]
        args = [token, LOCK_SECONDS * 1000]
        deadline = time.monotonic() + wait_seconds
        pause = _FIRST_POLL_SECONDS
        while True:
            reply = _LOCK_AND_LOAD(self.redis, keys, args)
            if reply[0] == 1:
                return State.from_json(reply[1] if len(reply) > 1 else None)
            left = deadline - time.monotonic()
            if left <= 0:
                raise Busy(openid)
            time.sleep(min(pause, left))
            pause = min(pause * 2, _MAX_POLL_SECONDS)

    def _release(self, openid: str, token: str, outcome: str, state: State | None) -> bool:
        """Leave the state as ``outcome`` says and release the lock, in one round trip."""
        data = state.to_json() if state is not None else ""
        released = _SAVE_AND_RELEASE(
            self.redis, [self._lock_key(openid), self._key(openid)],
            [token, outcome, data, self.ttl],
        )
        return bool(released)

    @contextmanager
    def conversation(self, openid: str, wait_seconds: float = 2.0) -> Iterator[Conversation]:
        """Hold the user's conversation lock with the state it protects.

        Two quick messages are answered in turn: the second waits for the first
        and reads the state it left. Raises Busy if the previous message is still
        being answered after ``wait_seconds``. A ``save`` or ``clear`` on the
        conversation is written when the block ends normally; after an exception
        the state stays as it was. Two round trips in all.
        """
        token = secrets.token_hex(16)
        convo = Conversation(self._acquire(openid, token, wait_seconds))
        outcome = "keep"
        try:
            yield convo
            outcome = convo.outcome
        finally:
            self._release(openid, token, outcome, convo.saved)

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
