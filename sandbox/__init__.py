"""The WeChat sandbox: a local stand-in for WeChat's servers, served only when WECHAT_SANDBOX is on.

Public entry points for tests and other code (all need an app context):
``pay_order``, ``send_pay_notify``, ``send_refund_notify``, ``sandbox_order``,
``sandbox_orders``, ``notify_log``, ``travel``, ``pay_page_url``; for the official
account: ``note_user_message``, ``note_event``, ``note_payment``, ``sent_messages``,
``transcript``, ``create_consumer``, ``follower``, ``user_says``, ``user_clicks``,
``user_follows``, ``user_scans``, ``user_unfollows``, ``tokens_issued``, ``current_menu``,
``qr_codes``, ``uploaded_media``.

The sandbox imports nothing of the shop: it plays WeChat, which knows its own
followers, not the shop's database, and it speaks the wire format with its own code
(a bug shared with the shop's side would pass both).
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, render_template

from sandbox import chat, clock, connection, oa, pay
from sandbox.chat import (
    Exchange,
    user_clicks,
    user_follows,
    user_says,
    user_scans,
    user_unfollows,
)
from sandbox.connection import RedisFactory, get_redis
from sandbox.money import format_yuan
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
from sandbox.oa_store import SandboxUser
from sandbox.pay import (
    PaidOrder,
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

__all__ = [
    "Exchange",
    "PaidOrder",
    "PaymentRefused",
    "RedisFactory",
    "SandboxUser",
    "create_consumer",
    "current_menu",
    "follower",
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


def follower(openid: str, nickname: str = "") -> SandboxUser:
    """A WeChat user who follows the account (made if WeChat did not know them yet).

    What WeChat would already know about a follower the app seeded on its side
    (the demo's followers, a test's user): the sandbox lists only its own users.
    """
    if oa.sandbox_user(openid) is None:
        create_consumer(nickname, openid=openid)
    return oa.set_subscribed(openid, True)


def register_sandbox(app: Flask, redis_factory: RedisFactory | None = None) -> None:
    """Serve every part of the sandbox on this app (called only when WECHAT_SANDBOX is on).

    ``redis_factory`` returns the Redis client the sandbox keeps its state in; without
    one the sandbox opens its own client on the app's REDIS_URL.
    """
    connection.install(app, redis_factory)
    app.register_blueprint(blp)
    app.register_blueprint(assets)
    pay.register(app)
    oa.register(app, on_template_finished=chat.push_template_finished)
    chat.register(app)
