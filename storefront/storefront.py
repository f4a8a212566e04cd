"""The chat storefront: what the WeChat adapter calls for every message or event.

``respond`` loads the user's dialogue state from Redis, lets the pure engine
(:mod:`bots.dialogue.engine`) decide, carries out the intents it asks for
through :class:`storefront.executor.Executor`, feeds each result back to the
engine and saves the new state. Messages of one user are answered one at a
time (a Redis lock), so a double tap sees the state the first tap left; taking
the lock reads the state and releasing it writes the new one (two round trips).

The WeChat adapter takes the lock itself, in the script that claims the turn
(:func:`lock_request`), and passes the held conversation in; it then first tries
:func:`respond_quickly`, which answers from memory alone (the follower cache and
the browse cache) or not at all, so most browsing is answered in the request
without its worker pool, and everything else still runs under the reply deadline.
"""
from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict, deque
from typing import Any

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from adapters.wechat.pay_v2 import kept_gateway
from bots.dialogue import events as ev
from bots.dialogue import intents as it
from bots.dialogue.engine import Context, on_event, on_input
from bots.dialogue.intents import Intent
from bots.dialogue.state import State
from bots.dialogue.texts import say
from bots.messages import Inbound, InboundKind, Reply, TextReply
from core.actors import Actor
from core.errors import DomainError
from core.redis import shared_client
from core.settings import Settings, settings_in
from shop.identity import ensure_wechat_user
from storefront.browse_cache import NotCached, cached_only
from storefront.executor import Executor
from storefront.state_store import (
    Busy,
    Conversation,
    LockRequest,
    StateStore,
)

log = logging.getLogger(__name__)

MAX_INTENTS = 8  # per message; the engine needs at most two, this only stops a loop
# What respond_quickly may carry out: lists the executor serves from the browse cache.
QUICK_INTENTS = (it.ShowCategories, it.ShowProducts, it.SearchProducts)


def _settings() -> Settings:
    """The running app's settings (the webhook's turn runs in its context)."""
    return settings_in(current_app.extensions)


def state_store() -> StateStore:
    """The dialogue state store of the current app."""
    ttl = _settings().chat_state_ttl_seconds
    return StateStore(shared_client(current_app.extensions), ttl)


def lock_request(openid: str) -> LockRequest:
    """What taking ``openid``'s conversation lock elsewhere needs (a fresh token)."""
    return state_store().lock_request(openid)


def respond(
    session: Session, openid: str, inbound: Inbound, held: Conversation | None = None
) -> list[Reply]:
    """Answer one user action; an empty list means nothing to say (answer "success").

    ``held``: the user's conversation, its lock already taken by the caller, who
    also releases it (and writes what ``held`` says to leave); without it the lock
    is taken and released here. Never raises for anything the user sent;
    unexpected failures are logged and answered with an apology (and the state is
    left as it was). Runs inside an app context.
    """
    store = state_store()
    try:
        if held is not None:
            try:
                return _respond(session, store, held, openid, inbound)
            except BaseException:
                held.keep()
                raise
        wait = _settings().chat_lock_wait_seconds
        with store.conversation(openid, wait_seconds=wait) as convo:
            return _respond(session, store, convo, openid, inbound)
    except Busy:
        return [TextReply(say("zh", "internal"))]
    except DomainError as exc:  # e.g. an openid WeChat would never send
        log.warning("chat: refused message from %r: %s", openid, exc.message)
        session.rollback()
        return [TextReply(say("zh", "help"))]
    except RedisError as exc:  # Redis went away mid-turn: a known cause, one line in the log
        log.warning("chat: answering %r failed, Redis unreachable (%s: %s)",
                    openid, type(exc).__name__, exc)
        session.rollback()
        return [TextReply(say("zh", "internal"))]
    except Exception:  # noqa: BLE001 - the user gets an apology, the log the details
        log.exception("chat: answering %r failed", openid)
        session.rollback()
        return [TextReply(say("zh", "internal"))]


class _NeedsDatabase(BaseException):  # noqa: N818 - a signal, not an error
    """respond_quickly met something only the database can answer (see NotCached)."""


class _NoDatabase:
    """The session respond_quickly hands the executor: any use gives up the quick path."""

    def __getattr__(self, name: str) -> Any:
        raise _NeedsDatabase(name)


def respond_quickly(openid: str, inbound: Inbound, held: Conversation) -> list[Reply] | None:
    """``respond`` for a held conversation, if it can be done from memory alone; else None.

    Memory alone: the sender is in the follower cache and every intent is a list
    already in the browse cache, so nothing here waits for the database and the
    caller may run it without a deadline. On None nothing happened (the engine is
    pure) and ``held`` is untouched: the caller goes on with :func:`respond`.
    """
    actor = _followers().cached(openid, inbound.kind)
    if actor is None:
        return None
    try:
        with cached_only():
            replies, state = _converse(
                _NoDatabase(), state_store(), actor, openid, held.state, inbound, quick=True
            )
    except (NotCached, _NeedsDatabase):
        return None
    if state != held.state:
        held.save(state)
    return replies


class _FollowerCache:
    """Who is behind an openid, remembered briefly per process.

    Every chat message needs the user's id and roles; followers write many
    messages in a row, so this saves a database round trip on most of them.
    Follow and unfollow always go to the database (they change the row), and
    entries expire after ``ttl`` seconds so a role granted meanwhile is seen.
    """

    def __init__(self, ttl: float = 60.0, size: int = 50_000) -> None:
        self.ttl, self.size = ttl, size
        self._entries: OrderedDict[str, tuple[float, Actor]] = OrderedDict()
        self._lock = threading.Lock()

    def cached(self, openid: str, kind: InboundKind) -> Actor | None:
        """The remembered actor for ``openid``, if any and if ``kind`` may use it."""
        if kind in (InboundKind.SUBSCRIBE, InboundKind.UNSUBSCRIBE):
            return None
        with self._lock:
            entry = self._entries.get(openid)
        if entry is not None and time.monotonic() - entry[0] < self.ttl:
            return entry[1]
        return None

    def actor(self, session: Session, openid: str, kind: InboundKind) -> Actor:
        """The actor for ``openid``, creating the user on first contact."""
        now = time.monotonic()
        known = self.cached(openid, kind)
        if known is not None:
            return known
        leaving = kind is InboundKind.UNSUBSCRIBE
        actor = Actor.of(ensure_wechat_user(session, openid, subscribed=not leaving))
        with self._lock:
            if leaving:
                self._entries.pop(openid, None)
            else:
                self._entries[openid] = (now, actor)
                self._entries.move_to_end(openid)
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        return actor

    def clear(self) -> None:
        """Forget everyone (tests)."""
        with self._lock:
            self._entries.clear()


def _followers() -> _FollowerCache:
    """The current app's follower cache (per app: tests build many apps in one process)."""
    cache: _FollowerCache | None = current_app.extensions.get("chatshop.chat_followers")
    if cache is None:
        cache = current_app.extensions.setdefault("chatshop.chat_followers", _FollowerCache())
    return cache


def _respond(
    session: Session, store: StateStore, convo: Conversation, openid: str, inbound: Inbound
) -> list[Reply]:
    leaving = inbound.kind is InboundKind.UNSUBSCRIBE
    actor = _followers().actor(session, openid, inbound.kind)
    if leaving:
        convo.clear()
        return []
    replies, state = _converse(session, store, actor, openid, convo.state, inbound)
    if state != convo.state:  # most browse commands leave nothing new to remember
        convo.save(state)
    return replies


def _converse(
    session: Any, store: StateStore, actor: Actor, openid: str, loaded: State,
    inbound: Inbound, quick: bool = False,
) -> tuple[list[Reply], State]:
    """The engine's turn with its intents carried out: the replies and the new state.

    ``quick``: raise _NeedsDatabase before carrying out an intent not in QUICK_INTENTS,
    and rather than pass on a failure (which the full path may not have had).
    """
    settings = _settings()
    ctx = Context(
        now=time.time(),
        nonce=secrets.token_urlsafe(12),
        idle_seconds=settings.chat_idle_seconds,
    )
    turn = on_input(loaded, inbound, ctx)
    state, replies = turn.state, list(turn.replies)
    pending: deque[Intent] = deque(turn.intents)
    executor = Executor(
        session, actor, openid, store, settings,
        kept_gateway(current_app.extensions, settings),
    ) if pending else None
    done = 0
    while executor is not None and pending and done < MAX_INTENTS:
        intent = pending.popleft()
        if quick and not isinstance(intent, QUICK_INTENTS):
            raise _NeedsDatabase(type(intent).__name__)
        event = executor.run(intent)
        if quick and isinstance(event, ev.Failed):
            raise _NeedsDatabase(event.code)
        done += 1
        turn = on_event(state, event, ctx)
        state = turn.state
        replies.extend(turn.replies)
        pending.extend(turn.intents)
    return replies, state
