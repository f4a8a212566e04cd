"""Hostile cases for WeChat Pay v2's callbacks: /wechat/pay/notify and /wechat/pay/refund-notify.

The protocol's refusal is the XML ack ``return_code`` FAIL (status 200, or 4xx
for an unreadable or oversized body), and nothing may change. A genuine retry
of a notify already applied is acknowledged SUCCESS and changes nothing either.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app

from adapters.wechat.pay_v2 import PayGateway
from tests.support.hostile.support import (
    FAIL_ACK,
    HUGE_NUMBERS,
    INJECTIONS,
    LONE_SURROGATE,
    REPLAY_OK,
    Case,
    Req,
    World,
)
from tests.support.payments import (
    cdata_xml,
    new_transaction_id,
    pay_notify_fields,
    refund_notify,
    sign,
)
from tests.support.wechat_messages import BILLION_LAUGHS, XXE

PAY = "pay-notify"
REFUND = "refund-notify"
PAY_PATH = "/wechat/pay/notify"
REFUND_PATH = "/wechat/pay/refund-notify"
MIB = 1024 * 1024
OTHER_KEY = "another-merchant-key-000000000000"


def _raw(path: str, body: bytes | Callable[[World], bytes]) -> Callable[[World], Req]:
    def build(world: World) -> Req:
        data = body(world) if callable(body) else body
        return Req("POST", path, data=data, content_type="text/xml")
    return build


def _notify(order: str = "pending", *, key: str | None = None, algo: str = "MD5",
            resign: bool = True, unsigned: bool = False,
            **overrides: Any) -> Callable[[World], bytes]:
    """A pay notify for one of the world's orders, with fields overridden (None: dropped)."""
    def body(world: World) -> bytes:
        app = current_app
        fields = pay_notify_fields(app, world.numbers[order],
                                   int(world.numbers[f"{order}_total"]), new_transaction_id())
        for name, value in overrides.items():
            if value is None:
                fields.pop(name, None)
            else:
                fields[name] = value
        if unsigned:
            signed = fields
        elif not resign:
            signed = {**fields, "sign": "0" * 32}
        else:
            signed = sign(fields, key or app.config["WECHAT_PAY_API_KEY"], algo)
        return cdata_xml(signed).encode("utf-8", "surrogatepass")
    return body


def _replay_for_other_order(world: World) -> bytes:
    """The paid order's transaction id presented again for the pending order."""
    from adapters.wechat.pay_notify import parse_flat_xml

    paid = parse_flat_xml(world.replay_notify)
    return _notify("pending", transaction_id=paid["transaction_id"])(world)


def pay_cases() -> list[Case]:
    """Pay notifies: XML attacks, signatures, merchants, amounts and identifiers."""
    bodies: dict[str, bytes | Callable[[World], bytes]] = {
        "xxe": XXE.encode(),
        "billion-laughs": BILLION_LAUGHS.encode(),
        "external-dtd": b"<!DOCTYPE xml SYSTEM 'http://evil.test/x.dtd'><xml/>",
        "doctype-lowercase": b"<!doctype xml [<!entity e 'x'>]><xml><a>&e;</a></xml>",
        "undeclared-entity": b"<xml><return_code>&e;</return_code></xml>",
        "invalid-utf8": b"<xml><return_code>\xff\xfe</return_code></xml>",
        "utf16": "<xml><return_code>SUCCESS</return_code></xml>".encode("utf-16"),
        "empty": b"",
        "json": b'{"return_code": "SUCCESS"}',
        "wrong-root": b"<root><return_code>SUCCESS</return_code></root>",
        "unclosed": b"<xml><return_code>SUCCESS",
        "deep-xml": b"<xml>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</xml>",
        "oversized": b"<xml><a>" + b"x" * (MIB + 1) + b"</a></xml>",
        "return-fail": cdata_xml({"return_code": "FAIL", "return_msg": "x"}).encode(),
        "unsigned": _notify(unsigned=True),
        "bad-signature": _notify(resign=False),
        "signed-with-other-key": _notify(key=OTHER_KEY),
        "hmac-signed-with-other-key": _notify(key=OTHER_KEY, algo="HMAC-SHA256"),
        "unknown-sign-type": _notify(sign_type="SHA1"),
        "foreign-appid": _notify(appid="wxforeignapp0001"),
        "foreign-mch-id": _notify(mch_id="1900000999"),
        "missing-appid": _notify(appid=None),
        "result-fail": _notify(result_code="FAIL", err_code="SYSTEMERROR"),
        "unknown-order": _notify(out_trade_no="CS" + "9" * 20),
        "order-number-too-long": _notify(out_trade_no="CS" + "9" * 40),
        "missing-transaction-id": _notify(transaction_id=None),
        "transaction-id-too-long": _notify(transaction_id="4" * 40),
        "amount-short-by-one": lambda w: _notify(
            total_fee=str(int(w.numbers["pending_total"]) - 1))(w),
        "amount-plus-one": lambda w: _notify(
            total_fee=str(int(w.numbers["pending_total"]) + 1))(w),
        "amount-float": lambda w: _notify(total_fee=w.numbers["pending_total"] + ".0")(w),
        "amount-yuan-decimal": _notify(total_fee="0.01"),
        "amount-negative": _notify(total_fee="-1"),
        "amount-zero": _notify(total_fee="0"),
        "amount-exponent": _notify(total_fee="1e3"),
        "amount-missing": _notify(total_fee=None),
        "amount-fullwidth": _notify(total_fee="１０"),
        "fee-type-usd": _notify(fee_type="USD"),
        "transaction-reused-on-other-order": _replay_for_other_order,
        "lone-surrogate-openid": lambda w: _notify(openid="SURROGATE")(w).replace(
            b"SURROGATE", LONE_SURROGATE.encode("utf-8", "surrogatepass")),
        "paid-order-new-transaction": _notify("paid"),
    }
    for name, number in HUGE_NUMBERS.items():
        bodies[f"amount-{name}"] = _notify(total_fee=str(number))
    for name, value in INJECTIONS.items():
        bodies[f"order-number-{name}"] = _notify(out_trade_no=value[:32])
        bodies[f"amount-{name}"] = _notify(total_fee=value)
    cases = [Case(PAY, name, _raw(PAY_PATH, body), FAIL_ACK) for name, body in bodies.items()]
    cases.append(Case(PAY, "replayed-applied-notify",
                      _raw(PAY_PATH, lambda w: w.replay_notify), REPLAY_OK))
    return cases


def _refund(*, out_refund_no: str | None = None, number: str | None = None,
            refund_fen: str | None = None, total_fen: str | None = None,
            **kw: Any) -> Callable[[World], bytes]:
    def body(world: World) -> bytes:
        return refund_notify(
            current_app, out_refund_no if out_refund_no is not None else world.refund_no,
            number if number is not None else world.numbers["refunding"],
            refund_fen if refund_fen is not None else int(world.numbers["refund_amount"]),
            total_fen if total_fen is not None else int(world.numbers["refunding_total"]),
            **kw)
    return body


def _envelope(**fields: str) -> Callable[[World], bytes]:
    def body(world: World) -> bytes:
        cfg = current_app.config
        base = {"return_code": "SUCCESS", "appid": cfg["WECHAT_APP_ID"],
                "mch_id": cfg["WECHAT_MCH_ID"], "nonce_str": "x"}
        base.update(fields)
        return cdata_xml(base).encode()
    return body


def _encrypted_inner(inner: str) -> Callable[[World], bytes]:
    def body(world: World) -> bytes:
        req_info = PayGateway.from_config(current_app.config).encrypt_refund_info(inner)
        return _envelope(req_info=req_info)(world)
    return body


def refund_cases() -> list[Case]:
    """Refund notifies: envelope and encrypted details, each hostile in turn."""
    bodies: dict[str, bytes | Callable[[World], bytes]] = {
        "xxe": XXE.encode(),
        "billion-laughs": BILLION_LAUGHS.encode(),
        "invalid-utf8": b"<xml><req_info>\xff</req_info></xml>",
        "empty": b"",
        "oversized": b"<xml><req_info>" + b"A" * (MIB + 1) + b"</req_info></xml>",
        "return-fail": cdata_xml({"return_code": "FAIL"}).encode(),
        "no-req-info": _envelope(),
        "garbage-req-info": _envelope(req_info="bm90IGVuY3J5cHRlZA=="),
        "not-base64-req-info": _envelope(req_info="%%%"),
        "req-info-sql": _envelope(req_info=INJECTIONS["sql"]),
        "signed-with-other-key": _refund(key=OTHER_KEY),
        "foreign-appid": _refund(appid="wxforeignapp0001"),
        "foreign-mch-id": lambda w: _refund()(w).replace(
            current_app.config["WECHAT_MCH_ID"].encode(), b"1900000999"),
        "amount-mismatch": lambda w: _refund(refund_fen=int(w.numbers["refund_amount"]) - 1)(w),
        "total-mismatch": lambda w: _refund(total_fen=int(w.numbers["refunding_total"]) + 1)(w),
        "unknown-refund": lambda w: _refund(out_refund_no=w.refund_no + "9")(w),
        "other-order": _refund(number="CS" + "0" * 20),
        "odd-status": _refund(status="MAYBE"),
        "inner-xxe": _encrypted_inner(XXE),
        "inner-billion-laughs": _encrypted_inner(BILLION_LAUGHS),
        "inner-not-xml": _encrypted_inner("not xml at all"),
        "inner-wrong-root": _encrypted_inner("<xml><refund_status>SUCCESS</refund_status></xml>"),
    }
    for name, number in HUGE_NUMBERS.items():
        bodies[f"amount-{name}"] = _refund(refund_fen=number)
    for name in ("sql", "template", "html"):
        bodies[f"status-{name}"] = _refund(status=INJECTIONS[name])
        bodies[f"refund-no-{name}"] = _refund(out_refund_no=INJECTIONS[name])
    return [Case(REFUND, name, _raw(REFUND_PATH, body), FAIL_ACK)
            for name, body in bodies.items()]


def cases() -> list[Case]:
    """Every pay and refund notify case."""
    return pay_cases() + refund_cases()
