"""GET|POST /wechat: the official-account webhook.

GET answers WeChat's URL verification. POST takes a message or event (plaintext,
compatible or safe mode), runs one storefront turn per message whatever WeChat
retries (``storefront.dedupe``), and answers within the reply deadline: replies
that are not ready in time, and every reply after the first, go out later as
customer-service messages. Wire-format work lives in ``adapters.wechat.messages``.

A turn the storefront can answer from memory (browsing lists it has cached, for
a follower it knows) runs in the request itself, since nothing in it can wait on
the database; every other turn runs in the app's thread pool, raced against the
deadline. Either way a message costs two Redis scripts: one claims the turn and
takes the user's conversation lock, one records the answer and releases the lock
with the new state; a turn answered in the request does not wait for the second.

While Redis cannot be reached no turn runs (its retry record and the user's
conversation live there): every verified message still gets a valid reply
within the deadline, a fixed text or "busy, try again" from ``storefront.outage``,
with a WARNING naming the failure. A Redis failure after the turn ran only loses
the turn's record; the answer still goes out.
"""
from __future__ import annotations

import functools
import logging
import os
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from redis.exceptions import RedisError
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

from adapters.wechat.messages import (
    SUCCESS,
    AesKeys,
    ChatMessage,
    Refused,
    SignedQuery,
    check_query,
    parse_fields,
    read_message,
    render_reply,
    sign,
    signature_matches,
)
from adapters.wechat.messages.crypto import seal
from bots.messages import ArticleReply, Inbound, Reply, TextReply
from storefront import dedupe
from storefront.lua import ScriptLine
from storefront.outage import outage_replies
from storefront.outbound import interaction_note
from storefront.state_store import Conversation, LockRequest
from webapp.extensions import db
from webapp.redis_conn import get_redis

log = logging.getLogger(__name__)

blp = Blueprint("wechat", __name__)

MAX_BODY_BYTES = 1024 * 1024
POOL_KEY = "chatshop.wechat_turns"
LINE_KEY = "chatshop.wechat_scripts"
# How long a finished turn waits for its passive reply to leave before sending the rest.
PASSIVE_HEAD_START_SECONDS = 1.0
SORRY = "抱歉，系统开小差了，请稍后再试。Sorry, something went wrong; please try again."
_REFUSAL_TEXT = {400: "bad request", 403: "forbidden", 413: "request too large"}
# Redis unreachable or refusing (redis-py wraps the socket errors in these).
REDIS_DOWN = (RedisError,)

clock = time.time  # tests freeze it for the published signature vector


def storefront_respond(
    session: Any, openid: str, inbound: Inbound, held: Conversation | None = None
) -> list[Reply]:
    """The storefront's answer to one input (imported late: it imports the whole shop).

    ``held``: the user's conversation, taken with the turn claim; it is released
    when the turn is finished (``dedupe.finish``), not by the storefront.
    """
    from storefront.storefront import respond

    return respond(session, openid, inbound, held)


def storefront_quick(openid: str, inbound: Inbound, held: Conversation) -> list[Reply] | None:
    """The storefront's answer if it needs nothing but memory (no database); else None."""
    from storefront.storefront import respond_quickly

    return respond_quickly(openid, inbound, held)


def storefront_lock(openid: str) -> LockRequest:
    """How to take the user's conversation lock together with the turn claim."""
    from storefront.storefront import lock_request

    return lock_request(openid)


def send_customer_service(openid: str, replies: list[Reply], reason: str, key: str) -> None:
    """Send replies as customer-service messages (``reason``: "overflow" or "late");
    ``key`` makes the delivery happen at most once."""
    from storefront.outbound import send_customer_service as send

    send(openid, replies, reason=reason, key=key)


def _setting(name: str, default: Any) -> Any:
    value = current_app.config.get(name)
    return default if value is None or value == "" else value


@functools.lru_cache(maxsize=8)
def _keys(token: str, app_id: str, current: str, previous: str) -> AesKeys:
    """The AES keys for these settings (cached: a bad key is reported once, not per request)."""
    return AesKeys(token, app_id, current, previous)


def _aes_keys() -> AesKeys:
    cfg = current_app.config
    return _keys(
        str(cfg.get("WECHAT_TOKEN") or ""),
        str(cfg.get("WECHAT_APP_ID") or ""),
        str(cfg.get("WECHAT_ENCODING_AES_KEY") or ""),
        str(cfg.get("WECHAT_PREVIOUS_ENCODING_AES_KEY") or ""),
    )


def _refuse(status: int, reason: str) -> Response:
    """A refusal that tells the caller nothing beyond its status; the reason goes to the log."""
    level = logging.WARNING if status in (403, 413) else logging.INFO
    log.log(level, "wechat webhook refused %s %s (%d): %s",
            request.method, request.remote_addr, status, reason)
    response = Response(_REFUSAL_TEXT.get(status, "refused"), status=status, mimetype="text/plain")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _check_query(post: bool) -> SignedQuery:
    return check_query(
        request.args,
        token=str(current_app.config.get("WECHAT_TOKEN") or ""),
        now=clock(),
        window=float(_setting("WECHAT_TIMESTAMP_WINDOW_SECONDS", 300)),
        post=post,
    )


@blp.get("/wechat")
def verify_url() -> Response:
    """URL verification: echo ``echostr`` unchanged when the signature is right."""
    echostr = request.args.get("echostr") or ""
    try:
        if not echostr:
            raise Refused(400, "missing echostr")
        _check_query(post=False)
    except Refused as exc:
        return _refuse(exc.status, exc.reason)
    response = Response(echostr, mimetype="text/plain")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _read_body() -> bytes:
    """The request body; Refused(413) above 1 MiB, whatever the headers claim."""
    environ = request.environ
    declared = environ.get("CONTENT_LENGTH") or ""
    if declared.isascii() and declared.isdigit() and "HTTP_TRANSFER_ENCODING" not in environ:
        # What WeChat sends: a plain Content-Length. Read exactly that much from the
        # server's input (Werkzeug's limited stream around it costs more than the read).
        length = int(declared)
        if length > MAX_BODY_BYTES:
            raise Refused(413, "body larger than 1 MiB")
        try:
            body = environ["wsgi.input"].read(length) if length else b""
        except (OSError, ValueError) as exc:
            raise Refused(400, "incomplete body") from exc
        if len(body) != length:
            raise Refused(400, "incomplete body")
        return bytes(body)
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise Refused(413, "body larger than 1 MiB")
    try:
        body = request.stream.read(MAX_BODY_BYTES + 1)
        if len(body) == MAX_BODY_BYTES and request.content_length is None:
            # Without a Content-Length the stream stops quietly at the limit; the next
            # read raises RequestEntityTooLarge (even if nothing more was sent).
            body += request.stream.read(1)
    except RequestEntityTooLarge as exc:
        raise Refused(413, "body larger than 1 MiB") from exc
    except ClientDisconnected as exc:
        raise Refused(400, "incomplete body") from exc
    if len(body) > MAX_BODY_BYTES:
        raise Refused(413, "body larger than 1 MiB")
    return body


def _open(
    query: SignedQuery, body: bytes
) -> tuple[dict[str, str], Any, dedupe.NonceBinding | None]:
    """The message fields, the crypto to seal the reply with (None for plaintext), and for
    plaintext the nonce binding that ``dedupe.begin`` checks with the turn claim."""
    if not query.encrypted:
        if _setting("WECHAT_REQUIRE_ENCRYPTION", False):
            raise Refused(403, "plaintext message while encryption is required")
        ttl = 2 * int(_setting("WECHAT_TIMESTAMP_WINDOW_SECONDS", 300)) + 60
        binding = dedupe.nonce_binding(query.timestamp, query.nonce, body, ttl)
        return parse_fields(body), None, binding
    keys = _aes_keys()
    if not keys.enabled:
        raise Refused(400, "encrypted message but no EncodingAESKey configured")
    # In compatible mode the envelope also carries plaintext fields: only Encrypt is signed.
    encrypt = parse_fields(body).get("Encrypt", "")
    if not encrypt:
        raise Refused(400, "encrypted message without Encrypt")
    token = str(current_app.config.get("WECHAT_TOKEN") or "")
    expected = sign(token, query.timestamp, query.nonce, encrypt)
    if not signature_matches(expected, query.msg_signature):
        raise Refused(403, "msg_signature mismatch")
    opened = keys.open(encrypt, query.msg_signature, query.timestamp, query.nonce)
    return parse_fields(opened.xml.encode("utf-8")), opened.crypto, None


@blp.post("/wechat")
def receive() -> Response:
    """A message or event: one storefront turn, answered within the deadline."""
    try:
        body = _read_body()
        query = _check_query(post=True)
        fields, crypto, nonce = _open(query, body)
        message = read_message(fields)
    except Refused as exc:
        return _refuse(exc.status, exc.reason)
    # A record must outlive the replay window, or a replay inside it would run again.
    window = int(_setting("WECHAT_TIMESTAMP_WINDOW_SECONDS", 300))
    ttl = max(int(_setting("WECHAT_DEDUPE_TTL_SECONDS", 600)), window + 60)
    try:
        conn = script_line(current_app._get_current_object())  # type: ignore[attr-defined]
        # One round trip: bind the nonce, claim the turn and, for the owner, record the
        # user's action (it opens WeChat's customer-service message window) and take the
        # user's conversation lock with the dialogue state it protects.
        note = interaction_note(message.openid, message.inbound.kind)
        claimed = dedupe.begin(conn, message.identity, ttl, nonce=nonce, note=note,
                               lock=storefront_lock(message.openid))
    except REDIS_DOWN as exc:
        return _answer(_without_redis(message, exc), crypto)
    if claimed.replayed:
        return _refuse(403, "signed query replayed with another body")
    if not claimed.owner:
        log.info("wechat retry of a handled turn (%s)", message.inbound.kind)
        return _answer(claimed.answer or "", crypto)
    held = claimed.held
    if held is not None:  # else another message of this user runs: wait in the pool
        answer = _answer_quickly(message, conn, ttl, held)
        if answer is not None:
            return _answer(answer, crypto)
    return _answer(_run_turn(message, conn, ttl, held), crypto)


def _without_redis(message: ChatMessage, exc: BaseException) -> str:
    """The passive answer when the turn cannot even be claimed: no turn runs, nothing
    changes, so WeChat's retries and the user's own retry are harmless (no dedupe)."""
    log.warning("wechat webhook: Redis unreachable (%s: %s); %s answered without a turn",
                type(exc).__name__, exc, message.inbound.kind)
    replies = outage_replies(message.inbound)
    return _render(replies[0], message) if replies else ""


def _record_lost(message: ChatMessage, exc: BaseException) -> None:
    """The turn ran but its record could not be written (Redis went away meanwhile)."""
    log.warning("wechat webhook: Redis unreachable (%s: %s); the %s turn's record and "
                "conversation were not saved", type(exc).__name__, exc, message.inbound.kind)


def _answer(xml: str, crypto: Any) -> Response:
    if not xml:
        return Response(SUCCESS, mimetype="text/plain")
    if crypto is not None:
        xml = seal(crypto, xml)
    return Response(xml, content_type="application/xml; charset=utf-8")


def _render(reply: Reply, message: ChatMessage) -> str:
    return render_reply(
        reply, to_user=message.openid, from_user=message.account, create_time=int(time.time())
    )


def _valid(replies: list[Reply]) -> list[Reply]:
    valid = [r for r in replies if isinstance(r, TextReply | ArticleReply)]
    if len(valid) != len(replies):
        log.error("storefront returned %d values that are not replies",
                  len(replies) - len(valid))
    return valid


def _answer_quickly(message: ChatMessage, conn: Any, ttl: int, held: Conversation) -> str | None:
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
    answer = _render(replies[0], message) if replies else ""
    # One script, not waited for: the answer for retries, the new state, and the lock
    # released (see dedupe.finish).
    try:
        dedupe.finish(conn, message.identity, answer, ttl, release=held, wait=False)
    except REDIS_DOWN as exc:
        _record_lost(message, exc)
    if len(replies) > 1:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
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


def _run_turn(message: ChatMessage, conn: Any, ttl: int, held: Conversation | None) -> str:
    """Run the turn in the app's pool; the passive answer if it is ready before the deadline.

    ``held`` (the conversation taken with the claim) is released with the turn record:
    here when the turn is in time, by the turn itself when it is late.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    turn = _Turn(app, message, ttl, held)
    try:
        _pool(app).submit(turn.run)
        turn.ready.wait(float(_setting("WECHAT_REPLY_DEADLINE_SECONDS", 4)))
        with turn.lock:
            replies = turn.replies
            turn.late = replies is None
        if replies is None:
            log.warning("wechat turn (%s) missed the reply deadline; replies will follow as "
                        "customer-service messages", message.inbound.kind)
            return ""  # the record stays "running" until the late turn finishes
        answer = _render(replies[0], message) if replies else ""
        try:
            dedupe.finish(conn, message.identity, answer, ttl, release=held)
        except REDIS_DOWN as exc:
            _record_lost(message, exc)
        return answer
    finally:
        turn.passive_sent.set()


class _Turn:
    """One storefront call in the pool, raced against the handler's deadline."""

    def __init__(self, app: Flask, message: ChatMessage, ttl: int,
                 held: Conversation | None = None) -> None:
        self.app = app
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
                        dedupe.finish(get_redis(), self.message.identity, "", self.ttl,
                                      release=self.held)
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
        try:
            # The storefront makes sure the user exists (and records follow/unfollow).
            replies = list(
                storefront_respond(db.session, self.message.openid, inbound, self.held) or []
            )
            # Most turns only browse cached lists: no session, no transaction, nothing to
            # commit (and asking the scoped session would create one).
            if db.session.registry.has() and db.session().in_transaction():
                db.session.commit()
        except Exception:  # noqa: BLE001 - any storefront fault becomes an apology
            log.exception("wechat turn (%s) failed in the storefront", inbound.kind)
            db.session.rollback()
            if self.held is not None:
                self.held.keep()  # a failed turn leaves the state as it was
            return [TextReply(SORRY)]
        return _valid(replies)


def script_line(app: Flask) -> ScriptLine:
    """The app's line for the webhook's Redis scripts (see ``storefront.lua``)."""
    line: ScriptLine | None = app.extensions.get(LINE_KEY)
    if line is None:
        line = app.extensions.setdefault(LINE_KEY, ScriptLine(get_redis(app)))
    return line


_pool_lock = threading.Lock()


def _pool(app: Flask) -> ThreadPoolExecutor:
    """The app's turn pool, created on first use in each process (gunicorn forks)."""
    entry = app.extensions.get(POOL_KEY)
    if entry is None or entry[0] != os.getpid():
        with _pool_lock:
            entry = app.extensions.get(POOL_KEY)
            if entry is None or entry[0] != os.getpid():
                workers = int(app.config.get("WECHAT_REPLY_WORKERS") or 8)
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
