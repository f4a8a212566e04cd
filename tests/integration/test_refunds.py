"""Refunds on SQLite and PostgreSQL: per line, never more than is left, applied exactly once.

WeChat's refund API is a FakeGateway (accept / refuse / time out); refund
notifies are encrypted here exactly as WeChat does. The end-to-end run against
the live sandbox is in test_payments_sandbox.py.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.actors import Actor
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.models import (
    AuditEntry,
    Order,
    OrderLine,
    OrderStatus,
    OutboxMessage,
    Refund,
    RefundStatus,
    Role,
    Sku,
)
from shop import orders, payments, refunds
from tests.support.db import db_snapshot, fresh
from tests.support.factories import auth_header, make_supplier, make_user, place_order
from tests.support.payments import (
    cdata_xml,
    install_fake_gateway,
    paid_order,
    refund_notify,
    signed_pay_notify,
)
from tests.support.settings import gateway_of
from webapp.extensions import db


@pytest.fixture
def fake(any_app):
    """A FakeGateway on the SQLite or PostgreSQL app."""
    return install_fake_gateway(any_app)


@pytest.fixture
def operator():
    """An operator actor."""
    return Actor.of(make_user(Role.OPERATOR))


def _notify(app, refund: Refund, status: str = "SUCCESS", **kw):
    order = db.session.get(Order, refund.order_id)
    body = refund_notify(app, refund.out_refund_no, order.number, refund.amount_fen,
                         order.total_fen, status=status, **kw)
    db.session.commit()
    return refunds.apply_refund_notify(db.session, gateway_of(), body)


def _stock(sku_id: int) -> int:
    return fresh(Sku, sku_id).stock


def _count(model, **where) -> int:
    value = db.session.scalar(select(func.count()).select_from(model).filter_by(**where))
    db.session.commit()
    return int(value or 0)


def test_partial_refunds_by_line_then_the_rest(any_app, fake, operator):
    order = paid_order(any_app, None, (1000, 3), (500, 2))
    line_a, line_b = order.lines
    sku_a, sku_b, order_id = line_a.sku_id, line_b.sku_id, order.id
    stock_a, stock_b = _stock(sku_a), _stock(sku_b)

    first = refunds.request_refund(db.session, gateway_of(), operator, order_id,
                                   [(line_a.id, 1, None)],
                                   reason="one broken")
    assert (first.status, first.amount_fen) == (RefundStatus.PROCESSING, 1000)
    assert first.out_refund_no == order.number + "R01"
    assert fresh(Order, order_id).status == OrderStatus.REFUNDING
    [call] = fake.calls_of("refund")
    assert (call["refund_fen"], call["total_fen"], call["out_trade_no"]) == (
        1000, 4000, order.number)
    assert _stock(sku_a) == stock_a  # nothing goes back before WeChat confirms

    assert _notify(any_app, first).applied
    after_first = fresh(Order, order_id)
    assert (after_first.status, after_first.refunded_fen) == (
        OrderStatus.PARTIALLY_REFUNDED, 1000)
    assert (after_first.lines[0].refunded_quantity, after_first.lines[0].refunded_fen) == (1, 1000)
    assert _stock(sku_a) == stock_a + 1

    # Money only on line B (e.g. a scratch): no stock comes back.
    second = refunds.request_refund(db.session, gateway_of(), operator, order_id,
                                    [(line_b.id, 0, 300)])
    assert second.out_refund_no == order.number + "R02"
    assert _notify(any_app, second).applied
    assert fresh(Order, order_id).refunded_fen == 1300
    assert _stock(sku_b) == stock_b

    rest = refunds.request_refund(db.session, gateway_of(), operator, order_id, None,
                                  reason="all the rest")
    assert rest.amount_fen == 4000 - 1300
    assert sorted((ln.quantity, ln.amount_fen) for ln in rest.lines) == [(2, 700), (2, 2000)]
    assert _notify(any_app, rest).applied
    final = fresh(Order, order_id)
    assert (final.status, final.refunded_fen) == (OrderStatus.REFUNDED, 4000)
    assert [(ln.refunded_quantity, ln.refunded_fen) for ln in final.lines] == [
        (3, 3000), (2, 1000)]
    assert (_stock(sku_a), _stock(sku_b)) == (stock_a + 3, stock_b + 2)
    assert _count(OutboxMessage, topic="refund.succeeded") == 3
    assert _count(AuditEntry, action="refund.succeeded") == 3

    with pytest.raises(Conflict):
        refunds.request_refund(db.session, gateway_of(), operator, order_id, None)


def test_refund_over_what_is_left_is_refused_and_changes_nothing(any_app, fake, operator):
    order = paid_order(any_app, None, (1000, 2), (300, 1))
    line_a, line_b = order.lines
    order_id = order.id
    before = db_snapshot()
    for lines in (
        [(line_a.id, 3, None)],
        [(line_a.id, 0, 2001)],
        [(line_a.id, 1, None), (line_a.id, 1, None)],
        [(line_b.id + 1000, 1, None)],
        [(line_a.id, 0, None)],
        [],
    ):
        with pytest.raises(InvalidInput):
            refunds.request_refund(db.session, gateway_of(), operator, order_id, lines)
        assert db_snapshot() == before, lines
    assert fake.calls_of("refund") == []

    done = refunds.request_refund(db.session, gateway_of(), operator, order_id,
                                  [(line_a.id, 0, 1500)])
    assert _notify(any_app, done).applied
    before = db_snapshot()
    with pytest.raises(InvalidInput):
        refunds.request_refund(db.session, gateway_of(), operator, order_id, [(line_a.id, 0, 501)])
    assert db_snapshot() == before

    # The same through the API: 422, nothing changed.
    staff = make_user(Role.OPERATOR)
    headers = auth_header(staff)
    before = db_snapshot()
    response = any_app.test_client().post(
        f"/api/v1/orders/{order_id}/refunds", headers=headers,
        json={"lines": [{"order_line_id": line_a.id, "amount_fen": 501}]},
    )
    db.session.rollback()
    assert response.status_code == 422, response.get_json()
    assert db_snapshot() == before


def test_a_refund_notify_delivered_twice_is_applied_once(any_app, fake, operator):
    order = paid_order(any_app, None, (1000, 2))
    refund = refunds.request_refund(db.session, gateway_of(), operator, order.id,
                                    [(order.lines[0].id, 1, None)])
    refund_id = refund.id
    body = refund_notify(any_app, refund.out_refund_no, order.number, 1000, 2000)
    db.session.commit()
    response = any_app.test_client().post("/wechat/pay/refund-notify", data=body)
    db.session.rollback()
    assert b"SUCCESS" in response.data
    before = db_snapshot()
    again = any_app.test_client().post("/wechat/pay/refund-notify", data=body)
    db.session.rollback()
    assert b"<return_code><![CDATA[SUCCESS]]>" in again.data
    assert db_snapshot() == before
    assert fresh(Refund, refund_id).status == RefundStatus.SUCCEEDED
    assert fresh(Order, order.id).refunded_fen == 1000
    assert _count(OutboxMessage, topic="refund.succeeded") == 1


def test_who_may_refund(any_app, fake, operator):
    s1, s2 = make_supplier(), make_supplier()
    buyer = make_user()
    order = paid_order(any_app, buyer, (1000, 1), (800, 1), suppliers=[s1, s2])
    order_id = order.id
    stranger = make_user()
    staff = make_user(Role.SUPPLIER, supplier=s1)
    with pytest.raises(NotFound):
        refunds.request_refund(db.session, gateway_of(), Actor.of(stranger), order_id)
    with pytest.raises(Forbidden):
        refunds.request_refund(db.session, gateway_of(), Actor.of(staff), order_id)
    orders.ship_order(db.session, Actor.of(staff), order_id, "SF", "SF100")
    with pytest.raises(Forbidden):  # part of it has shipped: only customer service now
        refunds.request_refund(db.session, gateway_of(), Actor.of(buyer), order_id)
    refund = refunds.request_refund(db.session, gateway_of(), operator, order_id)
    assert refund.amount_fen == 1800
    with pytest.raises(Conflict):  # one refund at a time
        refunds.request_refund(db.session, gateway_of(), operator, order_id)

    unpaid = place_order((500, 1), buyer=buyer)
    with pytest.raises(Conflict):
        refunds.request_refund(db.session, gateway_of(), operator, unpaid.id)

    own = paid_order(any_app, buyer, (500, 2))
    mine = refunds.request_refund(db.session, gateway_of(), Actor.of(buyer), own.id,
                                  [(own.lines[0].id, 1, None)], reason="changed my mind")
    assert (mine.amount_fen, mine.requested_by_id) == (500, buyer.id)


def test_a_definite_refusal_fails_the_refund_and_restores_the_order(any_app, fake, operator):
    supplier = make_supplier()
    order = paid_order(any_app, None, (1000, 1), suppliers=[supplier])
    order_id = order.id
    staff = make_user(Role.SUPPLIER, supplier=supplier)
    orders.ship_order(db.session, Actor.of(staff), order_id, "SF", "SF1")
    fake.refund_mode = "refuse"
    refund = refunds.request_refund(db.session, gateway_of(), operator, order_id, None)
    assert refund.status == RefundStatus.FAILED
    assert "NOTENOUGH" in refund.failure_reason
    assert fresh(Order, order_id).status == OrderStatus.SHIPPED
    assert _count(OutboxMessage, topic="refund.failed") == 1
    # The order can be refunded again later, under a new number.
    fake.refund_mode = "accept"
    again = refunds.request_refund(db.session, gateway_of(), operator, order_id, None)
    assert again.status == RefundStatus.PROCESSING
    assert again.out_refund_no.endswith("R02")


def test_an_unknown_outcome_stays_processing_until_reconciled(any_app, fake, operator):
    order = paid_order(any_app, None, (1000, 2))
    order_id, number = order.id, order.number
    fake.refund_mode = "timeout"
    refund = refunds.request_refund(db.session, gateway_of(), operator, order_id,
                                    [(order.lines[0].id, 1, None)])
    refund_id, out_refund_no = refund.id, refund.out_refund_no
    assert refund.status == RefundStatus.PROCESSING
    assert fresh(Order, order_id).status == OrderStatus.REFUNDING

    # WeChat never got it: reconciliation submits it again with the same number.
    fake.refund_mode = "accept"
    assert refunds.reconcile_processing_refunds(db.session, gateway_of(), older_than_minutes=0) == 0
    assert [c["out_refund_no"] for c in fake.calls_of("refund")] == [out_refund_no] * 2

    # WeChat now reports it done.
    fake.refund_query_answer = {
        "out_trade_no": number, "total_fee": "2000", "refund_count": "1",
        "out_refund_no_0": out_refund_no, "refund_id_0": "50300000000001",
        "refund_fee_0": "1000", "refund_status_0": "SUCCESS",
    }
    assert refunds.reconcile_processing_refunds(db.session, gateway_of(), older_than_minutes=0) == 1
    assert fresh(Refund, refund_id).status == RefundStatus.SUCCEEDED
    assert fresh(Order, order_id).status == OrderStatus.PARTIALLY_REFUNDED
    # The notify arriving afterwards changes nothing.
    before = db_snapshot()
    assert _notify(any_app, fresh(Refund, refund_id)).ok
    assert db_snapshot() == before


def test_refundclose_notify_fails_the_refund_and_restores_the_order(any_app, fake, operator):
    order = paid_order(any_app, None, (1000, 1))
    order_id = order.id
    refund = refunds.request_refund(db.session, gateway_of(), operator, order_id, None)
    refund_id = refund.id
    outcome = _notify(any_app, refund, status="REFUNDCLOSE")
    assert outcome.ok and outcome.applied
    assert fresh(Refund, refund_id).status == RefundStatus.FAILED
    assert fresh(Order, order_id).status == OrderStatus.PAID
    # A contradicting SUCCESS afterwards is refused and changes nothing.
    before = db_snapshot()
    assert not _notify(any_app, fresh(Refund, refund_id)).ok
    assert db_snapshot() == before


def test_bad_refund_notifies_are_refused_and_change_nothing(any_app, fake, operator):
    order = paid_order(any_app, None, (1000, 2))
    refund = refunds.request_refund(db.session, gateway_of(), operator, order.id, None)
    no, number = refund.out_refund_no, order.number
    cases = {
        "wrong key": refund_notify(any_app, no, number, 2000, 2000,
                                   key="another-merchant-key-000000000000"),
        "foreign appid": refund_notify(any_app, no, number, 2000, 2000, appid="wx-other"),
        "amount mismatch": refund_notify(any_app, no, number, 1999, 2000),
        "total mismatch": refund_notify(any_app, no, number, 2000, 2001),
        "other order": refund_notify(any_app, no, "CS000000000000000000001", 2000, 2000),
        "unknown refund": refund_notify(any_app, no + "9", number, 2000, 2000),
        "odd status": refund_notify(any_app, no, number, 2000, 2000, status="MAYBE"),
        "garbage req_info": cdata_xml({
            "return_code": "SUCCESS", "appid": any_app.config["WECHAT_APP_ID"],
            "mch_id": any_app.config["WECHAT_MCH_ID"], "req_info": "bm90IGVuY3J5cHRlZA==",
        }).encode(),
        "return FAIL": cdata_xml({"return_code": "FAIL", "return_msg": "x"}).encode(),
        "malformed": b"<xml><req_info>",
        "xxe": b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><a>&e;</a></xml>',
        "empty": b"",
    }
    db.session.commit()
    before = db_snapshot()
    client = any_app.test_client()
    for name, body in cases.items():
        response = client.post("/wechat/pay/refund-notify", data=body)
        db.session.rollback()
        assert response.status_code == 200, name
        assert b"<return_code><![CDATA[FAIL]]>" in response.data, name
        assert response.content_type.startswith("application/xml")
        assert db_snapshot() == before, name


def test_stock_comes_back_only_for_suppliers_that_had_not_shipped(any_app, fake, operator):
    s1, s2 = make_supplier(), make_supplier()
    order = paid_order(any_app, None, (1000, 2), (600, 3), suppliers=[s1, s2])
    order_id = order.id
    sku_1, sku_2 = order.lines[0].sku_id, order.lines[1].sku_id
    stock_1, stock_2 = _stock(sku_1), _stock(sku_2)
    orders.ship_order(db.session, Actor.of(make_user(Role.SUPPLIER, supplier=s1)), order_id,
                      "SF", "SF9")
    refund = refunds.request_refund(db.session, gateway_of(), operator, order_id, None)
    assert _notify(any_app, refund).applied
    assert (_stock(sku_1), _stock(sku_2)) == (stock_1, stock_2 + 3)
    assert fresh(Order, order_id).status == OrderStatus.REFUNDED


def test_refunds_through_the_api(any_app, fake):
    buyer = make_user()
    order = paid_order(any_app, buyer, (1000, 2))
    line_id, order_id = order.lines[0].id, order.id
    staff = make_user(Role.OPERATOR)
    stranger = make_user()
    client = any_app.test_client()

    assert client.post(f"/api/v1/orders/{order_id}/refunds", json={}).status_code == 401
    response = client.post(
        f"/api/v1/orders/{order_id}/refunds", headers=auth_header(staff),
        json={"lines": [{"order_line_id": line_id, "quantity": 1}], "reason": "damaged"},
    )
    db.session.rollback()
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["amount_fen"], body["status"], body["reason"]) == (1000, "processing", "damaged")
    assert body["lines"] == [{"order_line_id": line_id, "quantity": 1, "amount_fen": 1000}]

    bad = client.post(f"/api/v1/orders/{order_id}/refunds", headers=auth_header(staff),
                      json={"lines": [{"order_line_id": line_id, "amount_fen": 1.5}]})
    assert bad.status_code == 422
    busy = client.post(f"/api/v1/orders/{order_id}/refunds", headers=auth_header(staff), json={})
    assert busy.status_code == 409
    db.session.rollback()

    listed = client.get(f"/api/v1/orders/{order_id}/refunds", headers=auth_header(buyer))
    assert listed.status_code == 200
    assert [r["out_refund_no"] for r in listed.get_json()] == [body["out_refund_no"]]
    hidden = client.get(f"/api/v1/orders/{order_id}/refunds", headers=auth_header(stranger))
    assert hidden.status_code == 404
    db.session.rollback()


def test_start_payment_through_the_api(any_app, fake):
    buyer = make_user()
    order = place_order((1000, 1), buyer=buyer)
    client = any_app.test_client()
    response = client.post(f"/api/v1/orders/{order.id}/payment", headers=auth_header(buyer))
    db.session.rollback()
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["out_trade_no"] == order.number
    assert body["jsapi"]["package"] == "prepay_id=wx-prepay-" + order.number
    assert set(body["jsapi"]) == {"appId", "timeStamp", "nonceStr", "package", "signType",
                                  "paySign"}
    other = client.post(f"/api/v1/orders/{order.id}/payment", headers=auth_header(make_user()))
    assert other.status_code == 404
    db.session.rollback()
    assert _count(OrderLine) == 1


def test_a_failed_automatic_refund_of_a_late_payment_can_be_retried(any_app, fake, operator):
    order = place_order((900, 1))
    order_id, number = order.id, order.number
    orders.cancel_order(db.session, Actor(order.buyer_id), order_id)
    fake.refund_mode = "refuse"
    outcome = payments.apply_pay_notify(db.session, gateway_of(),
                                        signed_pay_notify(any_app, number, 900))
    assert outcome.ok and outcome.refund_id is not None
    assert fresh(Refund, outcome.refund_id).status == RefundStatus.FAILED
    assert fresh(Order, order_id).status == OrderStatus.CANCELLED

    buyer = Actor(fresh(Order, order_id).buyer_id)
    with pytest.raises(Conflict):  # only customer service handles this
        refunds.request_refund(db.session, gateway_of(), buyer, order_id)
    fake.refund_mode = "accept"
    retry = refunds.request_refund(db.session, gateway_of(), operator, order_id, None,
                                   reason="retry")
    assert (retry.amount_fen, retry.out_refund_no) == (900, number + "R02")
    assert fresh(Order, order_id).status == OrderStatus.CANCELLED
    assert _notify(any_app, fresh(Refund, retry.id)).applied
    final = fresh(Order, order_id)
    assert (final.status, final.refunded_fen) == (OrderStatus.CANCELLED, 900)
    with pytest.raises(InvalidInput):  # nothing left
        refunds.request_refund(db.session, gateway_of(), operator, order_id, None)
