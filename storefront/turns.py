"""The turn runner: one storefront turn per WeChat message, answered within the deadline.

``run_turn`` claims the turn (``storefront.dedupe``: whatever WeChat retries, a
message runs once), runs it, and gives back the passive answer the webhook sends.
Replies that are not ready in time, and every reply after the first, go out later
as customer-service messages.

A turn the storefront can answer from memory (browsing lists it has cached, for a
follower it knows) runs in the request itself, since nothing in it can wait on the
database; every other turn runs in the app's thread pool, raced against the
deadline. Either way a message costs two Redis scripts: one claims the turn and
takes the user's conversation lock, one records the answer and releases the lock
with the new state; a turn answered in the request does not wait for the second.

While Redis cannot be reached no turn runs: the claim raises ``TurnNotClaimed`` and
the caller answers without a turn (``storefront.outage``). A Redis failure after
the turn ran only loses the turn's record; the answer still goes out.
"""
from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from flask import Flask
from redis.exceptions import RedisError

from adapters.wechat.messages import ChatMessage
from bots.messages import ArticleReply, Inbound, Reply, TextReply
from core.redis import shared_client
from core.settings import settings_in
from storefront import dedupe
from storefront.lua import ScriptLine
from storefront.outbound import interaction_note
from storefront.outbound import send_customer_service as send_later
from storefront.state_store import Conversation, LockRequest
from storefront.storefront import lock_request, respond, respond_quickly

log = logging.getLogger(__name__)

POOL_KEY = "chatshop.wechat_turns"
LINE_KEY = "chatshop.wechat_scripts"
# How long a finished turn waits for its passive reply to leave before sending the rest.
PASSIVE_HEAD_START_SECONDS = 1.0
SORRY = "抱歉，系统开小差了，请稍后再试。Sorry, something went wrong; please try again."
# Redis unreachable or refusing (redis-py wraps the socket errors in these).
REDIS_DOWN = (RedisError,)

# Renders one reply as the passive answer's wire text (the webhook's format).
Render = Callable[[Reply], str]


class TurnNotClaimed(Exception):
    """Redis could not be reached to claim the turn: no turn ran, nothing changed.

    The cause (``__cause__``) is the Redis error.
    """


@dataclass(frozen=True)
class Passive:
    """What the webhook answers this request."""

    answer: str  # the rendered passive reply; "" answers "success"
    replayed: bool = False  # the signed query came again with another body: refuse it


# --- the storefront, as the runner calls it (tests replace these) ---------------------


def storefront_respond(
    session: Any, openid: str, inbound: Inbound, held: Conversation | None = None
) -> list[Reply]:
    """The storefront's answer to one input.

    ``held``: the user's conversation, taken with the turn claim; it is released
    when the turn is finished (``dedupe.finish``), not by the storefront.
    """
    return respond(session, openid, inbound, held)


def storefront_quick(openid: str, inbound: Inbound, held: Conversation) -> list[Reply] | None:
    """The storefront's answer if it needs nothing but memory (no database); else None."""
    return respond_quickly(openid, inbound, held)


def storefront_lock(openid: str) -> LockRequest:
    """How to take the user's conversation lock together with the turn claim."""
    return lock_request(openid)


def send_customer_service(openid: str, replies: list[Reply], reason: str, key: str) -> None:
    """Send replies as customer-service messages (``reason``: "overflow" or "late");
    ``key`` makes the delivery happen at most once."""
    send_later(openid, replies, reason=reason, key=key)


# --- one turn ------------------------------------------------------------------------


def run_turn(
    app: Flask,
    session: Any,
    message: ChatMessage,
    render: Render,
    *,
    ttl: int,
    deadline: float,
    nonce: dedupe.NonceBinding | None = None,
) -> Passive:
    """Claim and run the turn of ``message``; the passive answer for this request.

    ``session`` is the app's scoped database session (each pool thread gets its own in
    its app context), ``render`` turns the first reply into the answer's text, ``ttl``
    is how long the turn's record lives, ``deadline`` how many seconds the turn may
    take before its replies go out as customer-service messages instead, and
    ``nonce`` the plaintext request's signed nonce, bound with the claim.
    Raises TurnNotClaimed when Redis is unreachable for the claim.
    """
    try:
        conn = script_line(app)
        # One round trip: bind the nonce, claim the turn and, for the owner, record the
        # user's action (it opens WeChat's customer-service message window) and take the
        # user's conversation lock with the dialogue state it protects.
        note = interaction_note(message.openid, message.inbound.kind)
        claimed = dedupe.begin(conn, message.identity, ttl, nonce=nonce, note=note,
                               lock=storefront_lock(message.openid))
    except REDIS_DOWN as exc:
        raise TurnNotClaimed(str(exc)) from exc
    if claimed.replayed:
        return Passive("", replayed=True)
    if not claimed.owner:
        log.info("wechat retry of a handled turn (%s)", message.inbound.kind)
        return Passive(claimed.answer or "")
    held = claimed.held
    if held is not None:  # else another message of this user runs: wait in the pool
        answer = _answer_quickly(app, message, render, conn, ttl, held)
        if answer is not None:
            return Passive(answer)
    return Passive(_run_in_pool(app, session, message, render, conn, ttl, held, deadline))


def _record_lost(message: ChatMessage, exc: BaseException) -> None:
    """The turn ran but its record could not be written (Redis went away meanwhile)."""
    log.warning("wechat webhook: Redis unreachable (%s: %s); the %s turn's record and "
                "conversation were not saved", type(exc).__name__, exc, message.inbound.kind)


def _valid(replies: list[Reply]) -> list[Reply]:
    valid = [r for r in replies if isinstance(r, TextReply | ArticleReply)]
    if len(valid) != len(replies):
        log.error("storefront returned %d values that are not replies",
                  len(replies) - len(valid))
    return valid


def _answer_quickly(
    app: Flask, message: ChatMessage, render: Render, conn: ScriptLine, ttl: int,
    held: Conversation,
) -> str | None:
    """The passive answer, if the storefront can give it from memory; None to use the pool.

    Only memory and Redis are involved (the same Redis calls every request makes),
    so no deadline is needed; anything that needs the database answers None.
    """
    try:
        replies = storefront_quick(message.openid, message.inbound, held)
    except Exception:  # noqa: BLE001 - the pool's turn will answer, or apologise
        log.exception("wechat quick turn (%s) failed", message.inbound.kind)
        held.keep()
        return None
    if replies is None:
        return None
    replies = _valid(list(replies))
    answer = render(replies[0]) if replies else ""
    # One script, not waited for: the answer for retries, the new state, and the lock
    # released (see dedupe.finish).
    try:
        dedupe.finish(conn, message.identity, answer, ttl, release=held, wait=False)
    except REDIS_DOWN as exc:
        _record_lost(message, exc)
    if len(replies) > 1:
        key = dedupe.turn_id(message.identity)[:32] + "-overflow"
        _pool(app).submit(_deliver, app, message.openid, replies[1:], "overflow", key)
    return answer


def _deliver(app: Flask, openid: str, replies: list[Reply], reason: str, key: str) -> None:
    """Send customer-service messages from a pool thread (logged, never raised)."""
    with app.app_context():
        try:
            send_customer_service(openid, replies, reason, key)
        except REDIS_DOWN as exc:  # the queue is in Redis: one line, not a stack per message
            log.warning("wechat turn: customer-service delivery failed, Redis "
                        "unreachable (%s: %s)", type(exc).__name__, exc)
        except Exception:  # noqa: BLE001 - a pool thread has nobody to raise to
            log.exception("wechat turn: customer-service delivery failed")


def _run_in_pool(
    app: Flask, session: Any, message: ChatMessage, render: Render, conn: ScriptLine,
    ttl: int, held: Conversation | None, deadline: float,
) -> str:
    """Run the turn in the app's pool; the passive answer if it is ready before the deadline.

    ``held`` (the conversation taken with the claim) is released with the turn record:
    here when the turn is in time, by the turn itself when it is late.
    """
    turn = _Turn(app, session, message, ttl, held)
    try:
        _pool(app).submit(turn.run)
        turn.ready.wait(deadline)
        with turn.lock:
            replies = turn.replies
            turn.late = replies is None
        if replies is None:
            log.warning("wechat turn (%s) missed the reply deadline; replies will follow as "
                        "customer-service messages", message.inbound.kind)
            return ""  # the record stays "running" until the late turn finishes
        answer = render(replies[0]) if replies else ""
        try:
            dedupe.finish(conn, message.identity, answer, ttl, release=held)
        except REDIS_DOWN as exc:
            _record_lost(message, exc)
        return answer
    finally:
        turn.passive_sent.set()


class _Turn:
    """One storefront call in the pool, raced against the handler's deadline."""

    def __init__(self, app: Flask, session: Any, message: ChatMessage, ttl: int,
                 held: Conversation | None = None) -> None:
        self.app = app
        self.session = session
        self.message = message
        self.ttl = ttl
        self.held = held
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.passive_sent = threading.Event()
        self.replies: list[Reply] | None = None
        self.late = False

    def run(self) -> None:
        """Respond, then hand the replies to whoever still can deliver them."""
        with self.app.app_context():
            replies = self._respond()
            with self.lock:
                self.replies = replies
                late = self.late
            self.ready.set()
            openid = self.message.openid
            key = dedupe.turn_id(self.message.identity)[:32]
            try:
                if late:
                    try:
                        dedupe.finish(shared_client(self.app.extensions), self.message.identity,
                                      "", self.ttl, release=self.held)
                    except REDIS_DOWN as exc:
                        _record_lost(self.message, exc)
                    if replies:
                        send_customer_service(openid, replies, "late", key + "-late")
                elif len(replies) > 1:
                    self.passive_sent.wait(PASSIVE_HEAD_START_SECONDS)
                    send_customer_service(openid, replies[1:], "overflow", key + "-overflow")
            except REDIS_DOWN as exc:
                log.warning("wechat turn: customer-service delivery failed, Redis "
                            "unreachable (%s: %s)", type(exc).__name__, exc)
            except Exception:  # noqa: BLE001 - a pool thread has nobody to raise to
                log.exception("wechat turn: customer-service delivery failed")

    def _respond(self) -> list[Reply]:
        """The storefront's replies, or an apology if it failed (the user never sees a 500)."""
        inbound = self.message.inbound
        session = self.session
        try:
            # The storefront makes sure the user exists (and records follow/unfollow).
            replies = list(
                storefront_respond(session, self.message.openid, inbound, self.held) or []
            )
            # Most turns only browse cached lists: no session, no transaction, nothing to
            # commit (and asking the scoped session would create one).
            if session.registry.has() and session().in_transaction():
                session.commit()
        except Exception:  # noqa: BLE001 - any storefront fault becomes an apology
            log.exception("wechat turn (%s) failed in the storefront", inbound.kind)
            session.rollback()
            if self.held is not None:
                self.held.keep()  # a failed turn leaves the state as it was
            return [TextReply(SORRY)]
        return _valid(replies)


# --- the app's pool and script line ------------------------------------------------------


def script_line(app: Flask) -> ScriptLine:
    """The app's line for the turn's Redis scripts (see ``storefront.lua``)."""
    line: ScriptLine | None = app.extensions.get(LINE_KEY)
    if line is None:
        line = app.extensions.setdefault(LINE_KEY, ScriptLine(shared_client(app.extensions)))
    return line


_pool_lock = threading.Lock()


def _pool(app: Flask) -> ThreadPoolExecutor:
    """The app's turn pool, created on first use in each process (gunicorn forks)."""
    entry = app.extensions.get(POOL_KEY)
    if entry is None or entry[0] != os.getpid():
        with _pool_lock:
            entry = app.extensions.get(POOL_KEY)
            if entry is None or entry[0] != os.getpid():
                workers = settings_in(app.extensions).wechat_reply_workers
                pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wechat-turn")
                # Idle threads end with the app instead of outliving it.
                weakref.finalize(app, pool.shutdown, wait=False)
                entry = (os.getpid(), pool)
                app.extensions[POOL_KEY] = entry
    return entry[1]


def shutdown_turns(app: Flask, wait: bool = True) -> None:
    """Stop the app's turn pool (tests; orderly shutdown), waiting for running turns."""
    entry = app.extensions.pop(POOL_KEY, None)
    if entry is not None and entry[0] == os.getpid():
        entry[1].shutdown(wait=wait)
