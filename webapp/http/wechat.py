"""GET|POST /wechat: the official-account webhook.

GET answers WeChat's URL verification. POST takes a message or event (plaintext,
compatible or safe mode): the view checks the signature, opens and parses the
message, has the turn runner (``storefront.turns``) run one storefront turn for it,
and sends the passive answer back. Wire-format work lives in ``adapters.wechat.messages``.

While Redis cannot be reached no turn runs (its retry record and the user's
conversation live there): every verified message still gets a valid reply
within the deadline, a fixed text or "busy, try again" from ``storefront.outage``,
with a WARNING naming the failure.
"""
from __future__ import annotations

import functools
import logging
import time
from typing import Any

from flask import Blueprint, Response, current_app, request
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
from bots.messages import Reply
from storefront import dedupe
from storefront.outage import outage_replies
from storefront.turns import TurnNotClaimed, run_turn
from webapp.extensions import db

log = logging.getLogger(__name__)

blp = Blueprint("wechat", __name__)

MAX_BODY_BYTES = 1024 * 1024
_REFUSAL_TEXT = {400: "bad request", 403: "forbidden", 413: "request too large"}

clock = time.time  # tests freeze it for the published signature vector


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
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        passive = run_turn(
            app, db.session, message, functools.partial(_render, message=message),
            ttl=ttl, deadline=float(_setting("WECHAT_REPLY_DEADLINE_SECONDS", 4)), nonce=nonce,
        )
    except TurnNotClaimed as exc:
        return _answer(_without_redis(message, exc.__cause__ or exc), crypto)
    if passive.replayed:
        return _refuse(403, "signed query replayed with another body")
    return _answer(passive.answer, crypto)


def _without_redis(message: ChatMessage, exc: BaseException) -> str:
    """The passive answer when the turn cannot even be claimed: no turn runs, nothing
    changes, so WeChat's retries and the user's own retry are harmless (no dedupe)."""
    log.warning("wechat webhook: Redis unreachable (%s: %s); %s answered without a turn",
                type(exc).__name__, exc, message.inbound.kind)
    replies = outage_replies(message.inbound)
    return _render(replies[0], message) if replies else ""


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
