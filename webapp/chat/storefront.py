"""The chat storefront: what the WeChat adapter calls for every message or event.

``respond`` loads the user's dialogue state from Redis, lets the pure engine
(:mod:`bots.dialogue.engine`) decide, carries out the intents it asks for
through :class:`webapp.chat.executor.Executor`, feeds each result back to the
engine and saves the new state. Messages of one user are answered one at a
time (a Redis lock), so a double tap sees the state the first tap left; taking
the lock reads the state and releasing it writes the new one (two round trips).
"""
from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict, deque

from flask import current_app
from sqlalchemy.orm import Session

from bots.dialogue.engine import IDLE_SECONDS, Context, on_event, on_input
from bots.dialogue.intents import Intent
from bots.dialogue.texts import say
from bots.messages import Inbound, InboundKind, Reply, TextReply
from webapp.chat.executor import Executor
from webapp.chat.state_store import STATE_TTL_SECONDS, Busy, Conversation, StateStore
from webapp.errors import DomainError
from webapp.redis_conn import get_redis
from webapp.services.actors import Actor
from webapp.services.identity import ensure_wechat_user

log = logging.getLogger(__name__)

MAX_INTENTS = 8  # per message; the engine needs at most two, this only stops a loop


def state_store() -> StateStore:
    """The dialogue state store of the current app."""
    ttl = int(current_app.config.get("CHAT_STATE_TTL_SECONDS", STATE_TTL_SECONDS))
    return StateStore(get_redis(), ttl)


def respond(session: Session, openid: str, inbound: Inbound) -> list[Reply]:
    """Answer one user action; an empty list means nothing to say (answer "success").

    Never raises for anything the user sent; unexpected failures are logged and
    answered with an apology. Runs inside an app context.
    """
    store = state_store()
    wait = float(current_app.config.get("CHAT_LOCK_WAIT_SECONDS", 2.0))
    try:
        with store.conversation(openid, wait_seconds=wait) as convo:
            return _respond(session, store, convo, openid, inbound)
    except Busy:
        return [TextReply(say("zh", "internal"))]
    except DomainError as exc:  # e.g. an openid WeChat would never send
        log.warning("chat: refused message from %r: %s", openid, exc.message)
        session.rollback()
        return [TextReply(say("zh", "help"))]
    except Exception:  # noqa: BLE001 - the user gets an apology, the log the details
        log.exception("chat: answering %r failed", openid)
        session.rollback()
        return [TextReply(say("zh", "internal"))]


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

    def actor(self, session: Session, openid: str, kind: InboundKind) -> Actor:
        """The actor for ``openid``, creating the user on first contact."""
        now = time.monotonic()
        if kind not in (InboundKind.SUBSCRIBE, InboundKind.UNSUBSCRIBE):
            with self._lock:
                entry = self._entries.get(openid)
            if entry is not None and now - entry[0] < self.ttl:
                return entry[1]
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
    return current_app.extensions.setdefault("chatshop.chat_followers", _FollowerCache())


def _respond(
    session: Session, store: StateStore, convo: Conversation, openid: str, inbound: Inbound
) -> list[Reply]:
    leaving = inbound.kind is InboundKind.UNSUBSCRIBE
    actor = _followers().actor(session, openid, inbound.kind)
    if leaving:
        convo.clear()
        return []
    config = current_app.config
    ctx = Context(
        now=time.time(),
        nonce=secrets.token_urlsafe(12),
        idle_seconds=int(config.get("CHAT_IDLE_SECONDS", IDLE_SECONDS)),
    )
    loaded = convo.state
    turn = on_input(loaded, inbound, ctx)
    state, replies = turn.state, list(turn.replies)
    pending: deque[Intent] = deque(turn.intents)
    executor = Executor(session, actor, openid, store, config)
    done = 0
    while pending and done < MAX_INTENTS:
        event = executor.run(pending.popleft())
        done += 1
        turn = on_event(state, event, ctx)
        state = turn.state
        replies.extend(turn.replies)
        pending.extend(turn.intents)
    if state != loaded:  # most browse commands leave nothing new to remember
        convo.save(state)
    return replies
