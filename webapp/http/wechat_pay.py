"""WeChat Pay callbacks: POST /wechat/pay/notify and POST /wechat/pay/refund-notify.

Thin: read the body (at most 1 MiB), hand it to the service, answer WeChat's
ack XML. Bad input is always a FAIL ack, never a 500; only a genuine server
fault (database down) is a 500, which WeChat retries.
"""
from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

from adapters.wechat.pay_notify import MAX_NOTIFY_BYTES, NotifyOutcome, ack_xml
from adapters.wechat.pay_v2 import PayGateway
from core.uow import DbSession
from shop.payments import apply_pay_notify
from shop.refunds import apply_refund_notify
from webapp.clients import pay_gateway
from webapp.extensions import db

blp = Blueprint("wechat_pay", __name__)


def _ack(ok: bool, message: str, status: int = 200) -> Response:
    return Response(ack_xml(ok, message), status=status, content_type="application/xml")


def _read_body() -> bytes | None:
    """The request body, or None if it is larger than WeChat ever sends."""
    if request.content_length is not None and request.content_length > MAX_NOTIFY_BYTES:
        return None
    try:
        body = request.stream.read(MAX_NOTIFY_BYTES + 1)
    except RequestEntityTooLarge:
        return None
    return None if len(body) > MAX_NOTIFY_BYTES else body


def _handle(
    kind: str, service: Callable[[DbSession, PayGateway, bytes], NotifyOutcome]
) -> Response:
    try:
        body = _read_body()
    except ClientDisconnected:
        return _ack(False, "incomplete body", 400)
    if body is None:
        current_app.logger.warning("%s refused: body larger than %d bytes", kind, MAX_NOTIFY_BYTES)
        return _ack(False, "body too large", 413)
    try:
        outcome = service(db.session, pay_gateway(), body)
    except Exception:  # noqa: BLE001 - WeChat must get XML; it retries a 500 later
        current_app.logger.exception("%s could not be processed", kind)
        db.session.rollback()
        return _ack(False, "server error", 500)
    return _ack(outcome.ok, outcome.message)


@blp.post("/wechat/pay/notify")
def pay_notify() -> Response:
    """WeChat Pay's payment result notify."""
    return _handle("pay notify", apply_pay_notify)


@blp.post("/wechat/pay/refund-notify")
def refund_notify() -> Response:
    """WeChat Pay's refund result notify."""
    return _handle("refund notify", apply_refund_notify)
