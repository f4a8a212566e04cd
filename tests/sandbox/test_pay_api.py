"""The Pay sandbox's merchant API, driven by the real wechatpy client over HTTP."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
import requests
from wechatpy.exceptions import WeChatPayException

from sandbox import PaymentRefused, notify_log, pay_order, signing, travel
from sandbox.clock import BEIJING
from tests.support.sandbox import Sandbox

ORDER_PATH = "/sandbox/pay/pay/unifiedorder"


def _post_raw(sandbox: Sandbox, path: str, body: bytes) -> requests.Response:
    return requests.post(sandbox.url + path, data=body, timeout=5)


def _signed_body(sandbox: Sandbox, **fields: str) -> bytes:
    cfg = sandbox.app.config
    params = {
        "appid": cfg["WECHAT_APP_ID"],
        "mch_id": cfg["WECHAT_MCH_ID"],
        "nonce_str": signing.nonce_str(),
        **fields,
    }
    return signing.to_xml(signing.signed(params, cfg["WECHAT_PAY_API_KEY"])).encode()


def test_order_paid_through_the_pay_page_is_notified_and_queryable(sandbox: Sandbox) -> None:
    client = sandbox.client()
    created = sandbox.create_order("CS-FLOW-1", total_fee=1234)
    assert created["prepay_id"].startswith("wx")
    assert client.check_signature(dict(created))

    before = client.order.query(out_trade_no="CS-FLOW-1")
    assert before["trade_state"] == "NOTPAY"
    assert before["total_fee"] == "1234"
    assert "transaction_id" not in before

    page = requests.get(sandbox.url + "/sandbox/pay/h5/CS-FLOW-1", timeout=5)
    assert page.status_code == 200 and "12.34" in page.text
    paid = requests.post(
        sandbox.url + "/sandbox/pay/h5/CS-FLOW-1",
        data={"prepay_id": created["prepay_id"]},
        timeout=10,
    )
    assert paid.status_code == 200, paid.text

    [body] = sandbox.sink.wait_for(1)
    notify = client.parse_payment_result(body)  # checks the signature
    assert notify["out_trade_no"] == "CS-FLOW-1"
    assert notify["total_fee"] == 1234 and notify["cash_fee"] == 1234
    assert notify["openid"] == "o-test-buyer"
    assert notify["result_code"] == "SUCCESS" and notify["trade_type"] == "JSAPI"
    assert notify["transaction_id"].isdigit() and 28 <= len(notify["transaction_id"]) <= 32
    assert len(notify["time_end"]) == 14 and notify["time_end"].isdigit()

    after = client.order.query(out_trade_no="CS-FLOW-1")
    assert client.check_signature(dict(after))
    assert after["trade_state"] == "SUCCESS"
    assert after["transaction_id"] == notify["transaction_id"]
    assert after["total_fee"] == "1234" and after["openid"] == "o-test-buyer"
    assert after["time_end"] == notify["time_end"]
    by_txn = client.order.query(transaction_id=notify["transaction_id"])
    assert by_txn["out_trade_no"] == "CS-FLOW-1"

    [logged] = sandbox.in_app(lambda: notify_log(out_trade_no="CS-FLOW-1"))
    assert logged["acknowledged"] and logged["kind"] == "pay"


def test_resent_notify_carries_the_same_transaction(sandbox: Sandbox) -> None:
    sandbox.create_order("CS-RESEND")
    first = sandbox.in_app(lambda: pay_order("CS-RESEND"))
    assert first.notify.acknowledged
    resent = requests.post(sandbox.url + "/sandbox/pay/orders/CS-RESEND/notify", timeout=10)
    assert resent.status_code == 200  # after the 303 back to the index
    bodies = sandbox.sink.wait_for(2)
    parsed = [sandbox.client().parse_payment_result(b) for b in bodies]
    assert {p["transaction_id"] for p in parsed} == {first.order.transaction_id}
    assert parsed[0]["nonce_str"] != parsed[1]["nonce_str"]


def test_unified_order_is_idempotent_for_identical_parameters(sandbox: Sandbox) -> None:
    first = sandbox.create_order("CS-IDEM", total_fee=500)
    again = sandbox.create_order("CS-IDEM", total_fee=500)  # new nonce and time_start
    assert again["prepay_id"] == first["prepay_id"]


def test_unified_order_refuses_a_changed_amount(sandbox: Sandbox) -> None:
    sandbox.create_order("CS-AMOUNT", total_fee=500)
    with pytest.raises(WeChatPayException) as caught:
        sandbox.create_order("CS-AMOUNT", total_fee=501)
    assert caught.value.errcode == "OUT_TRADE_NO_USED"


def test_unified_order_after_payment_says_orderpaid(sandbox: Sandbox) -> None:
    sandbox.create_order("CS-PAID-AGAIN")
    sandbox.in_app(lambda: pay_order("CS-PAID-AGAIN"))
    with pytest.raises(WeChatPayException) as caught:
        sandbox.create_order("CS-PAID-AGAIN")
    assert caught.value.errcode == "ORDERPAID"


def test_hmac_sha256_requests_get_hmac_signed_answers(sandbox: Sandbox) -> None:
    answer = sandbox.create_order("CS-HMAC", sign_type="HMAC-SHA256")
    key = sandbox.app.config["WECHAT_PAY_API_KEY"]
    assert answer["sign"] == signing.sign_hmac_sha256(dict(answer), key)
    assert not sandbox.client().check_signature(dict(answer))  # it is not MD5


def test_bad_signature_is_refused(sandbox: Sandbox) -> None:
    with pytest.raises(WeChatPayException) as caught:
        sandbox.client(api_key="0" * 32).order.query(out_trade_no="CS-ANY")
    assert caught.value.return_code == "FAIL"
    assert caught.value.errcode == "SIGNERROR"

    body = _signed_body(sandbox, out_trade_no="CS-ANY").replace(b"CS-ANY", b"CS-ANZ")
    answer = signing.parse_xml(_post_raw(sandbox, "/sandbox/pay/pay/orderquery", body).content)
    assert answer["return_code"] == "FAIL" and answer["err_code"] == "SIGNERROR"


def test_foreign_merchant_is_refused(sandbox: Sandbox) -> None:
    with pytest.raises(WeChatPayException) as caught:
        sandbox.client(mch_id="1234567890").order.query(out_trade_no="CS-ANY")
    assert caught.value.return_code == "FAIL"


def test_missing_required_field_is_refused(sandbox: Sandbox) -> None:
    body = _signed_body(
        sandbox, out_trade_no="CS-MISSING", total_fee="100", spbill_create_ip="127.0.0.1",
        notify_url=sandbox.notify_url, trade_type="NATIVE", product_id="p1",
    )  # no body
    answer = signing.parse_xml(_post_raw(sandbox, ORDER_PATH, body).content)
    assert answer["return_code"] == "FAIL" and answer["err_code"] == "PARAM_ERROR"


@pytest.mark.parametrize(
    "extra",
    [
        {"total_fee": 0},
        {"total_fee": "12.5"},
        {"fee_type": "USD"},
        {"trade_type": "JSAPI", "user_id": None},
        {"out_trade_no": "has space"},
        {"notify_url": "ftp://example.com/notify"},
        {"notify_url": "http://example.com/notify?order=1"},
        {"body": "茶" * 43},  # 129 UTF-8 bytes
    ],
)
def test_invalid_order_parameters_get_param_error(sandbox: Sandbox, extra: dict) -> None:
    params = {"out_trade_no": "CS-BAD-PARAM", **extra}
    with pytest.raises(WeChatPayException) as caught:
        sandbox.create_order(**params)
    assert caught.value.errcode == "PARAM_ERROR"


@pytest.mark.parametrize(
    "body",
    [
        b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]><xml><body>&lol3;</body></xml>""",
        b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<xml><body>&e;</body></xml>""",
        b"<xml><body>",
        b"\xff\xfe\x00garbage",
        b"",
    ],
)
def test_malformed_or_hostile_xml_gets_a_fail_answer(sandbox: Sandbox, body: bytes) -> None:
    for path in (ORDER_PATH, "/sandbox/pay/secapi/pay/refund", "/sandbox/pay/pay/orderquery"):
        response = _post_raw(sandbox, path, body)
        assert response.status_code == 200
        answer = signing.parse_xml(response.content)
        assert answer["return_code"] == "FAIL"
        assert "root:" not in response.text


def test_oversized_body_gets_a_fail_answer(sandbox: Sandbox) -> None:
    body = b"<xml><body>" + b"x" * (2 * 1024 * 1024) + b"</body></xml>"
    response = _post_raw(sandbox, ORDER_PATH, body)
    assert response.status_code == 200
    assert signing.parse_xml(response.content)["return_code"] == "FAIL"


def test_get_is_refused_like_wechat(sandbox: Sandbox) -> None:
    answer = signing.parse_xml(requests.get(sandbox.url + ORDER_PATH, timeout=5).content)
    assert answer["return_code"] == "FAIL" and answer["err_code"] == "REQUIRE_POST_METHOD"


def test_unknown_order_query(sandbox: Sandbox) -> None:
    with pytest.raises(WeChatPayException) as caught:
        sandbox.client().order.query(out_trade_no="CS-NOPE")
    assert caught.value.errcode == "ORDERNOTEXIST"


def test_expired_order_cannot_be_paid(sandbox: Sandbox) -> None:
    expire = datetime.now(BEIJING) + timedelta(minutes=5)
    created = sandbox.create_order("CS-EXPIRE", time_expire=expire)
    sandbox.in_app(lambda: travel(600))

    with pytest.raises(PaymentRefused) as caught:
        sandbox.in_app(lambda: pay_order("CS-EXPIRE"))
    assert caught.value.code == "ORDEREXPIRED"
    page = requests.post(
        sandbox.url + "/sandbox/pay/h5/CS-EXPIRE", data={"prepay_id": created["prepay_id"]},
        timeout=5,
    )
    assert page.status_code == 409
    assert sandbox.sink.bodies == []
    assert sandbox.client().order.query(out_trade_no="CS-EXPIRE")["trade_state"] == "NOTPAY"
    with pytest.raises(WeChatPayException) as again:
        sandbox.create_order("CS-EXPIRE", time_expire=expire + timedelta(hours=1))
    assert again.value.errcode == "ORDERCLOSED"


def test_time_expire_in_the_past_is_refused(sandbox: Sandbox) -> None:
    with pytest.raises(WeChatPayException) as caught:
        sandbox.create_order(
            "CS-PAST", time_expire=datetime.now(BEIJING) - timedelta(minutes=1)
        )
    assert caught.value.errcode == "PARAM_ERROR"


def test_close_order(sandbox: Sandbox) -> None:
    client = sandbox.client()
    sandbox.create_order("CS-CLOSE")
    assert client.order.close("CS-CLOSE")["result_code"] == "SUCCESS"
    assert client.order.query(out_trade_no="CS-CLOSE")["trade_state"] == "CLOSED"
    with pytest.raises(WeChatPayException) as closed_again:
        client.order.close("CS-CLOSE")
    assert closed_again.value.errcode == "ORDERCLOSED"
    with pytest.raises(PaymentRefused):
        sandbox.in_app(lambda: pay_order("CS-CLOSE"))

    sandbox.create_order("CS-CLOSE-PAID")
    sandbox.in_app(lambda: pay_order("CS-CLOSE-PAID"))
    with pytest.raises(WeChatPayException) as paid:
        client.order.close("CS-CLOSE-PAID")
    assert paid.value.errcode == "ORDERPAID"
    with pytest.raises(WeChatPayException) as missing:
        client.order.close("CS-CLOSE-NONE")
    assert missing.value.errcode == "ORDERNOTEXIST"


def test_paying_twice_at_once_pays_once(sandbox: Sandbox) -> None:
    sandbox.create_order("CS-RACE")
    outcomes: list[str] = []
    lock = threading.Lock()

    def buyer() -> None:
        try:
            sandbox.in_app(lambda: pay_order("CS-RACE"))
            result = "paid"
        except PaymentRefused as exc:
            result = exc.code
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=buyer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["ORDERPAID"] * 7 + ["paid"]
    assert len(sandbox.sink.wait_for(1)) == 1
