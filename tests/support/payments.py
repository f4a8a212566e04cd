"""Paying and refunding in tests the way WeChat Pay does it: signed notifies.

``paid_order`` / ``pay_order`` are the one way a test gets a paid order: a
signed notify through ``payments.apply_pay_notify``, so the payment row, the
ledger entries and the attribution snapshot are made as in production.
Notifies are built here exactly as WeChat Pay v2 sends them: signed with the
merchant key (MD5 or HMAC-SHA256), refund details AES-encrypted in req_info.
``FakeGateway`` stands in for WeChat's outgoing API where a test needs a
particular answer (refusal, timeout); the live sandbox tests use the real one.
"""
from __future__ import annotations

import itertools
import threading
from typing import Any

from flask import Flask
from sqlalchemy import select
from wechatpy.pay.utils import calculate_signature, calculate_signature_hmac

from adapters.wechat.pay_v2 import EXTENSION_KEY, GatewayError, PayGateway
from core.models import Order, Supplier, User
from shop import payments
from tests.support.factories import ADDRESS, place_order
from tests.support.settings import gateway_of
from webapp.extensions import db

__all__ = ["ADDRESS"]  # re-exported: the address every placed order ships to
_tx = itertools.count(1)


def new_transaction_id() -> str:
    """A WeChat-like transaction id, unique in the test session."""
    return f"42000{next(_tx):023d}"


def cdata_xml(fields: dict[str, Any], root: str = "xml") -> str:
    """Flat WeChat XML with every value in CDATA."""
    body = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items())
    return f"<{root}>{body}</{root}>"


def pay_notify_fields(
    app: Flask,
    number: str,
    total_fen: int,
    transaction_id: str | None = None,
    **overrides: Any,
) -> dict[str, str]:
    """The fields of a successful payment notify, before signing."""
    cfg = app.config
    fields = {
        "appid": cfg["WECHAT_APP_ID"],
        "bank_type": "OTHERS",
        "cash_fee": str(total_fen),
        "fee_type": "CNY",
        "is_subscribe": "Y",
        "mch_id": cfg["WECHAT_MCH_ID"],
        "nonce_str": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        "openid": "o-test-payer",
        "out_trade_no": number,
        "result_code": "SUCCESS",
        "return_code": "SUCCESS",
        "time_end": "20240101120000",
        "total_fee": str(total_fen),
        "trade_type": "JSAPI",
        "transaction_id": transaction_id or new_transaction_id(),
    }
    fields.update({k: str(v) for k, v in overrides.items()})
    return fields


def sign(fields: dict[str, str], key: str, sign_type: str = "MD5") -> dict[str, str]:
    """``fields`` plus their signature (wechatpy's own implementation)."""
    unsigned = {k: v for k, v in fields.items() if k != "sign"}
    if sign_type == "HMAC-SHA256":
        unsigned["sign_type"] = sign_type
        return {**unsigned, "sign": calculate_signature_hmac(unsigned, key)}
    return {**unsigned, "sign": calculate_signature(unsigned, key)}


def signed_pay_notify(
    app: Flask,
    number: str,
    total_fen: int,
    transaction_id: str | None = None,
    *,
    key: str | None = None,
    sign_type: str = "MD5",
    **overrides: Any,
) -> bytes:
    """A payment notify signed like WeChat's (with another key if given)."""
    fields = pay_notify_fields(app, number, total_fen, transaction_id, **overrides)
    signed = sign(fields, key or app.config["WECHAT_PAY_API_KEY"], sign_type)
    return cdata_xml(signed).encode("utf-8")


def refund_notify(
    app: Flask,
    out_refund_no: str,
    number: str,
    refund_fen: int,
    total_fen: int,
    *,
    status: str = "SUCCESS",
    key: str | None = None,
    appid: str | None = None,
    refund_id: str = "50300000000000000000000001",
) -> bytes:
    """A refund notify with req_info encrypted as WeChat does (AES-256-ECB, MD5 of the key)."""
    cfg = app.config
    details = {
        "transaction_id": "4200000000000000000000001",
        "out_trade_no": number,
        "refund_id": refund_id,
        "out_refund_no": out_refund_no,
        "total_fee": str(total_fen),
        "refund_fee": str(refund_fen),
        "settlement_refund_fee": str(refund_fen),
        "refund_status": status,
        "success_time": "2024-01-01 12:00:00",
        "refund_recv_accout": "支付用户的零钱",
        "refund_account": "REFUND_SOURCE_UNSETTLED_FUNDS",
        "refund_request_source": "API",
    }
    encrypter = PayGateway.from_config({**cfg, "WECHAT_PAY_API_KEY": key or
                                        cfg["WECHAT_PAY_API_KEY"]})
    req_info = encrypter.encrypt_refund_info(cdata_xml(details, root="root"))
    envelope = {
        "return_code": "SUCCESS",
        "appid": appid or cfg["WECHAT_APP_ID"],
        "mch_id": cfg["WECHAT_MCH_ID"],
        "nonce_str": "TeqClE3i0mvn3DrK",
        "req_info": req_info,
    }
    return cdata_xml(envelope).encode("utf-8")


class FakeGateway(PayGateway):
    """The real gateway (parsing, signatures) with WeChat's outgoing API answered locally.

    ``refund_mode``: "accept" (WeChat takes the refund), "refuse" (a definite
    refusal) or "timeout" (outcome unknown). Calls are recorded in ``calls``.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.refund_mode = "accept"
        self.refund_query_answer: dict[str, str] | None = None
        self.order_query_answer: dict[str, str] | None = None
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def _record(self, name: str, **kwargs: Any) -> None:
        with self._lock:
            self.calls.append((name, kwargs))

    def calls_of(self, name: str) -> list[dict[str, Any]]:
        """Arguments of every call of ``name``."""
        return [kw for n, kw in self.calls if n == name]

    def unified_order(self, **kwargs: Any) -> str:  # type: ignore[override]
        """A prepay id made from the trade number."""
        self._record("unified_order", **kwargs)
        return "wx-prepay-" + kwargs["out_trade_no"]

    def refund(self, **kwargs: Any) -> dict[str, str]:  # type: ignore[override]
        """Accept, refuse or time out, as configured."""
        self._record("refund", **kwargs)
        if self.refund_mode == "refuse":
            raise GatewayError("refund: NOTENOUGH", definite=True, code="NOTENOUGH")
        if self.refund_mode == "timeout":
            raise GatewayError("refund: ReadTimeout", definite=False)
        return {
            "out_refund_no": kwargs["out_refund_no"],
            "refund_id": "5030" + kwargs["out_refund_no"][-12:],
            "refund_fee": str(kwargs["refund_fen"]),
        }

    def query_refund(self, out_refund_no: str) -> dict[str, str]:
        """The configured answer, or WeChat's "no such refund"."""
        self._record("query_refund", out_refund_no=out_refund_no)
        if self.refund_query_answer is None:
            raise GatewayError("refundquery: REFUNDNOTEXIST", definite=True,
                               code="REFUNDNOTEXIST")
        return self.refund_query_answer

    def query_order(self, out_trade_no: str) -> dict[str, str]:
        """The configured answer, or WeChat's "no such order"."""
        self._record("query_order", out_trade_no=out_trade_no)
        if self.order_query_answer is None:
            raise GatewayError("orderquery: ORDERNOTEXIST", definite=True, code="ORDERNOTEXIST")
        return self.order_query_answer

    def close_order(self, out_trade_no: str) -> None:
        """Always closes."""
        self._record("close_order", out_trade_no=out_trade_no)


def install_fake_gateway(app: Flask) -> FakeGateway:
    """Make the app's services use a FakeGateway; nothing can reach the real WeChat."""
    app.config["WECHAT_PAY_API_BASE_URL"] = "http://127.0.0.1:9/"
    fake = FakeGateway.from_config(app.config)
    app.extensions[EXTENSION_KEY] = fake
    return fake  # type: ignore[return-value]


def pay_order(app: Flask, order: Order | int | str, *, transaction_id: str | None = None) -> Order:
    """Pay an unpaid order (the row, its id or its number) through a signed pay notify.

    The notify goes through ``payments.apply_pay_notify`` as WeChat's would, so the
    payment, its ledger entries and the attribution snapshot are all recorded.
    ``transaction_id`` is WeChat's number of the payment (a fresh one by default).
    Returns the order read afresh.
    """
    if isinstance(order, Order):
        query = select(Order.id, Order.number, Order.total_fen).where(Order.id == order.id)
    elif isinstance(order, int):
        query = select(Order.id, Order.number, Order.total_fen).where(Order.id == order)
    else:
        query = select(Order.id, Order.number, Order.total_fen).where(Order.number == order)
    db.session.expire_all()
    order_id, number, total_fen = db.session.execute(query).one()
    db.session.commit()
    body = signed_pay_notify(app, number, total_fen, transaction_id)
    outcome = payments.apply_pay_notify(db.session, gateway_of(), body)
    assert outcome.applied, outcome
    db.session.expire_all()
    paid = db.session.get(Order, order_id)
    assert paid is not None
    return paid


def paid_order(
    app: Flask,
    buyer: User | None,
    *lines: tuple[int, int],
    suppliers: list[Supplier] | None = None,
    shipping_fen: int = 0,
) -> Order:
    """A new order of (price_fen, quantity) lines (supply cost half the price), paid.

    ``buyer`` None makes a new consumer; ``shipping_fen`` is charged on top.
    """
    order = place_order(*lines, suppliers=suppliers, buyer=buyer)
    if shipping_fen:
        row = db.session.get(Order, order.id)
        assert row is not None
        row.shipping_fen = shipping_fen
        row.total_fen += shipping_fen
        db.session.commit()
    return pay_order(app, order.id)
