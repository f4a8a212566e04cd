"""Lua scripts run by SHA1, each made once per process, and lines to run them on.

redis-py's ``register_script`` builds a Script object (and hashes its source) per
call; the chat path runs a script on every message, so each script here is
hashed once at import and sent as ``EVALSHA``, loading it on the first NOSCRIPT
(a new or restarted server).

A :class:`ScriptLine` runs scripts on connections of its own, where a script's
reply may be left in the socket (:meth:`ScriptLine.send`) and read by whoever
uses that connection next. A webhook request sends its last script that way and
answers at once: the script reaches Redis before the answer leaves, and the
request does not sit blocked for a reply it does not need.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)


class Lua:
    """One Lua script."""

    def __init__(self, source: str, name: str = "script") -> None:
        self.source = source
        self.name = name  # for the log
        self.sha = hashlib.sha1(source.encode("utf-8")).hexdigest()

    def __call__(
        self, conn: redis.Redis | ScriptLine, keys: Sequence[str], args: Sequence[Any]
    ) -> Any:
        """Run the script with ``keys`` and ``args``; its reply."""
        if isinstance(conn, ScriptLine):
            return conn.call(self, keys, args)
        # execute_command rather than evalsha: the same command, without the per-call
        # argument inspection of evalsha's deprecation wrapper (two calls per message).
        try:
            return conn.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)
        except NoScriptError:
            conn.script_load(self.source)
            return conn.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)


class _Connection:
    """One connection of a line, and the script whose reply it still owes, if any."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.owed: Lua | None = None

    def settle(self) -> None:
        """Read the reply a sent script left; a failure is logged (its sender is gone)."""
        owed, self.owed = self.owed, None
        if owed is None:
            return
        try:
            self.conn.read_response()
        except (RedisConnectionError, RedisTimeoutError) as exc:
            # Redis went away: whoever sends next on this connection finds out too.
            self.conn.disconnect()
            log.warning("redis: the %s script sent without waiting was lost (%s: %s)",
                        owed.name, type(exc).__name__, exc)
        except RedisError as exc:  # an error reply
            log.error("redis: the %s script sent without waiting failed: %s", owed.name, exc)

    def _drop_if_stale(self) -> None:
        """Disconnect if the server closed this idle connection (it restarted, or dropped
        us); else the next command would be written into a dead TCP socket and its
        reply read as a failure, although nothing reached Redis."""
        if self.owed is not None or not self.conn.is_connected:
            return
        try:
            stale = self.conn.can_read(timeout=0)  # nothing is owed: readable means closed
        except (RedisConnectionError, OSError):
            stale = True
        if stale:
            self.conn.disconnect()

    def _send(self, *command: Any) -> None:
        self._drop_if_stale()
        try:
            self.conn.send_command(*command)
        except RedisConnectionError:
            # Nothing reached Redis (a server restarted since this connection was
            # last used): once more on a fresh connection. A failed read is never
            # retried, as the script may have run.
            self.conn.send_command(*command)

    def call(self, script: Lua, keys: Sequence[str], args: Sequence[Any]) -> Any:
        self.settle()
        self._send("EVALSHA", script.sha, len(keys), *keys, *args)
        try:
            return self.conn.read_response()
        except NoScriptError:
            self._send("EVAL", script.source, len(keys), *keys, *args)
            return self.conn.read_response()

    def send(self, script: Lua, keys: Sequence[str], args: Sequence[Any]) -> None:
        self.settle()
        # EVAL with the source, not EVALSHA: a NOSCRIPT found only by the next user
        # of this connection would mean the script never ran.
        self._send("EVAL", script.source, len(keys), *keys, *args)
        self.owed = script


class ScriptLine:
    """Runs scripts on connections of its own (same settings as ``client``'s), thread-safe.

    Calls through one line happen in order when they come one at a time (a sync
    web worker): each use first reads whatever reply the previous one left, so a
    request always sees the effects of the scripts its worker sent before.
    """

    def __init__(self, client: redis.Redis) -> None:
        """Connections like ``client``'s, made as needed (one per concurrent user)."""
        pool = client.connection_pool
        self._make = lambda: pool.connection_class(**pool.connection_kwargs)
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()

    @contextmanager
    def _connection(self) -> Iterator[_Connection]:
        if os.getpid() != self._pid:  # a forked child must not share the parent's sockets
            with self._lock:
                self._idle, self._pid = [], os.getpid()
        with self._lock:
            held = self._idle.pop() if self._idle else None
        if held is None:
            held = _Connection(self._make())
        try:
            yield held
        except BaseException:
            # Its state is unknown (half a command sent, a reply unread): start afresh.
            held.conn.disconnect()
            held.owed = None
            raise
        finally:
            with self._lock:
                self._idle.append(held)

    def call(self, script: Lua, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run ``script`` and wait for its reply (after settling what the connection owed)."""
        with self._connection() as held:
            return held.call(script, keys, args)

    def send(self, script: Lua, keys: Sequence[str], args: Sequence[Any]) -> None:
        """Send ``script`` without waiting: its reply is read (a failure logged) by the
        next use of the connection."""
        with self._connection() as held:
            held.send(script, keys, args)

    def settle(self) -> None:
        """Read every reply still owed (tests, and before handing the state to others)."""
        with self._lock:
            idle = list(self._idle)
        for held in idle:
            with self._lock:
                if held not in self._idle:
                    continue  # in use: its user settles it
                self._idle.remove(held)
            try:
                held.settle()
            finally:
                with self._lock:
                    self._idle.append(held)
