"""WeChat Pay v2 merchant API, as the sandbox answers it (no Flask here).

Each endpoint takes the parsed request fields and returns the answer fields;
``handle_request`` wraps them with WeChat's envelope rules: parse, check appid,
mch_id and signature, then answer ``return_code=FAIL`` for transport-level
problems (unsigned, like WeChat) or ``result_code=FAIL`` + ``err_code`` for
business refusals (signed). Also here: what the buyer does (pay), which the H5
page and tests call.

Choices where WeChat's documentation is vague:
- a repeated unifiedorder is "the same" when IDENTITY_FIELDS match; nonce, sign,
  time_start/time_expire, client IP and notify_url may differ (the first ones win);
- an unpaid order past time_expire still queries as NOTPAY (WeChat only closes on
  closeorder) but cannot be paid, and re-ordering it answers ORDERCLOSED;
- refunds succeed at once (refund_status SUCCESS); the notify follows the answer;
- body is limited to 128 UTF-8 bytes, notify_url must be http(s) without a query.
"""
from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import redis

from sandbox import clock, signing
from sandbox.pay_store import PayStore, SandboxOrder, SandboxRefund

UNIFIED_ORDER = "pay/unifiedorder"
ORDER_QUERY = "pay/orderquery"
CLOSE_ORDER = "pay/closeorder"
REFUND = "secapi/pay/refund"
REFUND_QUERY = "pay/refundquery"

TRADE_STATE_DESC = {
    "NOTPAY": "订单未支付",
    "SUCCESS": "支付成功",
    "CLOSED": "已关闭",
    "REFUND": "转入退款",
}
TRADE_TYPES = ("JSAPI", "NATIVE", "APP", "MWEB")
DEFAULT_EXPIRY = timedelta(hours=2)  # WeChat's own default when time_expire is absent
BANK_TYPE = "OTHERS"

# Fields that define "the same order": a retry may change nonce, sign, times and IP.
IDENTITY_FIELDS = (
    "appid", "body", "detail", "attach", "total_fee", "fee_type", "trade_type",
    "openid", "product_id", "goods_tag", "limit_pay", "device_info",
)

_OUT_TRADE_NO = re.compile(r"^[A-Za-z0-9_\-|*@]{1,32}$")
_OUT_REFUND_NO = re.compile(r"^[A-Za-z0-9_\-|*@]{1,64}$")
_FEE = re.compile(r"^[1-9][0-9]{0,9}$")


@dataclass(frozen=True)
class Merchant:
    """The one merchant the sandbox knows: the app's own WeChat Pay credentials."""

    appid: str
    mch_id: str
    api_key: str
    name: str
    public_base_url: str

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Merchant:
        """Read the merchant from a Flask config."""
        return cls(
            appid=str(config["WECHAT_APP_ID"]),
            mch_id=str(config["WECHAT_MCH_ID"]),
            api_key=str(config["WECHAT_PAY_API_KEY"]),
            name=str(config.get("SANDBOX_MERCHANT_NAME") or "ChatShop"),
            public_base_url=str(config["PUBLIC_BASE_URL"]).rstrip("/"),
        )

    def pay_page_url(self, out_trade_no: str) -> str:
        """Where the buyer pays this order in the sandbox."""
        return f"{self.public_base_url}/sandbox/pay/h5/{quote(out_trade_no, safe='')}"

    def default_refund_notify_url(self) -> str:
        """Where refund notifies go when the refund request names none."""
        return f"{self.public_base_url}/wechat/pay/refund-notify"


class ProtocolFail(Exception):
    """The request is unusable: answered with return_code=FAIL, unsigned."""

    def __init__(self, return_msg: str, err_code: str) -> None:
        """Keep WeChat's message and a machine-readable code."""
        super().__init__(return_msg)
        self.return_msg = return_msg
        self.err_code = err_code


class BusinessFail(Exception):
    """A well-formed request that WeChat refuses: result_code=FAIL, signed."""

    def __init__(self, err_code: str, err_code_des: str) -> None:
        """Keep WeChat's error code and description."""
        super().__init__(f"{err_code}: {err_code_des}")
        self.err_code = err_code
        self.err_code_des = err_code_des


@dataclass
class Answer:
    """What an endpoint answers, plus work to do once the answer has been sent."""

    fields: dict[str, str]
    sign_type: str | None
    after_response: Callable[[], None] | None = None

    def to_xml(self, api_key: str) -> str:
        """The XML body, signed unless it is a return_code=FAIL answer."""
        if self.sign_type is None:
            return signing.to_xml(self.fields)
        return signing.to_xml(signing.signed(self.fields, api_key, self.sign_type))


@dataclass
class Context:
    """What an endpoint needs: the merchant, the store, the clock's Redis."""

    merchant: Merchant
    store: PayStore
    conn: redis.Redis
    on_refund: Callable[[str, str], None] | None = None  # (mch_id, out_refund_no)

    def now(self) -> datetime:
        """Sandbox time."""
        return clock.now(self.conn)


def _require(params: Mapping[str, str], *names: str) -> None:
    for name in names:
        if not params.get(name):
            raise ProtocolFail(f"缺少参数{name}", "PARAM_ERROR")


def _param_error(message: str) -> BusinessFail:
    return BusinessFail("PARAM_ERROR", message)


def _fee(params: Mapping[str, str], name: str) -> int:
    raw = params.get(name, "")
    if not _FEE.match(raw):
        raise _param_error(f"{name}必须是正整数（单位分）")
    return int(raw)


def _check_envelope(params: Mapping[str, str], merchant: Merchant) -> str:
    """Check appid, mch_id, nonce and signature; return the sign type used."""
    _require(params, "appid", "mch_id", "nonce_str", "sign")
    if params["mch_id"] != merchant.mch_id:
        raise ProtocolFail("商户号mch_id与appid不匹配", "APPID_MCHID_NOT_MATCH")
    if params["appid"] != merchant.appid:
        raise ProtocolFail("appid和mch_id不匹配", "APPID_MCHID_NOT_MATCH")
    if len(params["nonce_str"]) > 32:
        raise ProtocolFail("nonce_str长度不能超过32", "PARAM_ERROR")
    sign_type = params.get("sign_type") or signing.SIGN_TYPE_MD5
    if sign_type not in signing.SIGN_TYPES:
        raise ProtocolFail("sign_type参数错误", "PARAM_ERROR")
    if not signing.verify_sign(params, merchant.api_key):
        raise ProtocolFail("签名错误", "SIGNERROR")
    return sign_type


def _new_id(ctx: Context, prefix: str, random_digits: int) -> str:
    # The sequence makes ids unique in this Redis; the random tail keeps them unique
    # across a Redis flush while the app's database still remembers older ones.
    seq = ctx.store.next_sequence() % 10**10
    tail = "".join(secrets.choice("0123456789") for _ in range(random_digits))
    return f"{prefix}{ctx.now():%Y%m%d}{seq:010d}{tail}"


def _base_fields(merchant: Merchant) -> dict[str, str]:
    return {
        "return_code": "SUCCESS",
        "return_msg": "OK",
        "appid": merchant.appid,
        "mch_id": merchant.mch_id,
        "nonce_str": signing.nonce_str(),
        "result_code": "SUCCESS",
    }


def unified_order(params: Mapping[str, str], ctx: Context) -> dict[str, str]:
    """pay/unifiedorder: create (or idempotently repeat) an order and hand out a prepay_id."""
    _require(params, "body", "out_trade_no", "total_fee", "spbill_create_ip", "notify_url",
             "trade_type")
    out_trade_no = params["out_trade_no"]
    if not _OUT_TRADE_NO.match(out_trade_no):
        raise _param_error("out_trade_no格式错误：最多32位字母、数字或_-|*@")
    if len(params["body"].encode("utf-8")) > 128:
        # Counted in UTF-8 bytes, the strict reading of WeChat's String(128).
        raise _param_error("body长度不能超过128字节")
    total_fee = _fee(params, "total_fee")
    fee_type = params.get("fee_type") or "CNY"
    if fee_type != "CNY":
        raise _param_error("fee_type只支持CNY")
    trade_type = params["trade_type"]
    if trade_type not in TRADE_TYPES:
        raise _param_error("trade_type参数错误")
    if trade_type == "JSAPI" and not params.get("openid"):
        raise _param_error("JSAPI支付必须传openid")
    if trade_type == "NATIVE" and not params.get("product_id"):
        raise _param_error("NATIVE支付必须传product_id")
    notify_url = params["notify_url"]
    if not notify_url.startswith(("http://", "https://")) or "?" in notify_url:
        raise _param_error("notify_url必须是不带参数的http(s)地址")
    now = ctx.now()
    try:
        time_start = clock.parse_wechat_time(params["time_start"]) if params.get(
            "time_start") else now
        time_expire = clock.parse_wechat_time(params["time_expire"]) if params.get(
            "time_expire") else now + DEFAULT_EXPIRY
    except ValueError as exc:
        raise _param_error("time_start/time_expire格式必须是yyyyMMddHHmmss") from exc
    if time_expire <= now or time_expire <= time_start:
        raise _param_error("time_expire时间过短")

    fingerprint = {name: params.get(name, "") for name in IDENTITY_FIELDS}
    fingerprint["fee_type"] = fee_type
    candidate = SandboxOrder(
        mch_id=ctx.merchant.mch_id,
        appid=params["appid"],
        out_trade_no=out_trade_no,
        body=params["body"],
        total_fee=total_fee,
        fee_type=fee_type,
        trade_type=trade_type,
        notify_url=notify_url,
        openid=params.get("openid", ""),
        prepay_id=f"wx{clock.format_wechat_time(now)}{secrets.token_hex(10)}",
        time_start=clock.format_wechat_time(time_start),
        time_expire=clock.format_wechat_time(time_expire),
        sign_type=params.get("sign_type") or signing.SIGN_TYPE_MD5,
        fingerprint=fingerprint,
        attach=params.get("attach", ""),
        spbill_create_ip=params["spbill_create_ip"],
    )
    order, created = ctx.store.insert_order(candidate)
    if not created:
        if order.state in ("SUCCESS", "REFUND"):
            raise BusinessFail("ORDERPAID", "该订单已支付")
        if order.state == "CLOSED":
            raise BusinessFail("ORDERCLOSED", "该订单已关闭")
        if order.fingerprint != fingerprint:
            raise BusinessFail("OUT_TRADE_NO_USED", "商户订单号重复，且参数与原订单不一致")
        if is_expired(order, now):
            raise BusinessFail("ORDERCLOSED", "该订单已过支付截止时间，请使用新的商户订单号")
    answer = {"prepay_id": order.prepay_id, "trade_type": order.trade_type}
    if params.get("device_info"):
        answer["device_info"] = params["device_info"]
    if order.trade_type == "NATIVE":
        answer["code_url"] = f"weixin://wxpay/bizpayurl?pr={order.prepay_id[-10:]}"
    if order.trade_type == "MWEB":
        answer["mweb_url"] = ctx.merchant.pay_page_url(order.out_trade_no)
    return answer


def is_expired(order: SandboxOrder, now: datetime) -> bool:
    """True once the order's time_expire has passed."""
    return now >= clock.parse_wechat_time(order.time_expire)


def _find_order(params: Mapping[str, str], ctx: Context) -> SandboxOrder:
    if params.get("transaction_id"):
        order = ctx.store.order_by_transaction(params["transaction_id"])
    elif params.get("out_trade_no"):
        order = ctx.store.get_order(ctx.merchant.mch_id, params["out_trade_no"])
    else:
        raise ProtocolFail("缺少参数transaction_id或out_trade_no", "PARAM_ERROR")
    if order is None:
        raise BusinessFail("ORDERNOTEXIST", "此交易订单号不存在")
    return order


def order_query(params: Mapping[str, str], ctx: Context) -> dict[str, str]:
    """pay/orderquery: where the order stands."""
    order = _find_order(params, ctx)
    answer = {
        "out_trade_no": order.out_trade_no,
        "trade_state": order.state,
        "trade_state_desc": TRADE_STATE_DESC[order.state],
        "total_fee": str(order.total_fee),
        "fee_type": order.fee_type,
        "trade_type": order.trade_type,
        "attach": order.attach,
    }
    if order.state == "NOTPAY" and is_expired(order, ctx.now()):
        answer["trade_state_desc"] = "订单未支付，已过支付截止时间"
    if order.openid:
        answer["openid"] = order.openid
    if order.transaction_id:
        answer.update(
            transaction_id=order.transaction_id,
            time_end=order.time_end,
            cash_fee=str(order.total_fee),
            bank_type=BANK_TYPE,
            is_subscribe="Y",
        )
    return answer


def close_order(params: Mapping[str, str], ctx: Context) -> dict[str, str]:
    """pay/closeorder: close an unpaid order so it can never be paid."""
    _require(params, "out_trade_no")
    if ctx.store.get_order(ctx.merchant.mch_id, params["out_trade_no"]) is None:
        raise BusinessFail("ORDERNOTEXIST", "订单不存在")

    def close(order: SandboxOrder) -> None:
        if order.state in ("SUCCESS", "REFUND"):
            raise BusinessFail("ORDERPAID", "订单已支付，不能发起关单")
        if order.state == "CLOSED":
            raise BusinessFail("ORDERCLOSED", "订单已关闭，无需继续调用")
        order.state = "CLOSED"

    ctx.store.update_order(ctx.merchant.mch_id, params["out_trade_no"], close)
    return {"result_msg": "OK"}


def refund(params: Mapping[str, str], ctx: Context) -> dict[str, str]:
    """secapi/pay/refund: refund part or all of a paid order, once per out_refund_no."""
    _require(params, "out_refund_no", "total_fee", "refund_fee")
    out_refund_no = params["out_refund_no"]
    if not _OUT_REFUND_NO.match(out_refund_no):
        raise _param_error("out_refund_no格式错误：最多64位字母、数字或_-|*@")
    total_fee = _fee(params, "total_fee")
    refund_fee = _fee(params, "refund_fee")
    if (params.get("refund_fee_type") or "CNY") != "CNY":
        raise _param_error("refund_fee_type只支持CNY")
    notify_url = params.get("notify_url") or ctx.merchant.default_refund_notify_url()
    if not notify_url.startswith(("http://", "https://")):
        raise _param_error("notify_url必须是http(s)地址")
    found = _find_order(params, ctx)
    owner = ctx.store.claim_refund_no(found.mch_id, out_refund_no, found.out_trade_no)
    if owner != found.out_trade_no:
        raise _param_error("out_refund_no已用于另一笔订单")
    now = ctx.now()
    refund_id = _new_id(ctx, "5030", 7)

    def apply(order: SandboxOrder) -> tuple[SandboxRefund, bool]:
        existing = order.find_refund(out_refund_no)
        if existing is not None:
            if existing.refund_fee != refund_fee or existing.total_fee != total_fee:
                raise BusinessFail(
                    "PARAM_ERROR", "订单金额或退款金额与之前请求不一致，请核实后再试"
                )
            return existing, False
        if order.state not in ("SUCCESS", "REFUND"):
            raise BusinessFail("TRADE_STATE_ERROR", "订单状态错误：订单未支付或已关闭")
        if total_fee != order.total_fee:
            raise _param_error("total_fee与订单金额不一致")
        remaining = order.total_fee - order.refunded_fee
        if refund_fee > remaining:
            raise BusinessFail(
                "REFUND_FEE_INVALID", f"退款金额大于可退金额（剩余{remaining}分）"
            )
        new = SandboxRefund(
            out_refund_no=out_refund_no,
            refund_id=refund_id,
            refund_fee=refund_fee,
            total_fee=total_fee,
            status="SUCCESS",
            success_time=clock.format_success_time(now),
            notify_url=notify_url,
            refund_desc=params.get("refund_desc", ""),
        )
        order.refunds.append(new)
        order.refunded_fee += refund_fee
        order.state = "REFUND"
        return new, True

    record, created = ctx.store.update_order(found.mch_id, found.out_trade_no, apply)
    if created:
        ctx.store.link_refund_id(record.refund_id, found.mch_id, found.out_trade_no)
        if ctx.on_refund is not None:
            ctx.on_refund(found.mch_id, out_refund_no)
    return {
        "transaction_id": found.transaction_id,
        "out_trade_no": found.out_trade_no,
        "out_refund_no": record.out_refund_no,
        "refund_id": record.refund_id,
        "refund_fee": str(record.refund_fee),
        "settlement_refund_fee": str(record.refund_fee),
        "total_fee": str(found.total_fee),
        "settlement_total_fee": str(found.total_fee),
        "fee_type": found.fee_type,
        "cash_fee": str(found.total_fee),
        "cash_refund_fee": str(record.refund_fee),
        "refund_channel": "ORIGINAL",
    }


def refund_query(params: Mapping[str, str], ctx: Context) -> dict[str, str]:
    """pay/refundquery: the refunds of an order, or one refund."""
    order: SandboxOrder | None
    match: tuple[str, str] | None = None  # (refund attribute, value) when one refund is asked
    if params.get("refund_id"):
        order = ctx.store.order_by_refund_id(params["refund_id"])
        match = ("refund_id", params["refund_id"])
    elif params.get("out_refund_no"):
        owner = ctx.store.refund_owner(ctx.merchant.mch_id, params["out_refund_no"])
        order = ctx.store.get_order(ctx.merchant.mch_id, owner) if owner else None
        match = ("out_refund_no", params["out_refund_no"])
    elif params.get("transaction_id") or params.get("out_trade_no"):
        try:
            order = _find_order(params, ctx)
        except BusinessFail:
            order = None
    else:
        raise ProtocolFail(
            "缺少参数refund_id、out_refund_no、transaction_id或out_trade_no", "PARAM_ERROR"
        )
    refunds = [
        r for r in (order.refunds if order is not None else [])
        if match is None or getattr(r, match[0]) == match[1]
    ]
    if order is None or not refunds:
        raise BusinessFail("REFUNDNOTEXIST", "退款订单查询失败：订单号错误或订单状态不正确")
    answer = {
        "transaction_id": order.transaction_id,
        "out_trade_no": order.out_trade_no,
        "total_fee": str(order.total_fee),
        "settlement_total_fee": str(order.total_fee),
        "fee_type": order.fee_type,
        "cash_fee": str(order.total_fee),
        "refund_count": str(len(refunds)),
    }
    for n, item in enumerate(refunds):
        answer.update({
            f"out_refund_no_{n}": item.out_refund_no,
            f"refund_id_{n}": item.refund_id,
            f"refund_channel_{n}": "ORIGINAL",
            f"refund_fee_{n}": str(item.refund_fee),
            f"settlement_refund_fee_{n}": str(item.refund_fee),
            f"refund_status_{n}": item.status,
            f"refund_account_{n}": "REFUND_SOURCE_UNSETTLED_FUNDS",
            f"refund_recv_accout_{n}": "支付用户的零钱",
            f"refund_success_time_{n}": item.success_time,
        })
    return answer


ENDPOINTS: dict[str, Callable[[Mapping[str, str], Context], dict[str, str]]] = {
    UNIFIED_ORDER: unified_order,
    ORDER_QUERY: order_query,
    CLOSE_ORDER: close_order,
    REFUND: refund,
    REFUND_QUERY: refund_query,
}


def fail_answer(return_msg: str, err_code: str) -> Answer:
    """A return_code=FAIL answer (unsigned, as WeChat sends it)."""
    return Answer(
        {"return_code": "FAIL", "return_msg": return_msg, "err_code": err_code}, sign_type=None
    )


def handle_request(endpoint: str, raw_body: bytes, ctx: Context) -> Answer:
    """Answer one merchant API call: parse, authenticate, run the endpoint, wrap the result."""
    handler = ENDPOINTS[endpoint]
    try:
        params = signing.parse_xml(raw_body)
    except signing.MalformedXml:
        return fail_answer("XML格式错误", "XML_FORMAT_ERROR")
    try:
        sign_type = _check_envelope(params, ctx.merchant)
    except ProtocolFail as exc:
        return fail_answer(exc.return_msg, exc.err_code)
    fields = _base_fields(ctx.merchant)
    try:
        fields.update(handler(params, ctx))
    except ProtocolFail as exc:
        return fail_answer(exc.return_msg, exc.err_code)
    except BusinessFail as exc:
        fields.update(result_code="FAIL", err_code=exc.err_code, err_code_des=exc.err_code_des)
    return Answer(fields, sign_type)


class PaymentRefused(Exception):
    """The buyer cannot pay this order (unknown, closed, expired or already paid)."""

    def __init__(self, code: str, message: str) -> None:
        """Keep a code (ORDERNOTEXIST, ORDERCLOSED, ORDEREXPIRED, ORDERPAID) and a message."""
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def buyer_pays(ctx: Context, out_trade_no: str) -> SandboxOrder:
    """The buyer completes payment: mark the order paid and give it a transaction id."""
    if ctx.store.get_order(ctx.merchant.mch_id, out_trade_no) is None:
        raise PaymentRefused("ORDERNOTEXIST", "订单不存在")
    now = ctx.now()
    transaction_id = _new_id(ctx, "4200", 6)

    def pay(order: SandboxOrder) -> SandboxOrder:
        if order.state in ("SUCCESS", "REFUND"):
            raise PaymentRefused("ORDERPAID", "订单已支付")
        if order.state == "CLOSED":
            raise PaymentRefused("ORDERCLOSED", "订单已关闭")
        if is_expired(order, now):
            raise PaymentRefused("ORDEREXPIRED", "订单已过支付截止时间")
        order.state = "SUCCESS"
        order.transaction_id = transaction_id
        order.time_end = clock.format_wechat_time(now)
        if not order.openid:
            # NATIVE/MWEB orders carry no openid; the paying sandbox buyer gets one.
            order.openid = "o-sandbox-" + secrets.token_hex(8)
        return order

    order = ctx.store.update_order(ctx.merchant.mch_id, out_trade_no, pay)
    ctx.store.link_transaction(order.transaction_id, order.mch_id, order.out_trade_no)
    return order
