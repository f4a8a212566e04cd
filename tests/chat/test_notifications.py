"""The "paid" customer-service message: outbox topic order.paid -> job -> outbound queue."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bots.messages import Inbound, InboundKind
from core.models import Order, User
from core.queues import NOTIFICATIONS, get_queue
from shop.checkout import checkout
from storefront import outbound
from storefront.notifications import notify_paid
from storefront.storefront import respond
from tests.support.factories import make_product, make_user
from tests.support.payments import ADDRESS, pay_order
from webapp.clients import app_redis, app_settings
from webapp.extensions import db
from workers.jobs import send_paid_message
from workers.outbox import HANDLERS, relay_outbox

JOB_PATH = "workers.jobs.send_paid_message"


class RecordingEnqueue:
    """Stands in for the queue: remembers what the relay enqueued."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, tuple[Any, ...], str]] = []

    def __call__(self, queue_name: str, func: Any, *args: Any, job_id: str, **options: Any) -> bool:
        self.calls.append((queue_name, func, args, job_id))
        return True


def _paid_order(app, openid: str | None = "o-paid-buyer", lang_text: str = "菜单") -> Order:
    if openid is not None:
        # The buyer chatted first: that creates the user and their dialogue state.
        respond(db.session, openid, Inbound(InboundKind.TEXT, lang_text))
        buyer = db.session.scalar(select(User).where(User.openid == openid))
    else:
        buyer = make_user(openid="")
        buyer.openid = None  # an API-only buyer
        db.session.commit()
    _, sku = make_product(price_fen=1234, stock=5, title="红富士苹果")
    order = checkout(db.session, app_settings(), buyer.id, [(sku.id, 2)], ADDRESS)
    paid = pay_order(app, order.id)
    db.session.rollback()
    return db.session.get(Order, paid.id)


def test_order_paid_runs_the_chat_handler():
    handlers = HANDLERS["order.paid"]
    assert [h.func for h in handlers] == [JOB_PATH]
    module, _, name = JOB_PATH.rpartition(".")
    assert getattr(__import__(module, fromlist=[name]), name) is send_paid_message


def test_a_paid_order_queues_the_paid_message_once(any_app):
    order = _paid_order(any_app)
    enqueue = RecordingEnqueue()
    relay_outbox(db.session, enqueue)
    paid_jobs = [c for c in enqueue.calls if c[1] == JOB_PATH]
    assert len(paid_jobs) == 1
    payload = paid_jobs[0][2][0]
    assert payload["order_id"] == order.id

    job_id = send_paid_message(payload)
    assert job_id is not None
    job = get_queue(NOTIFICATIONS, app_redis()).fetch_job(job_id)
    openid, messages, reason, _key = job.args
    assert openid == "o-paid-buyer" and reason == "payment"
    text = messages[0]["text"]
    assert "付款成功" in text and order.number in text
    assert "红富士苹果 × 2" in text and "¥24.68" in text and "138****8000" in text
    # A retried job (or a second delivery of the outbox message) does not message twice.
    assert send_paid_message(payload) is None
    # The payment opened WeChat's window for customer-service messages.
    assert outbound.claim_quota("o-paid-buyer") not in ("no_window", "over_quota")


def test_the_paid_message_speaks_the_buyers_language(any_app):
    order = _paid_order(any_app, "o-english", lang_text="menu")
    job_id = notify_paid(db.session, app_redis(), app_settings(), order.id)
    text = get_queue(NOTIFICATIONS, app_redis()).fetch_job(job_id).args[1][0]["text"]
    assert text.startswith("Payment received!")


def test_no_message_for_orders_without_a_chat_user(any_app):
    order = _paid_order(any_app, None)
    assert notify_paid(db.session, app_redis(), app_settings(), order.id) is None
    assert notify_paid(db.session, app_redis(), app_settings(), 999_999) is None
