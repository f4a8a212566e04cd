"""The chat storefront: what the WeChat adapter calls for every message or event.

``respond`` loads the user's dialogue state from Redis, lets the pure engine
(:mod:`bots.dialogue.engine`) decide, carries out the intents it asks for
through :class:`webapp.chat.executor.Executor`, feeds each result back to the
engine and saves the new state. Messages of one user are answered one at a
time (a Redis lock), so a double tap sees the state the first tap left.
"""
from __future__ import annotations

import logging
import secrets
import time
from collections import deque

from flask import current_app
from sqlalchemy.orm import Session

from bots.dialogue.engine import IDLE_SECONDS, Context, on_event, on_input
from bots.dialogue.intents import Intent
from bots.dialogue.texts import say
from bots.messages import Inbound, InboundKind, Reply, TextReply
from webapp.chat.executor import Executor
from webapp.chat.state_store import STATE_TTL_SECONDS, Busy, StateStore
from webapp.errors import DomainError
from webapp.redis_conn import get_redis
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
        with store.user_lock(openid, wait_seconds=wait):
            return _respond(session, store, openid, inbound)
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


def _respond(session: Session, store: StateStore, openid: str, inbound: Inbound) -> list[Reply]:
    leaving = inbound.kind is InboundKind.UNSUBSCRIBE
    user = ensure_wechat_user(session, openid, subscribed=not leaving)
    if leaving:
        store.clear(openid)
        return []
    config = current_app.config
    ctx = Context(
        now=time.time(),
        nonce=secrets.token_urlsafe(12),
        idle_seconds=int(config.get("CHAT_IDLE_SECONDS", IDLE_SECONDS)),
    )
    turn = on_input(store.load(openid), inbound, ctx)
    state, replies = turn.state, list(turn.replies)
    pending: deque[Intent] = deque(turn.intents)
    executor = Executor(session, user, openid, store, config)
    done = 0
    while pending and done < MAX_INTENTS:
        event = executor.run(pending.popleft())
        done += 1
        turn = on_event(state, event, ctx)
        state = turn.state
        replies.extend(turn.replies)
        pending.extend(turn.intents)
    store.save(openid, state)
    return replies
