"""The WeChat sandbox: a local stand-in for WeChat's servers, served only when WECHAT_SANDBOX is on.

Public entry points for tests and other code (all need an app context):
``pay_order``, ``send_pay_notify``, ``send_refund_notify``, ``sandbox_order``,
``sandbox_orders``, ``notify_log``, ``travel``, ``pay_page_url``; for the official
account: ``note_user_message``, ``note_event``, ``note_payment``, ``sent_messages``,
``transcript``, ``create_consumer``, ``user_says``, ``user_clicks``, ``user_follows``,
``user_scans``, ``user_unfollows``, ``tokens_issued``, ``current_menu``, ``qr_codes``,
``uploaded_media``.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, render_template

from sandbox import clock
from sandbox.chat import (
    Exchange,
    user_clicks,
    user_follows,
    user_says,
    user_scans,
    user_unfollows,
)
from sandbox.oa import (
    create_consumer,
    current_menu,
    note_event,
    note_payment,
    note_user_message,
    qr_codes,
    sent_messages,
    tokens_issued,
    transcript,
    uploaded_media,
)
from sandbox.pay import (
    PaidOrder,
    format_yuan,
    notify_log,
    pay_order,
    pay_page_url,
    sandbox_order,
    sandbox_orders,
    send_pay_notify,
    send_refund_notify,
    travel,
)
from sandbox.pay_api import PaymentRefused
from webapp.redis_conn import get_redis

__all__ = [
    "Exchange",
    "PaidOrder",
    "PaymentRefused",
    "create_consumer",
    "current_menu",
    "format_yuan",
    "note_event",
    "note_payment",
    "note_user_message",
    "notify_log",
    "pay_order",
    "pay_page_url",
    "qr_codes",
    "register_sandbox",
    "sandbox_order",
    "sandbox_orders",
    "send_pay_notify",
    "send_refund_notify",
    "sent_messages",
    "tokens_issued",
    "transcript",
    "travel",
    "uploaded_media",
    "user_clicks",
    "user_follows",
    "user_says",
    "user_scans",
    "user_unfollows",
]

# The sandbox's pages live in sandbox/templates/sandbox/ (names stay "sandbox/...").
blp = Blueprint("sandbox", __name__, url_prefix="/sandbox", template_folder="templates")
# Its assets keep their URLs /static/sandbox/<file>: a rule more specific than the app's
# /static/<path>, so it wins for these paths while the shop's own static files are untouched.
assets = Blueprint("sandbox_assets", __name__, static_folder="static",
                   static_url_path="/static/sandbox")


@blp.get("/")
def index() -> Any:
    """What the sandbox offers, with the Pay orders and the notifies sent so far."""
    return render_template(
        "sandbox/index.html",
        orders=sandbox_orders(100),
        notifies=notify_log(50),
        clock_offset=clock.offset_seconds(get_redis()),
        sandbox_now=clock.format_success_time(clock.now(get_redis())),
    )


def register_sandbox(app: Flask) -> None:
    """Serve every part of the sandbox on this app (called only when WECHAT_SANDBOX is on)."""
    from sandbox import chat, oa, pay

    app.register_blueprint(blp)
    app.register_blueprint(assets)
    pay.register(app)
    oa.register(app)
    chat.register(app)
