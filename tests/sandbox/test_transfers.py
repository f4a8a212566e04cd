"""The Pay sandbox's enterprise payment to change, driven by the real wechatpy client."""
from __future__ import annotations

import threading

import pytest
import requests
from wechatpy.exceptions import WeChatPayException

from sandbox import signing
from sandbox.pay import sandbox_transfers, script_transfers
from tests.support.sandbox import Sandbox

OPENID = "o-test-distributor"


def _transfer(sandbox: Sandbox, number: str, amount: int = 1000, **extra):
    params = {"user_id": OPENID, "amount": amount, "desc": "佣金提现", "client_ip": "127.0.0.1",
              "check_name": "NO_CHECK", "out_trade_no": number, **extra}
    return sandbox.client().transfer.transfer(**params)


def _refused(call) -> str:
    with pytest.raises(WeChatPayException) as caught:
        call()
    return str(caught.value.errcode or caught.value.return_code)


def test_a_transfer_is_paid_once_per_number(sandbox: Sandbox) -> None:
    first = _transfer(sandbox, "WD20261127A1")
    assert first["result_code"] == "SUCCESS" and "sign" not in first  # WeChat does not sign
    assert first["mch_appid"] == sandbox.app.config["WECHAT_APP_ID"]
    assert first["mchid"] == sandbox.app.config["WECHAT_MCH_ID"]
    again = _transfer(sandbox, "WD20261127A1")
    assert again["payment_no"] == first["payment_no"]
    assert _refused(lambda: _transfer(sandbox, "WD20261127A1", amount=2000)) == "PARAM_ERROR"
    found = sandbox.client().transfer.query("WD20261127A1")
    assert (found["status"], found["payment_amount"], found["detail_id"]) == (
        "SUCCESS", "1000", first["payment_no"])
    assert sandbox.in_app(lambda: [t.amount for t in sandbox_transfers()]) == [1000]


def test_transfer_refusals(sandbox: Sandbox) -> None:
    # wechatpy's default check_name, OPTION_CHECK, is retired at WeChat.
    assert _refused(lambda: _transfer(sandbox, "WD1", check_name="OPTION_CHECK")) == "PARAM_ERROR"
    assert _refused(lambda: _transfer(sandbox, "WD-1")) == "PARAM_ERROR"
    assert _refused(lambda: _transfer(sandbox, "W" * 33)) == "PARAM_ERROR"
    assert _refused(lambda: _transfer(sandbox, "WD2", amount=29)) == "AMOUNT_LIMIT"
    assert _refused(lambda: _transfer(sandbox, "WD3", check_name="FORCE_CHECK")) == "PARAM_ERROR"
    wrong_key = sandbox.client(api_key="x" * 32).transfer
    assert _refused(lambda: wrong_key.transfer(OPENID, 1000, "d", client_ip="127.0.0.1",
                                               check_name="NO_CHECK",
                                               out_trade_no="WD4")) == "SIGNERROR"
    assert _refused(lambda: sandbox.client().transfer.query("WD404")) == "NOT_FOUND"
    assert sandbox.in_app(sandbox_transfers) == []
    answer = requests.post(sandbox.url + "/sandbox/pay/mmpaymkttransfers/promotion/transfers",
                           data=b"<xml><a>", timeout=5)
    assert "XML_FORMAT_ERROR" in answer.text
    unsigned = signing.to_xml({"mch_appid": sandbox.app.config["WECHAT_APP_ID"],
                               "mchid": sandbox.app.config["WECHAT_MCH_ID"],
                               "nonce_str": "n", "sign": "BAD"})
    answer = requests.post(sandbox.url + "/sandbox/pay/mmpaymkttransfers/promotion/transfers",
                           data=unsigned.encode(), timeout=5)
    assert "SIGNERROR" in answer.text


def test_scripted_failure_pays_nothing_and_the_number_can_be_retried(sandbox: Sandbox) -> None:
    sandbox.in_app(lambda: script_transfers("fail", err_code="NOTENOUGH"))
    assert _refused(lambda: _transfer(sandbox, "WDRETRY1")) == "NOTENOUGH"
    assert _refused(lambda: sandbox.client().transfer.query("WDRETRY1")) == "NOT_FOUND"
    assert _transfer(sandbox, "WDRETRY1")["result_code"] == "SUCCESS"


def test_systemerror_pays_but_does_not_say_so(sandbox: Sandbox) -> None:
    sandbox.in_app(lambda: script_transfers("systemerror"))
    assert _refused(lambda: _transfer(sandbox, "WDSYS1")) == "SYSTEMERROR"
    assert sandbox.client().transfer.query("WDSYS1")["status"] == "SUCCESS"


def test_concurrent_calls_with_one_number_pay_once(sandbox: Sandbox) -> None:
    answers: list[str] = []
    lock = threading.Lock()

    def call() -> None:
        result = _transfer(sandbox, "WDRACE1")
        with lock:
            answers.append(result["payment_no"])

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(answers)) == 1 and len(answers) == 6
    assert len(sandbox.in_app(sandbox_transfers)) == 1
