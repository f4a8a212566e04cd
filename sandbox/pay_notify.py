"""Notifies the sandbox sends to the merchant: payment results and (encrypted) refund results.

Every delivery attempt is POSTed with a timeout and written to the notify log,
acknowledged or not; WeChat delivers many times, so resending is just calling
the sender again.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import requests

from sandbox import signing
from sandbox.pay_api import BANK_TYPE, Merchant
from sandbox.pay_store import PayStore, SandboxOrder, SandboxRefund

RESPONSE_EXCERPT_CHARS = 500


@dataclass
class NotifyDelivery:
    """One delivery attempt of a notify and how the merchant answered."""

    kind: str  # "pay" or "refund"
    out_trade_no: str
    out_refund_no: str
    url: str
    body: str
    acknowledged: bool
    status_code: int | None
    response: str
    error: str
    at: float


def pay_notify_fields(order: SandboxOrder, merchant: Merchant) -> dict[str, str]:
    """The signed fields of WeChat's payment-success notify for a paid order."""
    fields = {
        "appid": order.appid,
        "mch_id": order.mch_id,
        "nonce_str": signing.nonce_str(),
        "result_code": "SUCCESS",
        "return_code": "SUCCESS",
        "openid": order.openid,
        "is_subscribe": "Y",
        "trade_type": order.trade_type,
        "bank_type": BANK_TYPE,
        "total_fee": str(order.total_fee),
        "cash_fee": str(order.total_fee),
        "fee_type": order.fee_type,
        "transaction_id": order.transaction_id,
        "out_trade_no": order.out_trade_no,
        "attach": order.attach,
        "time_end": order.time_end,
    }
    if order.sign_type != signing.SIGN_TYPE_MD5:
        fields["sign_type"] = order.sign_type
    return signing.signed(fields, merchant.api_key, order.sign_type)


def refund_notify_xml(order: SandboxOrder, refund: SandboxRefund, merchant: Merchant) -> str:
    """WeChat's refund-result notify: plain envelope, details encrypted in req_info."""
    details = {
        "transaction_id": order.transaction_id,
        "out_trade_no": order.out_trade_no,
        "refund_id": refund.refund_id,
        "out_refund_no": refund.out_refund_no,
        "total_fee": str(order.total_fee),
        "settlement_total_fee": str(order.total_fee),
        "refund_fee": str(refund.refund_fee),
        "settlement_refund_fee": str(refund.refund_fee),
        "refund_status": refund.status,
        "success_time": refund.success_time,
        "refund_recv_accout": "支付用户的零钱",
        "refund_account": "REFUND_SOURCE_UNSETTLED_FUNDS",
        "refund_request_source": "API",
    }
    req_info = signing.encrypt_refund_info(signing.to_xml(details, root="root"), merchant.api_key)
    return signing.to_xml({
        "return_code": "SUCCESS",
        "appid": order.appid,
        "mch_id": order.mch_id,
        "nonce_str": signing.nonce_str(),
        "req_info": req_info,
    })


def _acknowledged(status_code: int, text: str) -> bool:
    if status_code != 200:
        return False
    try:
        return signing.parse_xml(text).get("return_code") == "SUCCESS"
    except signing.MalformedXml:
        return False


def deliver(
    store: PayStore,
    *,
    kind: str,
    url: str,
    body: str,
    out_trade_no: str,
    out_refund_no: str = "",
    timeout: float = 5.0,
) -> NotifyDelivery:
    """POST one notify, record the attempt in the log and return it; never raises on I/O."""
    status_code: int | None = None
    text = ""
    error = ""
    try:
        response = requests.post(
            url,
            data=body.encode("utf-8"),
            headers={"Content-Type": "text/xml; charset=utf-8"},
            timeout=timeout,
            allow_redirects=False,
        )
        status_code = response.status_code
        response.encoding = response.encoding or "utf-8"
        text = response.text
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"
    delivery = NotifyDelivery(
        kind=kind,
        out_trade_no=out_trade_no,
        out_refund_no=out_refund_no,
        url=url,
        body=body,
        acknowledged=status_code is not None and _acknowledged(status_code, text),
        status_code=status_code,
        response=text[:RESPONSE_EXCERPT_CHARS],
        error=error,
        at=time.time(),
    )
    store.record_notify(asdict(delivery))
    return delivery
