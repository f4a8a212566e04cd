"""Distributors hear about new commission in one batched customer-service message."""
from __future__ import annotations

from sqlalchemy import select

from core.models import OutboxMessage
from core.queues import NOTIFICATIONS, get_queue
from storefront.commission_notices import DUE, flush_commission_notices, note_commission
from tests.support.chat import RecordingEnqueue
from tests.support.factories import link, make_distributor, make_user
from tests.support.payments import install_fake_gateway, paid_order
from webapp.clients import app_redis, app_settings
from webapp.extensions import db
from webapp.redis_conn import get_redis
from workers.jobs import note_commission_earned
from workers.outbox import HANDLERS, relay_outbox

JOB_PATH = "workers.jobs.note_commission_earned"


def test_paid_orders_announce_commission_and_the_handler_is_registered(any_app):
    install_fake_gateway(any_app)
    assert [h.func for h in HANDLERS["commission.earned"]] == [JOB_PATH]
    top = make_distributor()
    alice = make_distributor(upline=top)
    buyer = make_user()
    link(buyer, alice)
    order = paid_order(any_app, buyer, (10_000, 1))
    message = db.session.scalar(
        select(OutboxMessage).where(OutboxMessage.topic == "commission.earned"))
    assert message.payload["order_id"] == order.id
    earned = {e["distributor_id"]: e["amount_fen"] for e in message.payload["earnings"]}
    assert earned == {alice.id: 500, top.id: 250}
    enqueue = RecordingEnqueue()
    relay_outbox(db.session, enqueue)
    assert [c[1] for c in enqueue.calls].count(JOB_PATH) == 1
    # An order without a chain announces nothing.
    paid_order(any_app, make_user(), (1000, 1))
    assert db.session.query(OutboxMessage).filter_by(topic="commission.earned").count() == 1


def test_notices_are_batched_per_distributor_and_counted_once(app):
    alice = make_distributor()
    alice_openid = alice.openid
    bob = make_distributor()
    bob.openid = None  # never chatted: nobody to message
    db.session.commit()
    for order_id, amount in ((1, 500), (2, 125), (1, 500)):  # order 1 delivered twice
        note_commission(app_redis(), {"order_id": order_id,
                         "earnings": [{"distributor_id": alice.id, "amount_fen": amount},
                                      {"distributor_id": bob.id, "amount_fen": 9}]})
    assert note_commission_earned({"order_id": 3, "earnings": []}) == 0
    assert flush_commission_notices(db.session, app_redis(), app_settings(), now=1_000_000) == 1
    jobs = get_queue(NOTIFICATIONS, get_redis()).get_jobs()
    [job] = [j for j in jobs if j.args[0] == alice_openid]
    openid, messages, reason, _key = job.args
    assert reason == "commission"
    assert "2 笔订单" in messages[0]["text"] and "¥6.25" in messages[0]["text"]
    # Nothing new: nothing sent; the due set is empty.
    assert flush_commission_notices(db.session, app_redis(), app_settings(), now=1_000_300) == 0
    assert get_redis().scard(DUE) == 0
