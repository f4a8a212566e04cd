"""Refunds in the Pay sandbox: limits, idempotency, the encrypted notify, refund query."""
from __future__ import annotations

import threading
import time

import pytest
from wechatpy.exceptions import WeChatPayException

from sandbox import notify_log, pay_order, send_refund_notify, signing
from tests.support.sandbox import Sandbox


def _paid_order(sandbox: Sandbox, out_trade_no: str, total_fee: int = 1000) -> str:
    sandbox.create_order(out_trade_no, total_fee=total_fee)
    paid = sandbox.in_app(lambda: pay_order(out_trade_no))
    sandbox.sink.wait_for(1)
    return paid.order.transaction_id


def test_partial_refunds_up_to_the_total_with_decryptable_notifies(sandbox: Sandbox) -> None:
    client = sandbox.client()
    transaction_id = _paid_order(sandbox, "CS-REFUND-1")

    first = client.refund.apply(
        1000, 300, "RF-1a", out_trade_no="CS-REFUND-1", notify_url=sandbox.notify_url
    )
    assert client.check_signature(dict(first))
    assert first["refund_fee"] == "300" and first["transaction_id"] == transaction_id

    notify_body = sandbox.sink.wait_for(2)[1]
    envelope = signing.parse_xml(notify_body)
    assert envelope["return_code"] == "SUCCESS" and "sign" not in envelope
    details = client.parse_refund_notify_result(notify_body)
    assert details["out_refund_no"] == "RF-1a"
    assert details["refund_id"] == first["refund_id"]
    assert details["out_trade_no"] == "CS-REFUND-1"
    assert details["transaction_id"] == transaction_id
    assert details["refund_fee"] == 300 and details["total_fee"] == 1000
    assert details["refund_status"] == "SUCCESS"

    with pytest.raises(WeChatPayException) as too_much:
        client.refund.apply(1000, 701, "RF-1b", transaction_id=transaction_id)
    assert too_much.value.errcode == "REFUND_FEE_INVALID"

    rest = client.refund.apply(
        1000, 700, "RF-1b", transaction_id=transaction_id, notify_url=sandbox.notify_url
    )
    assert rest["out_trade_no"] == "CS-REFUND-1"
    sandbox.sink.wait_for(3)

    with pytest.raises(WeChatPayException) as nothing_left:
        client.refund.apply(1000, 1, "RF-1c", out_trade_no="CS-REFUND-1")
    assert nothing_left.value.errcode == "REFUND_FEE_INVALID"

    assert client.order.query(out_trade_no="CS-REFUND-1")["trade_state"] == "REFUND"
    listed = client.refund.query(out_trade_no="CS-REFUND-1")
    assert client.check_signature(dict(listed))
    assert listed["refund_count"] == "2"
    assert {listed["out_refund_no_0"], listed["out_refund_no_1"]} == {"RF-1a", "RF-1b"}
    one = client.refund.query(out_refund_no="RF-1b")
    assert one["refund_count"] == "1" and one["refund_fee_0"] == "700"
    assert one["refund_status_0"] == "SUCCESS"
    by_id = client.refund.query(refund_id=first["refund_id"])
    assert by_id["out_refund_no_0"] == "RF-1a"


def test_refund_is_idempotent_per_out_refund_no(sandbox: Sandbox) -> None:
    client = sandbox.client()
    _paid_order(sandbox, "CS-REFUND-IDEM")
    first = client.refund.apply(
        1000, 400, "RF-IDEM", out_trade_no="CS-REFUND-IDEM", notify_url=sandbox.notify_url
    )
    again = client.refund.apply(
        1000, 400, "RF-IDEM", out_trade_no="CS-REFUND-IDEM", notify_url=sandbox.notify_url
    )
    assert again["refund_id"] == first["refund_id"]
    with pytest.raises(WeChatPayException) as changed:
        client.refund.apply(1000, 401, "RF-IDEM", out_trade_no="CS-REFUND-IDEM")
    assert changed.value.errcode == "PARAM_ERROR"

    sandbox.sink.wait_for(2)
    time.sleep(0.5)  # a duplicate notify would have arrived by now
    assert len(sandbox.sink.bodies) == 2
    listed = client.refund.query(out_trade_no="CS-REFUND-IDEM")
    assert listed["refund_count"] == "1"
    # Only 400 of 1000 was refunded, so 600 remains.
    client.refund.apply(1000, 600, "RF-IDEM-2", out_trade_no="CS-REFUND-IDEM")


def test_refund_notify_defaults_to_the_app_refund_notify_url(sandbox: Sandbox) -> None:
    _paid_order(sandbox, "CS-REFUND-DEFAULT")
    sandbox.client().refund.apply(1000, 100, "RF-DEFAULT", out_trade_no="CS-REFUND-DEFAULT")
    deadline = time.monotonic() + 10
    entries: list[dict] = []
    while time.monotonic() < deadline and not entries:
        entries = [
            e for e in sandbox.in_app(lambda: notify_log(out_trade_no="CS-REFUND-DEFAULT"))
            if e["kind"] == "refund"
        ]
        time.sleep(0.05)
    assert entries, "no refund notify was attempted"
    assert entries[0]["url"] == sandbox.url + "/wechat/pay/refund-notify"

    resent = sandbox.in_app(lambda: send_refund_notify("RF-DEFAULT"))
    assert resent.url == sandbox.url + "/wechat/pay/refund-notify"


def test_refunds_of_unpaid_or_unknown_orders_are_refused(sandbox: Sandbox) -> None:
    client = sandbox.client()
    sandbox.create_order("CS-REFUND-UNPAID")
    with pytest.raises(WeChatPayException) as unpaid:
        client.refund.apply(1000, 100, "RF-UNPAID", out_trade_no="CS-REFUND-UNPAID")
    assert unpaid.value.errcode == "TRADE_STATE_ERROR"
    with pytest.raises(WeChatPayException) as unknown:
        client.refund.apply(1000, 100, "RF-UNKNOWN", out_trade_no="CS-REFUND-NONE")
    assert unknown.value.errcode == "ORDERNOTEXIST"
    with pytest.raises(WeChatPayException) as none:
        client.refund.query(out_trade_no="CS-REFUND-UNPAID")
    assert none.value.errcode == "REFUNDNOTEXIST"


def test_refund_total_must_match_the_order(sandbox: Sandbox) -> None:
    _paid_order(sandbox, "CS-REFUND-TOTAL")
    with pytest.raises(WeChatPayException) as caught:
        sandbox.client().refund.apply(999, 100, "RF-TOTAL", out_trade_no="CS-REFUND-TOTAL")
    assert caught.value.errcode == "PARAM_ERROR"


def test_out_refund_no_cannot_be_reused_on_another_order(sandbox: Sandbox) -> None:
    client = sandbox.client()
    _paid_order(sandbox, "CS-REFUND-A")
    sandbox.create_order("CS-REFUND-B")
    sandbox.in_app(lambda: pay_order("CS-REFUND-B"))
    client.refund.apply(1000, 100, "RF-SHARED", out_trade_no="CS-REFUND-A")
    with pytest.raises(WeChatPayException) as caught:
        client.refund.apply(1000, 100, "RF-SHARED", out_trade_no="CS-REFUND-B")
    assert caught.value.errcode == "PARAM_ERROR"


def test_concurrent_refunds_never_exceed_the_total(sandbox: Sandbox) -> None:
    _paid_order(sandbox, "CS-REFUND-RACE")
    outcomes: list[str] = []
    lock = threading.Lock()

    def refund(n: int) -> None:
        try:
            sandbox.client().refund.apply(
                1000, 200, f"RF-RACE-{n}", out_trade_no="CS-REFUND-RACE",
                notify_url=sandbox.notify_url,
            )
            result = "ok"
        except WeChatPayException as exc:
            result = str(exc.errcode)
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=refund, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["REFUND_FEE_INVALID"] * 5 + ["ok"] * 5
    sandbox.sink.wait_for(6)  # the pay notify and five refund notifies
