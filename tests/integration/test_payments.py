"""WeChat Pay notifies on SQLite and PostgreSQL: verified, applied exactly once, or refused.

WeChat's outgoing API is a FakeGateway here; the live sandbox tests are in
test_payments_sandbox.py.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.actors import Actor
from core.clock import utcnow
from core.errors import Conflict, InvalidInput, NotFound
from core.models import (
    AuditEntry,
    Order,
    OrderStatus,
    OutboxMessage,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
    Sku,
)
from shop import orders, payments
from tests.support.db import db_snapshot, fresh
from tests.support.factories import make_user, place_order
from tests.support.payments import (
    cdata_xml,
    install_fake_gateway,
    new_transaction_id,
    pay_notify_fields,
    sign,
    signed_pay_notify,
)
from tests.support.settings import gateway_of, settings_of
from webapp.extensions import db

SUCCESS_ACK = (
    b"<xml><return_code><![CDATA[SUCCESS]]></return_code>"
    b"<return_msg><![CDATA[OK]]></return_msg></xml>"
)


@pytest.fixture
def fake(any_app):
    """A FakeGateway on the SQLite or PostgreSQL app."""
    return install_fake_gateway(any_app)


def _post_notify(app, body: bytes, path: str = "/wechat/pay/notify"):
    response = app.test_client().post(path, data=body, content_type="text/xml")
    db.session.rollback()  # the test client shares this thread's session: end its transaction
    return response


def _count(model, **where) -> int:
    stmt = select(func.count()).select_from(model).filter_by(**where)
    value = db.session.scalar(stmt)
    db.session.commit()
    return int(value or 0)


def test_a_valid_notify_marks_the_order_paid_once(any_app, fake):
    order = place_order((1990, 2))
    tx = new_transaction_id()
    body = signed_pay_notify(any_app, order.number, 3980, tx)

    response = _post_notify(any_app, body)
    assert response.status_code == 200
    assert response.content_type.startswith("application/xml")
    assert response.data == SUCCESS_ACK
    paid = fresh(Order, order.id)
    assert paid.status == OrderStatus.PAID and paid.paid_at is not None
    payment = db.session.scalar(select(Payment).where(Payment.order_id == order.id))
    assert (payment.transaction_id, payment.status, payment.amount_fen) == (
        tx, PaymentStatus.SUCCEEDED, 3980)
    assert payment.raw_notify == body.decode()
    assert payment.payer_openid == "o-test-payer"
    db.session.commit()
    assert _count(OutboxMessage, topic="order.paid") == 1
    assert _count(AuditEntry, action="order.paid") == 1

    # WeChat delivers again: acknowledged, nothing changes.
    before = db_snapshot()
    again = _post_notify(any_app, body)
    assert again.data == SUCCESS_ACK
    assert db_snapshot() == before


def test_hmac_sha256_notifies_are_accepted(any_app, fake):
    order = place_order((500, 1))
    body = signed_pay_notify(any_app, order.number, 500, sign_type="HMAC-SHA256")
    outcome = payments.apply_pay_notify(db.session, gateway_of(), body)
    assert outcome.ok and outcome.applied
    assert fresh(Order, order.id).status == OrderStatus.PAID


def _bad_notifies(app, order):
    """(name, body) of notifies that must be refused."""
    key = app.config["WECHAT_PAY_API_KEY"]
    good = pay_notify_fields(app, order.number, order.total_fen)
    signed = sign(good, key)

    def signed_with(**overrides):
        return cdata_xml(sign({**good, **overrides}, key)).encode()

    tampered = dict(signed, total_fee="1")
    xxe = (
        '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        f"<xml><out_trade_no>&xxe;</out_trade_no>{cdata_xml(signed)[5:]}"
    )
    laughs = (
        '<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        "<xml><return_code>&b;</return_code></xml>"
    )
    return [
        ("bad signature", cdata_xml(dict(signed, sign="0" * 32)).encode()),
        ("tampered amount", cdata_xml(tampered).encode()),
        ("wrong key", cdata_xml(sign(good, "another-merchant-key-000000000000")).encode()),
        ("unsigned", cdata_xml(good).encode()),
        ("hmac with wrong key", cdata_xml(
            sign(good, "another-merchant-key-000000000000", "HMAC-SHA256")).encode()),
        ("unknown sign_type", signed_with(sign_type="SHA1")),
        ("foreign appid", signed_with(appid="wx-somebody-else")),
        ("foreign mch_id", signed_with(mch_id="1234567890")),
        ("amount mismatch", signed_with(total_fee=str(order.total_fen - 1), cash_fee="1")),
        ("non-numeric amount", signed_with(total_fee="12.50")),
        ("result FAIL", signed_with(result_code="FAIL", err_code="NOTENOUGH")),
        ("return FAIL", cdata_xml({"return_code": "FAIL", "return_msg": "x"}).encode()),
        ("unknown order", signed_with(out_trade_no="CS000000000000000000000")),
        ("no transaction id", signed_with(transaction_id="")),
        ("foreign currency", signed_with(fee_type="USD")),
        ("malformed", b"<xml><return_code>SUCCESS</return_code"),
        ("not xml", b"hello"),
        ("empty", b""),
        ("wrong root", cdata_xml(signed, root="root").encode()),
        ("nested", b"<xml><a><b>1</b></a></xml>"),
        ("repeated field", b"<xml><total_fee>1</total_fee><total_fee>2</total_fee></xml>"),
        ("not utf-8", cdata_xml(signed).encode("utf-16")),
        ("xxe", xxe.encode()),
        ("billion laughs", laughs.encode()),
    ]


def test_every_bad_notify_is_refused_and_changes_nothing(any_app, fake):
    order = place_order((1000, 1))
    cases = _bad_notifies(any_app, order)
    before = db_snapshot()
    for name, body in cases:
        response = _post_notify(any_app, body)
        assert response.status_code == 200, name
        assert b"<return_code><![CDATA[FAIL]]></return_code>" in response.data, name
        assert response.content_type.startswith("application/xml"), name
        assert db_snapshot() == before, name
    assert fresh(Order, order.id).status == OrderStatus.PENDING_PAYMENT


def test_oversized_notify_is_refused_without_reading_it(any_app, fake):
    order = place_order((1000, 1))
    before = db_snapshot()
    huge = b"<xml>" + b" " * (1024 * 1024 + 10) + b"</xml>"
    response = _post_notify(any_app, huge)
    assert response.status_code == 413
    assert b"FAIL" in response.data
    assert response.content_type.startswith("application/xml")
    assert db_snapshot() == before
    assert fresh(Order, order.id).status == OrderStatus.PENDING_PAYMENT


def test_a_second_transaction_for_a_paid_order_is_refused(any_app, fake):
    order = place_order((1000, 1))
    assert payments.apply_pay_notify(
        db.session, gateway_of(), signed_pay_notify(any_app, order.number, 1000)).applied
    before = db_snapshot()
    outcome = payments.apply_pay_notify(
        db.session, gateway_of(), signed_pay_notify(any_app, order.number, 1000))
    assert not outcome.ok
    assert db_snapshot() == before


def test_late_payment_for_a_cancelled_order_is_recorded_and_refunded(any_app, fake):
    order = place_order((1200, 2), (300, 1))
    buyer = Actor(order.buyer_id)
    orders.cancel_order(db.session, buyer, order.id)
    stock_after_cancel = {s.id: s.stock for s in db.session.scalars(select(Sku))}
    db.session.commit()
    tx = new_transaction_id()

    response = _post_notify(any_app, signed_pay_notify(any_app, order.number, 2700, tx))
    assert response.data == SUCCESS_ACK

    assert fresh(Order, order.id).status == OrderStatus.CANCELLED
    payment = db.session.scalar(select(Payment).where(Payment.order_id == order.id))
    assert (payment.status, payment.transaction_id) == (PaymentStatus.SUCCEEDED, tx)
    refund = db.session.scalar(select(Refund).where(Refund.order_id == order.id))
    assert refund.amount_fen == 2700
    assert refund.status == RefundStatus.PROCESSING
    assert refund.requested_by_id is None
    assert sorted((ln.quantity, ln.amount_fen) for ln in refund.lines) == [(1, 300), (2, 2400)]
    assert refund.wechat_refund_id  # WeChat accepted it
    db.session.commit()
    [call] = fake.calls_of("refund")
    assert (call["out_trade_no"], call["refund_fen"], call["total_fen"]) == (
        order.number, 2700, 2700)
    assert call["out_refund_no"] == refund.out_refund_no == order.number + "R01"
    assert _count(AuditEntry, action="payment.late") == 1
    assert _count(AuditEntry, action="refund.requested") == 1
    assert _count(OutboxMessage, topic="order.paid") == 0
    # Stock was released at cancellation and is not touched again.
    assert {s.id: s.stock for s in db.session.scalars(select(Sku))} == stock_after_cancel
    db.session.commit()

    # A repeat of the late notify changes nothing and does not refund twice.
    before = db_snapshot()
    assert _post_notify(any_app, signed_pay_notify(any_app, order.number, 2700, tx)).data == (
        SUCCESS_ACK)
    assert db_snapshot() == before
    assert len(fake.calls_of("refund")) == 1


def test_expired_but_not_yet_cancelled_order_still_accepts_its_payment(any_app, fake):
    order = place_order((1000, 1))
    db.session.get(Order, order.id).expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert payments.apply_pay_notify(
        db.session, gateway_of(), signed_pay_notify(any_app, order.number, 1000)).applied
    assert fresh(Order, order.id).status == OrderStatus.PAID
    # The timeout job then finds nothing to cancel.
    assert orders.cancel_expired_orders(db.session) == 0
    assert fresh(Order, order.id).status == OrderStatus.PAID


def test_start_payment_refusals(any_app, fake):
    order = place_order((1000, 1))
    stranger = make_user()
    with pytest.raises(NotFound):
        payments.start_payment(db.session, gateway_of(), settings_of(), Actor(stranger.id),
                               order.id, "1.2.3.4")
    with pytest.raises(NotFound):
        payments.start_payment(db.session, gateway_of(), settings_of(), Actor(order.buyer_id),
                               999999, "1.2.3.4")
    no_openid = make_user(openid="")
    no_openid.openid = None
    db.session.commit()
    other = place_order((1000, 1), buyer=no_openid)
    with pytest.raises(InvalidInput):
        payments.start_payment(db.session, gateway_of(), settings_of(), Actor(no_openid.id),
                               other.id, "1.2.3.4")
    late = place_order((1000, 1))
    db.session.get(Order, late.id).expires_at = utcnow() + timedelta(seconds=20)
    db.session.commit()
    with pytest.raises(Conflict):
        payments.start_payment(db.session, gateway_of(), settings_of(), Actor(late.buyer_id),
                               late.id, "1.2.3.4")
    payments.apply_pay_notify(db.session, gateway_of(),
                              signed_pay_notify(any_app, order.number, 1000))
    with pytest.raises(Conflict):
        payments.start_payment(db.session, gateway_of(), settings_of(), Actor(order.buyer_id),
                               order.id, "1.2.3.4")
    assert fake.calls_of("unified_order") == []


def test_start_payment_reuses_the_prepay(any_app, fake):
    order = place_order((1000, 1))
    buyer = Actor(order.buyer_id)
    first = payments.start_payment(db.session, gateway_of(), settings_of(), buyer, order.id,
                                   "not-an-ip")
    second = payments.start_payment(db.session, gateway_of(), settings_of(), buyer, order.id,
                                    "10.0.0.1")
    assert first["jsapi"]["package"] == second["jsapi"]["package"] == (
        "prepay_id=wx-prepay-" + order.number)
    assert first["pay_url"] is None  # not a sandbox app
    assert first["amount_fen"] == 1000 and first["out_trade_no"] == order.number
    [call] = fake.calls_of("unified_order")
    assert call["out_trade_no"] == order.number and call["total_fen"] == 1000
    assert call["expires_at"] == fresh(Order, order.id).expires_at
    db.session.commit()
    assert _count(Payment, order_id=order.id) == 1


def test_reconcile_applies_a_payment_whose_notify_never_came(any_app, fake):
    order = place_order((1000, 1))
    payments.start_payment(db.session, gateway_of(), settings_of(), Actor(order.buyer_id), order.id,
                           "1.2.3.4")
    tx = new_transaction_id()
    fake.order_query_answer = dict(
        pay_notify_fields(any_app, order.number, 1000, tx), trade_state="SUCCESS")
    assert payments.reconcile_pending_payments(db.session, gateway_of(),
                                               older_than_minutes=5) == 0  # too new
    assert payments.reconcile_pending_payments(db.session, gateway_of(), older_than_minutes=0) == 1
    assert fresh(Order, order.id).status == OrderStatus.PAID
    db.session.commit()
    assert _count(OutboxMessage, topic="order.paid") == 1
    # The notify arriving afterwards is a harmless duplicate.
    before = db_snapshot()
    body = signed_pay_notify(any_app, order.number, 1000, tx)
    assert payments.apply_pay_notify(db.session, gateway_of(), body).ok
    assert db_snapshot() == before
    assert payments.reconcile_pending_payments(db.session, gateway_of(), older_than_minutes=0) == 0


def test_reconcile_refuses_a_wrong_amount_and_closes_cancelled_unpaid_trades(any_app, fake):
    order = place_order((1000, 1))
    payments.start_payment(db.session, gateway_of(), settings_of(), Actor(order.buyer_id), order.id,
                           "1.2.3.4")
    fake.order_query_answer = dict(
        pay_notify_fields(any_app, order.number, 999), trade_state="SUCCESS")
    before = db_snapshot()
    assert payments.reconcile_payment(db.session, gateway_of(), order.id) == "unknown"
    assert db_snapshot() == before

    fake.order_query_answer = dict(
        pay_notify_fields(any_app, order.number, 1000), trade_state="NOTPAY")
    assert payments.reconcile_payment(db.session, gateway_of(), order.id) == "unpaid"
    orders.cancel_order(db.session, Actor(order.buyer_id), order.id)
    assert payments.reconcile_payment(db.session, gateway_of(), order.id) == "closed"
    assert fake.calls_of("close_order") == [{"out_trade_no": order.number}]
    payment = db.session.scalar(select(Payment).where(Payment.order_id == order.id))
    assert payment.status == PaymentStatus.CLOSED
    db.session.commit()


def _deliver_concurrently(app, body: bytes, deliveries: int, workers: int):
    start = threading.Barrier(workers)

    def deliver(index: int):
        if index < workers:
            start.wait()
        return app.test_client().post("/wechat/pay/notify", data=body).data

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(deliver, range(deliveries)))


def test_the_same_notify_15_times_from_4_threads_pays_once(pg_app):
    install_fake_gateway(pg_app)
    order = place_order((2500, 2))
    tx = new_transaction_id()
    body = signed_pay_notify(pg_app, order.number, 5000, tx)
    acks = _deliver_concurrently(pg_app, body, deliveries=15, workers=4)
    assert acks == [SUCCESS_ACK] * 15
    assert fresh(Order, order.id).status == OrderStatus.PAID
    db.session.commit()
    assert _count(Payment, transaction_id=tx) == 1
    assert _count(Payment) == 1
    assert _count(OutboxMessage, topic="order.paid") == 1
    assert _count(AuditEntry, action="order.paid") == 1


def test_notify_racing_timeout_cancellation_is_consistent(pg_app):
    fake = install_fake_gateway(pg_app)
    past = utcnow() - timedelta(minutes=1)
    placed = [place_order((700, 1), (300, 2), stock=100) for _ in range(8)]
    skus = sorted({line.sku_id for o in placed for line in o.lines})
    for o in placed:
        db.session.get(Order, o.id).expires_at = past
    db.session.commit()
    numbers = [o.number for o in placed]
    db.session.commit()
    start = threading.Barrier(5, timeout=30)

    def cancel():
        with pg_app.app_context():
            start.wait()
            return orders.cancel_expired_orders(db.session)

    def notify(index):
        body = signed_pay_notify(pg_app, numbers[index], 1300)
        with pg_app.app_context():
            if index < 4:  # the first four start together with the timeout job
                start.wait()
            return payments.apply_pay_notify(db.session, gateway_of(), body)

    with ThreadPoolExecutor(max_workers=5) as pool:
        cancelled = pool.submit(cancel)
        notified = [pool.submit(notify, i) for i in range(len(numbers))]
        outcomes = [f.result() for f in notified]
        cancelled_count = cancelled.result()
    assert all(o.ok and o.applied for o in outcomes)

    db.session.expire_all()
    paid = late = 0
    for o in placed:
        order = db.session.get(Order, o.id)
        payment = db.session.scalar(select(Payment).where(Payment.order_id == o.id))
        assert payment.status == PaymentStatus.SUCCEEDED
        refund_rows = db.session.scalars(select(Refund).where(Refund.order_id == o.id)).all()
        if order.status == OrderStatus.PAID:
            paid += 1
            assert refund_rows == []
        else:
            assert order.status == OrderStatus.CANCELLED
            late += 1
            assert [r.amount_fen for r in refund_rows] == [1300]
    assert late == cancelled_count and paid + late == 8
    # Stock: only the paid orders still hold theirs.
    stocks = [db.session.get(Sku, sku_id).stock for sku_id in skus]
    assert sum(100 - s for s in stocks) == paid * 3
    db.session.commit()
    assert _count(OutboxMessage, topic="order.paid") == paid
    assert _count(OutboxMessage, topic="order.cancelled") == late
    assert len(fake.calls_of("refund")) == late


@pytest.mark.parametrize("sign_type", ["MD5", "HMAC-SHA256"])
def test_our_signatures_match_wechatpys(sign_type):
    from wechatpy.pay.utils import calculate_signature, calculate_signature_hmac

    from adapters.wechat.pay_notify import signature, signature_ok

    fields = {"appid": "wx1", "body": "中文 & 符号=", "empty": "", "total_fee": "1", "z": "0"}
    key = "chatshopdevpaykey0000000000000000"
    theirs = (calculate_signature_hmac if sign_type == "HMAC-SHA256" else calculate_signature)(
        fields, key)
    assert signature(fields, key, sign_type) == theirs
    declared = dict(fields, sign_type=sign_type) if sign_type != "MD5" else fields
    assert signature_ok(dict(declared, sign=signature(declared, key, sign_type)), key)
    assert not signature_ok(dict(declared, sign="0" * len(theirs)), key)
    assert not signature_ok(dict(declared, sign=theirs), "another-key")


def test_orderpaid_from_unified_order_fetches_the_late_result(any_app, fake, monkeypatch):
    from adapters.wechat.pay_v2 import GatewayError

    order = place_order((1000, 1))
    payments.start_payment(db.session, gateway_of(), settings_of(), Actor(order.buyer_id), order.id,
                           "1.2.3.4")
    payment = db.session.scalar(select(Payment).where(Payment.order_id == order.id))
    payment.prepay_id = None  # e.g. the prepay had expired
    db.session.commit()

    def already_paid(**kwargs):
        raise GatewayError("unifiedorder: ORDERPAID", definite=True, code="ORDERPAID")

    monkeypatch.setattr(fake, "unified_order", already_paid)
    fake.order_query_answer = dict(
        pay_notify_fields(any_app, order.number, 1000), trade_state="SUCCESS")
    with pytest.raises(Conflict):
        payments.start_payment(db.session, gateway_of(), settings_of(), Actor(order.buyer_id),
                               order.id, "1.2.3.4")
    assert fresh(Order, order.id).status == OrderStatus.PAID
