"""One storefront turn per WeChat message or event, however often WeChat retries it.

A turn's record lives in Redis under a key derived from the message's retry
identity (see ``adapters.wechat.messages.inbound``). ``SET NX`` makes exactly one request the
owner, in every process; the owner stores the passive answer when done, and a
retry gets that answer, or ``success`` while the owner is still running. The
record is never deleted before its TTL, so a retry never runs a side effect again.

``begin`` does everything a request needs before its turn in one round trip (one
Lua script, so atomic): tie a plaintext request's signed nonce to its body, claim
the turn, and for the owner only, note the user's interaction for the
customer-service quotas (``storefront.outbound``) and try to take the user's
conversation lock, reading the dialogue state (``storefront.state_store``).
``finish`` likewise records the answer and, when the lock was taken by ``begin``,
leaves the state and releases the lock in the same script. A message thus costs
two scripts when the user is not busy with another one, and a request answered
from memory waits for the first only (``finish(wait=False)``).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import redis

from storefront.lua import Lua, ScriptLine
from storefront.outbound import NOTE_LUA, InteractionNote
from storefront.state_store import LOCK_LUA, Conversation, LockRequest

TURN_PREFIX = "chatshop:wechat:turn:"
NONCE_PREFIX = "chatshop:wechat:nonce:"
RUNNING = b"running"
DONE = b"done:"


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a turn."""

    owner: bool  # this request runs the turn
    answer: str | None = None  # a finished turn's passive answer ("" = success); None = running
    replayed: bool = False  # the signed nonce came with another body: refuse, claim nothing
    # The owner's conversation when ``begin`` was asked for the lock and got it; None
    # when not asked, or when another message of the user holds it.
    held: Conversation | None = None


@dataclass(frozen=True)
class NonceBinding:
    """A plaintext request's signed (timestamp, nonce), to be tied to its body."""

    key: str
    digest: bytes
    ttl: int


# KEYS: turn record, then the nonce binding when ARGV[2] ~= '', then the quota hash
# when ARGV[4] ~= '', then lock and state when ARGV[9] and ARGV[10] are given.
# ARGV: 1 turn TTL, 2 body digest, 3 nonce TTL, 4..8 the note's arguments (kind,
# now, msg used, evt used, TTL), 9 lock token, 10 lock PX. Replies {'replayed'}, {'retry', record},
# {'owner'} (no lock asked), or {'owner', 1, state or false} / {'owner', 0} with the
# lock taken or busy.
_BEGIN = Lua(NOTE_LUA + LOCK_LUA + """
local k = 2
if ARGV[2] ~= '' then
  local nonce = KEYS[k]
  k = k + 1
  if not redis.call('SET', nonce, ARGV[2], 'NX', 'EX', ARGV[3]) then
    local bound = redis.call('GET', nonce)
    if bound and bound ~= ARGV[2] then
      return {'replayed'}
    end
  end
end
if not redis.call('SET', KEYS[1], 'running', 'NX', 'EX', ARGV[1]) then
  return {'retry', redis.call('GET', KEYS[1])}
end
if ARGV[4] ~= '' then
  note_interaction(redis.pcall, KEYS[k], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
  k = k + 1
end
if #ARGV >= 10 then
  local got = take_lock(KEYS[k], KEYS[k + 1], ARGV[9], ARGV[10])
  return {'owner', got[1], got[2]}
end
return {'owner'}
""", name="turn claim")

# KEYS: turn record, then lock and state when ARGV[3] ~= ''. ARGV: 1 turn TTL,
# 2 record, 3.. ``leave``'s token, outcome, data, state TTL.
_FINISH = Lua(LOCK_LUA + """
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[1])
if ARGV[3] ~= '' then
  leave(KEYS[2], KEYS[3], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
end
return 1
""", name="turn finish")


def turn_id(identity: str) -> str:
    """A fixed-size id for a turn (hashed: identities carry user-controlled text)."""
    return hashlib.sha256(identity.encode("utf-8", "replace")).hexdigest()


def turn_key(identity: str) -> str:
    """The Redis key of a turn."""
    return TURN_PREFIX + turn_id(identity)


def nonce_binding(timestamp: str, nonce: str, body: bytes, ttl: int) -> NonceBinding:
    """What ``begin`` needs to tie a signed (timestamp, nonce) to ``body``.

    A plaintext request's signature does not cover its body, so without this a
    captured query string could carry any message for the whole replay window.
    """
    key = NONCE_PREFIX + hashlib.sha256(f"{timestamp}\x1f{nonce}".encode()).hexdigest()
    return NonceBinding(key, hashlib.sha256(body).hexdigest().encode(), ttl)


def begin(
    conn: redis.Redis | ScriptLine,
    identity: str,
    ttl: int,
    *,
    nonce: NonceBinding | None = None,
    note: InteractionNote | None = None,
    lock: LockRequest | None = None,
) -> Claim:
    """Bind the nonce (if given), claim the turn, and if we own it, note the interaction
    and try to take ``lock`` (``Claim.held``: release it with :func:`finish`).

    A nonce already bound to another body refuses the request before anything is
    claimed or noted (``Claim.replayed``). A retry never touches the lock.
    """
    keys = [turn_key(identity)]
    args: list[str | int | bytes] = [ttl, "", 0]
    if nonce is not None:
        keys.append(nonce.key)
        args[1:3] = [nonce.digest, nonce.ttl]
    if note is not None:
        keys.append(note.key)
        args.extend(note.args)
    else:
        args.extend(("", "", "", "", ""))
    if lock is not None:
        lock_keys, lock_args = lock.keys_and_args()
        keys.extend(lock_keys)
        args.extend(lock_args)
    reply = _BEGIN(conn, keys, args)
    status = reply[0]
    if status == b"owner":
        if len(reply) > 1 and reply[1] == 1 and lock is not None:
            return Claim(owner=True, held=lock.conversation(reply[2] if len(reply) > 2 else None))
        return Claim(owner=True)
    if status == b"replayed":
        return Claim(owner=False, replayed=True)
    state = reply[1] if len(reply) > 1 else None
    if isinstance(state, bytes) and state.startswith(DONE):
        return Claim(owner=False, answer=state[len(DONE):].decode("utf-8"))
    return Claim(owner=False)  # still running


def claim(conn: redis.Redis, identity: str, ttl: int) -> Claim:
    """Become the owner of this turn, or learn what its owner answered."""
    return begin(conn, identity, ttl)


def finish(
    conn: redis.Redis | ScriptLine, identity: str, answer: str, ttl: int,
    release: Conversation | None = None, wait: bool = True,
) -> None:
    """Record the owner's passive answer ("" when the replies went another way); with
    ``release`` (a conversation ``begin`` held), also leave its state and release it.

    ``wait=False`` on a :class:`ScriptLine`: send it without waiting for the reply. It
    is then written as soon as Redis reads it, in any case before a retry that WeChat
    sends because our answer never arrived (it waits 5 s), and any failure is logged
    by the next user of the connection. Another message of the same user that
    overtakes it finds the lock still held and waits, as for any running turn.
    """
    keys = [turn_key(identity)]
    args: list[str | int | bytes] = [ttl, DONE + answer.encode("utf-8")]
    if release is not None:
        release_keys, release_args = release.release_keys_and_args()
        keys.extend(release_keys)
        args.extend(release_args)
    else:
        args.append("")
    if not wait and isinstance(conn, ScriptLine):
        conn.send(_FINISH, keys, args)
    else:
        _FINISH(conn, keys, args)


def bind_nonce(conn: redis.Redis, timestamp: str, nonce: str, body: bytes, ttl: int) -> bool:
    """Tie a signed (timestamp, nonce) to the first body seen with it; False for another body."""
    binding = nonce_binding(timestamp, nonce, body, ttl)
    if conn.set(binding.key, binding.digest, nx=True, ex=ttl):
        return True
    return conn.get(binding.key) in (binding.digest, None)
