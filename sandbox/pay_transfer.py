"""WeChat Pay v2 enterprise payment to change, as the sandbox answers it (no Flask here).

Two endpoints: ``mmpaymkttransfers/promotion/transfers`` (pay) and
``mmpaymkttransfers/gettransferinfo`` (query). Like WeChat:

- requests are signed XML (MD5 or HMAC-SHA256 with the API key); the transfer
  names the merchant ``mch_appid`` / ``mchid``, the query ``appid`` / ``mch_id``;
- answers are **not** signed: WeChat authenticates these calls with the
  merchant's client certificate over TLS instead. The sandbox serves plain
  HTTP and asks for no certificate; it checks the request signature only;
- ``partner_trade_no`` (at most 32 letters and digits) is paid at most once: the
  same number again answers the first payment (same payment_no), with other
  parameters it is refused; a transfer refused with a business error (e.g.
  NOTENOUGH) is not recorded, so the same number may be tried again later;
- ``check_name`` must be NO_CHECK or FORCE_CHECK (OPTION_CHECK is retired),
  the amount at least 30 fen.

Tests script what the next transfer calls meet (``script``): ``fail`` (a
business refusal with an err_code, nothing paid), ``systemerror`` (the money
moves but the answer says SYSTEMERROR: outcome unknown to the caller) or
``slow`` (the money moves, the answer comes after ``delay`` seconds, later
than the caller's timeout).
"""
from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from sandbox import signing
from sandbox.pay_api import (
    Answer,
    BusinessFail,
    Context,
    ProtocolFail,
    _new_id,
    _param_error,
    fail_answer,
)

TRANSFER = "mmpaymkttransfers/promotion/transfers"
TRANSFER_QUERY = "mmpaymkttransfers/gettransferinfo"
MIN_AMOUNT = 30  # fen, WeChat's minimum for a transfer to change

_PREFIX = "sandbox:pay:transfer:"
_SCRIPT = "sandbox:pay:transfer-script"
_PARTNER_TRADE_NO = re.compile(r"^[A-Za-z0-9]{1,32}$")
_AMOUNT = re.compile(r"^[1-9][0-9]{0,9}$")
IDENTITY_FIELDS = ("openid", "amount", "check_name", "re_user_name")


@dataclass
class SandboxTransfer:
    """One transfer WeChat made to a user's change."""

    mch_id: str
    appid: str
    partner_trade_no: str
    openid: str
    amount: int
    desc: str
    check_name: str
    re_user_name: str
    payment_no: str
    payment_time: str
    status: str = "SUCCESS"
    created_at: float = field(default_factory=time.time)

    def fingerprint(self) -> dict[str, str]:
        """The fields that make a repeated request "the same transfer"."""
        return {"openid": self.openid, "amount": str(self.amount),
                "check_name": self.check_name, "re_user_name": self.re_user_name}


def _key(mch_id: str, partner_trade_no: str) -> str:
    return f"{_PREFIX}{mch_id}:{partner_trade_no}"


def get_transfer(ctx: Context, partner_trade_no: str) -> SandboxTransfer | None:
    """The transfer made under this number, or None."""
    raw = ctx.conn.get(_key(ctx.merchant.mch_id, partner_trade_no))
    return SandboxTransfer(**json.loads(raw)) if raw is not None else None


def list_transfers(ctx: Context) -> list[SandboxTransfer]:
    """Every transfer of the merchant (tests count payments with it)."""
    found = []
    for key in ctx.conn.scan_iter(match=f"{_PREFIX}{ctx.merchant.mch_id}:*"):
        raw = ctx.conn.get(key)
        if raw is not None:
            found.append(SandboxTransfer(**json.loads(raw)))
    return sorted(found, key=lambda t: t.created_at)


def script(ctx: Context, outcome: str, *, err_code: str = "NOTENOUGH", delay: float = 0.0,
           times: int = 1) -> None:
    """Make the next ``times`` transfer calls ``fail``, ``systemerror`` or be ``slow``."""
    if outcome not in ("fail", "systemerror", "slow"):
        raise ValueError(f"unknown transfer outcome {outcome!r}")
    entry = json.dumps({"outcome": outcome, "err_code": err_code, "delay": delay})
    ctx.conn.delete(_SCRIPT)
    if times > 0:
        ctx.conn.rpush(_SCRIPT, *([entry] * times))


def clear_script(ctx: Context) -> None:
    """Transfers behave normally again."""
    ctx.conn.delete(_SCRIPT)


def _next_scripted(ctx: Context) -> dict[str, Any] | None:
    raw = ctx.conn.lpop(_SCRIPT)
    if raw is None or isinstance(raw, list):  # a count was never asked for: one item or None
        return None
    found: dict[str, Any] = json.loads(raw)
    return found


def _check_envelope(params: Mapping[str, str], ctx: Context, appid_field: str,
                    mch_field: str) -> None:
    for name in (appid_field, mch_field, "nonce_str", "sign"):
        if not params.get(name):
            raise ProtocolFail(f"缺少参数{name}", "PARAM_ERROR")
    if params[mch_field] != ctx.merchant.mch_id or params[appid_field] != ctx.merchant.appid:
        raise ProtocolFail("商户号mch_id与appid不匹配", "APPID_MCHID_NOT_MATCH")
    if len(params["nonce_str"]) > 32:
        raise ProtocolFail("nonce_str长度不能超过32", "PARAM_ERROR")
    if (params.get("sign_type") or signing.SIGN_TYPE_MD5) not in signing.SIGN_TYPES:
        raise ProtocolFail("sign_type参数错误", "PARAM_ERROR")
    if not signing.verify_sign(params, ctx.merchant.api_key):
        raise ProtocolFail("签名错误", "SIGNERROR")


def _partner_trade_no(params: Mapping[str, str]) -> str:
    number = params.get("partner_trade_no", "")
    if not _PARTNER_TRADE_NO.match(number):
        raise _param_error("partner_trade_no格式错误：最多32位字母或数字")
    return number


def transfer(params: Mapping[str, str], ctx: Context) -> tuple[dict[str, str], float]:
    """promotion/transfers: pay once per partner_trade_no; (answer fields, delay seconds)."""
    for name in ("partner_trade_no", "openid", "check_name", "amount", "desc",
                 "spbill_create_ip"):
        if not params.get(name):
            raise ProtocolFail(f"缺少参数{name}", "PARAM_ERROR")
    number = _partner_trade_no(params)
    if params["check_name"] not in ("NO_CHECK", "FORCE_CHECK"):
        raise _param_error("check_name只支持NO_CHECK或FORCE_CHECK")
    if params["check_name"] == "FORCE_CHECK" and not params.get("re_user_name"):
        raise _param_error("FORCE_CHECK时必须填写re_user_name")
    if not _AMOUNT.match(params["amount"]):
        raise _param_error("amount必须是正整数（单位分）")
    amount = int(params["amount"])
    if amount < MIN_AMOUNT:
        raise BusinessFail("AMOUNT_LIMIT", f"付款金额不能小于最低限额{MIN_AMOUNT}分")
    now = ctx.now()
    candidate = SandboxTransfer(
        mch_id=ctx.merchant.mch_id, appid=ctx.merchant.appid, partner_trade_no=number,
        openid=params["openid"], amount=amount, desc=params["desc"],
        check_name=params["check_name"], re_user_name=params.get("re_user_name", ""),
        payment_no=_new_id(ctx, "1000", 8),
        payment_time=f"{now:%Y-%m-%d %H:%M:%S}",
    )
    existing = get_transfer(ctx, number)
    scripted = _next_scripted(ctx) if existing is None else None
    if scripted is not None and scripted["outcome"] == "fail":
        raise BusinessFail(str(scripted["err_code"]), "沙箱：按测试脚本拒绝付款")
    key = _key(ctx.merchant.mch_id, number)
    # SET NX: two concurrent calls with the same number make one payment, never two.
    if ctx.conn.set(key, json.dumps(asdict(candidate), ensure_ascii=False), nx=True):
        made = candidate
    else:
        made = get_transfer(ctx, number) or candidate
        if made.fingerprint() != candidate.fingerprint():
            raise BusinessFail("PARAM_ERROR", "商户订单号重复，且参数与原单不一致")
    if scripted is not None and scripted["outcome"] == "systemerror":
        raise BusinessFail("SYSTEMERROR", "系统繁忙，请稍后再试（请使用原单号查询或重试）")
    delay = float(scripted["delay"]) if scripted is not None else 0.0
    return {
        "mch_appid": ctx.merchant.appid,
        "mchid": ctx.merchant.mch_id,
        "partner_trade_no": made.partner_trade_no,
        "payment_no": made.payment_no,
        "payment_time": made.payment_time,
    }, delay


def transfer_query(params: Mapping[str, str], ctx: Context) -> dict[str, str]:
    """gettransferinfo: where a transfer stands (NOT_FOUND if it was never made)."""
    number = _partner_trade_no(params)
    found = get_transfer(ctx, number)
    if found is None:
        raise BusinessFail("NOT_FOUND", "指定单号数据不存在")
    return {
        "appid": found.appid,
        "mch_id": found.mch_id,
        "partner_trade_no": found.partner_trade_no,
        "detail_id": found.payment_no,
        "status": found.status,
        "reason": "",
        "openid": found.openid,
        "transfer_name": found.re_user_name,
        "payment_amount": str(found.amount),
        "transfer_time": found.payment_time,
        "payment_time": found.payment_time,
        "desc": found.desc,
    }


def _wrap(fields: dict[str, str], appid_field: str, mch_field: str,
          ctx: Context) -> dict[str, str]:
    return {"return_code": "SUCCESS", "return_msg": "", appid_field: ctx.merchant.appid,
            mch_field: ctx.merchant.mch_id, "nonce_str": signing.nonce_str(),
            "result_code": "SUCCESS", **fields}


def handle_request(endpoint: str, raw_body: bytes, ctx: Context,
                   sleep: Callable[[float], None] = time.sleep) -> Answer:
    """Answer a transfer or transfer query call (unsigned, as WeChat answers them)."""
    appid_field, mch_field = (("mch_appid", "mchid") if endpoint == TRANSFER
                              else ("appid", "mch_id"))
    try:
        params = signing.parse_xml(raw_body)
    except signing.MalformedXml:
        return fail_answer("XML格式错误", "XML_FORMAT_ERROR")
    delay = 0.0
    try:
        _check_envelope(params, ctx, appid_field, mch_field)
        if endpoint == TRANSFER:
            fields, delay = transfer(params, ctx)
        else:
            fields = transfer_query(params, ctx)
        answer = _wrap(fields, appid_field, mch_field, ctx)
    except ProtocolFail as exc:
        return fail_answer(exc.return_msg, exc.err_code)
    except BusinessFail as exc:
        answer = _wrap({"result_code": "FAIL", "err_code": exc.err_code,
                        "err_code_des": exc.err_code_des}, appid_field, mch_field, ctx)
    if delay > 0:
        sleep(delay)
    return Answer(answer, sign_type=None)
