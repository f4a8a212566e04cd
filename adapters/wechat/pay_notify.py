"""Pure checks of what WeChat Pay sends us: safe XML parsing, signatures, notify contents.

Nothing here touches the database or the network: every function takes the
received text (or the parsed fields) plus our credentials and either returns
plain values or raises :class:`NotifyRejected` with a reason for the log.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

import xmltodict

MAX_NOTIFY_BYTES = 1024 * 1024
SIGN_MD5 = "MD5"
SIGN_HMAC = "HMAC-SHA256"

_FEN = re.compile(r"[0-9]{1,12}")
_FORBIDDEN_MARKUP = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class NotifyRejected(Exception):
    """A notify (or WeChat answer) we refuse; ``reason`` is for logs, not for WeChat."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_flat_xml(raw: bytes | str, root: str = "xml") -> dict[str, str]:
    """Parse WeChat's flat ``<xml><k>v</k>...</xml>`` into a dict; refuse anything else.

    DOCTYPE and entity declarations are refused outright (XXE, billion laughs),
    before the parser sees them: xmltodict would raise a bare ValueError that
    wechatpy does not catch.
    """
    if isinstance(raw, bytes):
        if len(raw) > MAX_NOTIFY_BYTES:
            raise NotifyRejected("body too large")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NotifyRejected("body is not UTF-8") from exc
    else:
        text = raw
    if len(text) > MAX_NOTIFY_BYTES:
        raise NotifyRejected("body too large")
    if not text.strip():
        raise NotifyRejected("empty body")
    if _FORBIDDEN_MARKUP.search(text):
        raise NotifyRejected("DOCTYPE/ENTITY declarations are not accepted")
    try:
        parsed = xmltodict.parse(text, disable_entities=True)
    except Exception as exc:  # noqa: BLE001 - expat and xmltodict raise several types
        raise NotifyRejected(f"malformed XML: {type(exc).__name__}") from exc
    if not isinstance(parsed, dict) or list(parsed) != [root]:
        raise NotifyRejected(f"root element must be <{root}>")
    body = parsed[root]
    if not isinstance(body, dict):
        raise NotifyRejected("no fields")
    fields: dict[str, str] = {}
    for key, value in body.items():
        if key.startswith("@"):
            continue  # attributes carry nothing in WeChat Pay XML
        if value is None:
            fields[key] = ""
        elif isinstance(value, str):
            fields[key] = value
        else:
            raise NotifyRejected(f"field {key!r} is repeated or nested")
    return fields


def _string_to_sign(params: Mapping[str, str], api_key: str) -> bytes:
    # WeChat Pay v2: non-empty fields sorted by name as k=v, joined with &, then key=<api key>.
    pairs = [f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k]]
    pairs.append(f"key={api_key}")
    return "&".join(pairs).encode("utf-8")


def signature(params: Mapping[str, str], api_key: str, sign_type: str = SIGN_MD5) -> str:
    """WeChat Pay v2 signature of ``params`` (``sign`` itself excluded) with our API key."""
    payload = _string_to_sign(params, api_key)
    if sign_type == SIGN_HMAC:
        return hmac.new(api_key.encode("utf-8"), payload, hashlib.sha256).hexdigest().upper()
    if sign_type == SIGN_MD5:
        return hashlib.md5(payload).hexdigest().upper()
    raise NotifyRejected(f"unsupported sign_type {sign_type!r}")


def signature_ok(params: Mapping[str, str], api_key: str) -> bool:
    """True if ``params['sign']`` is right for the ``sign_type`` they declare (MD5 if none)."""
    given = params.get("sign") or ""
    sign_type = params.get("sign_type") or SIGN_MD5
    try:
        expected = signature(params, api_key, sign_type)
    except NotifyRejected:
        return False
    return bool(given) and hmac.compare_digest(given.upper(), expected)


def fen(value: str | None, name: str) -> int:
    """A non-negative amount in fen from its decimal text; refuse anything else."""
    if value is None or not _FEN.fullmatch(value):
        raise NotifyRejected(f"{name} is not an amount in fen: {value!r}")
    return int(value)


@dataclass(frozen=True)
class PayNotice:
    """A verified, successful payment as WeChat reports it."""

    out_trade_no: str
    transaction_id: str
    total_fen: int
    openid: str


def check_merchant(fields: Mapping[str, str], appid: str, mch_id: str) -> None:
    """Refuse fields addressed to another official account or merchant."""
    if fields.get("appid") != appid:
        raise NotifyRejected(f"foreign appid {fields.get('appid')!r}")
    if fields.get("mch_id") != mch_id:
        raise NotifyRejected(f"foreign mch_id {fields.get('mch_id')!r}")


def check_pay_notify(fields: Mapping[str, str], api_key: str, appid: str, mch_id: str) -> PayNotice:
    """Verify a payment notify (signature first) and return what it says was paid."""
    if fields.get("return_code") != "SUCCESS":
        raise NotifyRejected(f"return_code {fields.get('return_code')!r}")
    if not signature_ok(fields, api_key):
        raise NotifyRejected("bad signature")
    check_merchant(fields, appid, mch_id)
    if fields.get("result_code") != "SUCCESS":
        raise NotifyRejected(
            f"result_code {fields.get('result_code')!r} ({fields.get('err_code', '')})"
        )
    return _paid(fields)


def _paid(fields: Mapping[str, str]) -> PayNotice:
    out_trade_no = fields.get("out_trade_no") or ""
    transaction_id = fields.get("transaction_id") or ""
    if not 1 <= len(out_trade_no) <= 32:
        raise NotifyRejected("missing out_trade_no")
    if not 1 <= len(transaction_id) <= 32:
        raise NotifyRejected("missing transaction_id")
    if (fields.get("fee_type") or "CNY") != "CNY":
        raise NotifyRejected(f"fee_type {fields.get('fee_type')!r}")
    return PayNotice(
        out_trade_no=out_trade_no,
        transaction_id=transaction_id,
        total_fen=fen(fields.get("total_fee"), "total_fee"),
        openid=(fields.get("openid") or "")[:64],
    )


def check_trade_query(fields: Mapping[str, str], appid: str, mch_id: str) -> PayNotice | None:
    """The paid trade an order-query answer (already signature-checked) reports, or None."""
    check_merchant(fields, appid, mch_id)
    if fields.get("trade_state") != "SUCCESS":
        return None
    return _paid(fields)


@dataclass(frozen=True)
class RefundNotice:
    """A decrypted refund notify: which refund, how much, and how it ended."""

    out_refund_no: str
    refund_id: str
    out_trade_no: str
    refund_fen: int
    total_fen: int
    refund_status: str


def check_refund_notice(inner: Mapping[str, object]) -> RefundNotice:
    """Validate the decrypted ``req_info`` of a refund notify."""
    values = {k: v for k, v in inner.items() if isinstance(v, str | int)}
    status = str(values.get("refund_status") or "")
    if status not in {"SUCCESS", "CHANGE", "REFUNDCLOSE"}:
        raise NotifyRejected(f"refund_status {status!r}")
    out_refund_no = str(values.get("out_refund_no") or "")
    if not 1 <= len(out_refund_no) <= 64:
        raise NotifyRejected("missing out_refund_no")
    return RefundNotice(
        out_refund_no=out_refund_no,
        refund_id=str(values.get("refund_id") or "")[:32],
        out_trade_no=str(values.get("out_trade_no") or ""),
        refund_fen=fen(str(values.get("refund_fee", "")), "refund_fee"),
        total_fen=fen(str(values.get("total_fee", "")), "total_fee"),
        refund_status=status,
    )


def ack_xml(ok: bool, message: str = "OK") -> str:
    """The answer WeChat Pay expects to a notify."""
    code = "SUCCESS" if ok else "FAIL"
    safe = message.replace("]]>", "]] >")[:128]
    return (
        f"<xml><return_code><![CDATA[{code}]]></return_code>"
        f"<return_msg><![CDATA[{safe}]]></return_msg></xml>"
    )


@dataclass(frozen=True)
class NotifyOutcome:
    """How a notify was handled: ``ok`` decides the ack; ``applied``: this delivery changed data."""

    ok: bool
    message: str = "OK"
    order_id: int | None = None
    applied: bool = False
    refund_id: int | None = None
