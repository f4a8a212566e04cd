"""One storefront turn per WeChat message or event, however often WeChat retries it.

A turn's record lives in Redis under a key derived from the message's retry
identity (see ``bots.wechat.inbound``). ``SET NX`` makes exactly one request the
owner, in every process; the owner stores the passive answer when done, and a
retry gets that answer, or ``success`` while the owner is still running. The
record is never deleted before its TTL, so a retry never runs a side effect again.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import redis

TURN_PREFIX = "chatshop:wechat:turn:"
NONCE_PREFIX = "chatshop:wechat:nonce:"
RUNNING = b"running"
DONE = b"done:"


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a turn."""

    owner: bool  # this request runs the turn
    answer: str | None = None  # a finished turn's passive answer ("" = success); None = running


def turn_id(identity: str) -> str:
    """A fixed-size id for a turn (hashed: identities carry user-controlled text)."""
    return hashlib.sha256(identity.encode("utf-8", "replace")).hexdigest()


def turn_key(identity: str) -> str:
    """The Redis key of a turn."""
    return TURN_PREFIX + turn_id(identity)


def claim(conn: redis.Redis, identity: str, ttl: int) -> Claim:
    """Become the owner of this turn, or learn what its owner answered."""
    key = turn_key(identity)
    if conn.set(key, RUNNING, nx=True, ex=ttl):
        return Claim(owner=True)
    state = conn.get(key)
    if isinstance(state, bytes) and state.startswith(DONE):
        return Claim(owner=False, answer=state[len(DONE):].decode("utf-8"))
    # Running, or expired between the two calls: both mean "already handled".
    return Claim(owner=False)


def finish(conn: redis.Redis, identity: str, answer: str, ttl: int) -> None:
    """Record the owner's passive answer ("" when the replies went another way)."""
    conn.set(turn_key(identity), DONE + answer.encode("utf-8"), ex=ttl)


def bind_nonce(conn: redis.Redis, timestamp: str, nonce: str, body: bytes, ttl: int) -> bool:
    """Tie a signed (timestamp, nonce) to the first body seen with it; False for another body.

    A plaintext request's signature does not cover its body, so without this a
    captured query string could carry any message for the whole replay window.
    """
    key = NONCE_PREFIX + hashlib.sha256(f"{timestamp}\x1f{nonce}".encode()).hexdigest()
    digest = hashlib.sha256(body).hexdigest().encode()
    if conn.set(key, digest, nx=True, ex=ttl):
        return True
    return conn.get(key) in (digest, None)
