"""Dialogue state in Redis: one JSON value per user with a TTL, plus the checkout claims.

The engine itself decides when a list or a checkout has gone stale (after
``CHAT_IDLE_SECONDS`` of silence, 30 min by default) so that it can say so; the
Redis key lives longer (``CHAT_STATE_TTL_SECONDS``, a day) only so that the
engine still sees the old state and can explain, after which Redis forgets it.
"""
from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields

import redis

from bots.dialogue.state import State
from storefront.lua import Lua

STATE_TTL_SECONDS = 24 * 3600
CLAIM_TTL_SECONDS = 24 * 3600
LOCK_SECONDS = 15  # longer than any webhook request may take
_PENDING = b"pending"
# Polling a busy user lock: the first retries come quickly (a double tap's first
# turn takes milliseconds), then back off.
_FIRST_POLL_SECONDS = 0.005
_MAX_POLL_SECONDS = 0.05

# Lua functions other scripts build on (storefront.dedupe runs them together with
# the turn claim and the turn record, to save round trips on every message).
#
# take_lock: take the user's lock and, only if taken, read the state, so the state
# read is the one the previous holder left. Returns {1, state or false} or {0}.
#
# leave: store (outcome 'save': data for ttl s) or forget ('clear') the state, or
# leave it ('keep'), then release the lock if token still holds it: a lock that
# expired and was taken by another turn is not ours to release. The state is
# written even then, as it was before these scripts: the user has seen this turn's
# replies. Returns 1 when the lock was released, 0 when it was no longer ours.
LOCK_LUA = """
local function take_lock(lock, state, token, px)
  if redis.call('SET', lock, token, 'NX', 'PX', px) then
    return {1, redis.call('GET', state)}
  end
  return {0}
end
local function leave(lock, state, token, outcome, data, ttl)
  if outcome == 'save' then
    redis.call('SET', state, data, 'EX', ttl)
  elseif outcome == 'clear' then
    redis.call('DEL', state)
  end
  if redis.call('GET', lock) == token then
    redis.call('DEL', lock)
    return 1
  end
  return 0
end
"""

# KEYS: lock, state. ARGV: token, lock PX.
_LOCK_AND_LOAD = Lua(
    LOCK_LUA + "return take_lock(KEYS[1], KEYS[2], ARGV[1], ARGV[2])", name="lock and load"
)

# KEYS: lock, state. ARGV: token, outcome, data, state TTL.
_SAVE_AND_RELEASE = Lua(
    LOCK_LUA + "return leave(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4])",
    name="save and release",
)


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
    the lock (``StateStore.conversation``, or ``storefront.dedupe.finish`` for a
    lock taken with the turn claim).
    """

    def __init__(self, state: State, lock: LockRequest | None = None) -> None:
        self.state = state
        self.lock = lock  # how to release the lock, when the caller holds it itself
        self.outcome = "keep"
        self.saved: State | None = None

    def save(self, state: State) -> None:
        """Store ``state`` (restarting its TTL) when the turn ends."""
        self.outcome, self.saved = "save", state

    def clear(self) -> None:
        """Forget the user's state when the turn ends."""
        self.outcome, self.saved = "clear", None

    def keep(self) -> None:
        """Leave the state as it was (after a failed turn)."""
        self.outcome, self.saved = "keep", None

    def release_keys_and_args(self) -> tuple[list[str], list[str | int]]:
        """KEYS and ARGV for ``LOCK_LUA``'s ``leave``: lock, state; token, outcome, data, TTL."""
        if self.lock is None:
            raise RuntimeError("this conversation's lock is released by StateStore.conversation")
        data = _dump(self.saved) if self.saved is not None else ""
        lock = self.lock
        return [lock.lock_key, lock.state_key], [lock.token, self.outcome, data, lock.state_ttl]


@dataclass(frozen=True)
class LockRequest:
    """What taking a user's lock together with other work needs (``LOCK_LUA``'s take_lock)."""

    lock_key: str
    state_key: str
    token: str
    state_ttl: int

    def keys_and_args(self) -> tuple[list[str], list[str | int]]:
        """KEYS and ARGV for ``take_lock``: lock, state; token, lock PX."""
        return [self.lock_key, self.state_key], [self.token, LOCK_SECONDS * 1000]

    def conversation(self, raw: bytes | str | None) -> Conversation:
        """The conversation held once ``take_lock`` succeeded and read ``raw``."""
        return Conversation(State.from_json(raw), self)


def _dump(state: State) -> str:
    """``state.to_json()``, without its deep copy when the state is plain JSON data."""
    # State.to_json goes through dataclasses.asdict, which deep-copies every nested
    # dict and list; the fields are already JSON values, so they are dumped directly.
    # Anything else (a field type added later) takes the general path.
    fields = vars(state)
    if list(fields) == list(_STATE_FIELDS):
        try:
            return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
        except TypeError:
            pass
    return state.to_json()


_STATE_FIELDS = tuple(f.name for f in dataclass_fields(State))


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
        self.redis.set(self._key(openid), _dump(state), ex=self.ttl)

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

    def lock_request(self, openid: str) -> LockRequest:
        """A fresh token for ``openid``'s lock, for taking it in another script
        (``storefront.dedupe.begin``); the holder releases it with the conversation."""
        return LockRequest(
            self._lock_key(openid), self._key(openid), secrets.token_hex(16), self.ttl
        )

    def _release(self, openid: str, token: str, outcome: str, state: State | None) -> bool:
        """Leave the state as ``outcome`` says and release the lock, in one round trip."""
        data = _dump(state) if state is not None else ""
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
        outcome, saved = "keep", None
        try:
            yield convo
            outcome, saved = convo.outcome, convo.saved
        finally:
            self._release(openid, token, outcome, saved)

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
