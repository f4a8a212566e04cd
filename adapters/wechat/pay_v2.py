"""The one place that talks to WeChat Pay v2 (through wechatpy's ``WeChatPay``).

Every call has a timeout, goes to the configured base URL (the sandbox in
development), and every answer's signature and merchant are verified here,
because wechatpy's ``_handle_result`` does not. Failures are reduced to
:class:`GatewayError`, whose ``definite`` flag says whether WeChat certainly
did not do the thing (a refusal) or whether the outcome is unknown (timeout,
network, server error, an answer we cannot trust): only a definite refusal
may be acted on as "it did not happen".
"""
from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping, MutableMapping
from datetime import datetime, timedelta, timezone
from typing import Any

import requests
from wechatpy.crypto import RefundCrypto
from wechatpy.exceptions import WeChatPayException
from wechatpy.pay import WeChatPay

from adapters.wechat.pay_notify import (
    NotifyRejected,
    PayNotice,
    RefundNotice,
    check_merchant,
    check_pay_notify,
    check_refund_notice,
    parse_flat_xml,
    signature_ok,
)
from core.settings import Settings

# China has no daylight saving time, so a fixed offset is exact and needs no tz database.
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")

# err_code values after which WeChat asks to retry with the same numbers: outcome unknown.
RETRYABLE_CODES = frozenset({"SYSTEMERROR", "BIZERR_NEED_RETRY", "FREQUENCY_LIMITED"})

EXTENSION_KEY = "chatshop.pay_gateway"

# Transfer (enterprise payment to change) err_codes after which WeChat certainly paid
# nothing for this partner_trade_no. Deliberately short: any other code, SYSTEMERROR
# included, leaves the outcome unknown until gettransferinfo says otherwise.
TRANSFER_REFUSALS = frozenset({
    "NOTENOUGH", "V2_ACCOUNT_SIMPLE_BAN", "NAME_MISMATCH", "OPENID_ERROR", "AMOUNT_LIMIT",
    "MONEY_LIMIT", "SENDNUM_LIMIT", "SENDMONEY_LIMIT", "RECV_ACCOUNT_NOT_ALLOWED",
    "PAY_CHANNEL_NOT_ALLOWED", "NO_AUTH", "REALNAME_ACCOUNT_NOT_ALLOWED",
})


class GatewayError(Exception):
    """A WeChat Pay call that did not succeed; ``definite`` is True only for a clear refusal."""

    def __init__(self, message: str, *, definite: bool, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.definite = definite
        self.code = code


def wechat_time(moment: datetime) -> datetime:
    """A timezone-aware moment as Beijing wall-clock time (WeChat's yyyyMMddHHmmss)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime refused")
    return moment.astimezone(SHANGHAI)


def _client_ip(value: str | None) -> str:
    # wechatpy looks up its own public IP over DNS when none is given: never let it.
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return "127.0.0.1"


def _truncate_utf8(text: str, max_bytes: int) -> str:
    encoded = text.encode("utf-8")[:max_bytes]
    return encoded.decode("utf-8", errors="ignore")


class PayGateway:
    """WeChat Pay v2 for one merchant: orders, JSAPI params, query, close, refund, notifies."""

    def __init__(
        self,
        *,
        appid: str,
        mch_id: str,
        api_key: str,
        base_url: str,
        timeout: float,
        notify_url: str,
        refund_notify_url: str,
        cert: tuple[str, str] | None = None,
    ) -> None:
        if not timeout or timeout <= 0:
            raise ValueError("WeChat Pay calls need a positive timeout")
        self.appid = appid
        self.mch_id = mch_id
        self.api_key = api_key
        self.notify_url = notify_url
        self.refund_notify_url = refund_notify_url
        self.client = WeChatPay(
            appid,
            api_key,
            mch_id,
            timeout=timeout,
            mch_cert=cert[0] if cert else None,
            mch_key=cert[1] if cert else None,
        )
        # wechatpy builds every URL from this attribute; per instance, never the class.
        self.client.API_BASE_URL = base_url if base_url.endswith("/") else base_url + "/"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PayGateway:
        """A gateway configured from app settings."""
        public = str(config["PUBLIC_BASE_URL"]).rstrip("/")
        cert_path, key_path = config.get("WECHAT_PAY_CERT_PATH"), config.get("WECHAT_PAY_KEY_PATH")
        return cls(
            appid=str(config["WECHAT_APP_ID"]),
            mch_id=str(config["WECHAT_MCH_ID"]),
            api_key=str(config["WECHAT_PAY_API_KEY"]),
            base_url=str(config["WECHAT_PAY_API_BASE_URL"]),
            timeout=float(config["WECHAT_HTTP_TIMEOUT_SECONDS"]),
            notify_url=public + "/wechat/pay/notify",
            refund_notify_url=public + "/wechat/pay/refund-notify",
            cert=(str(cert_path), str(key_path)) if cert_path and key_path else None,
        )

    # -- outgoing calls -------------------------------------------------------------

    def _call(self, what: str, fn: Any, *args: Any, unsigned_ok: bool = False,
              merchant_fields: tuple[str, str] = ("appid", "mch_id"),
              **kwargs: Any) -> dict[str, str]:
        try:
            answer = fn(*args, **kwargs)
        except WeChatPayException as exc:
            raise self._classify(what, exc) from exc
        except requests.RequestException as exc:
            raise GatewayError(f"{what}: {type(exc).__name__}", definite=False) from exc
        except (KeyError, TypeError, ValueError) as exc:
            # wechatpy chokes on answers without return_code or with entities: unreadable.
            raise GatewayError(f"{what}: unreadable answer", definite=False) from exc
        if not isinstance(answer, dict):
            raise GatewayError(f"{what}: unreadable answer", definite=False)
        fields = {str(k): "" if v is None else str(v) for k, v in answer.items()}
        # Transfer answers come unsigned from WeChat (the call is authenticated by the
        # merchant certificate over TLS instead); a signature that is there must be right.
        if (fields.get("sign") or not unsigned_ok) and not signature_ok(fields, self.api_key):
            raise GatewayError(f"{what}: answer has a bad signature", definite=False)
        appid_field, mch_field = merchant_fields
        try:
            check_merchant({"appid": fields.get(appid_field, ""),
                            "mch_id": fields.get(mch_field, "")}, self.appid, self.mch_id)
        except NotifyRejected as exc:
            raise GatewayError(f"{what}: {exc.reason}", definite=False) from exc
        return fields

    @staticmethod
    def _classify(what: str, exc: WeChatPayException) -> GatewayError:
        if exc.return_code is None:  # HTTP-level failure: we do not know what happened
            return GatewayError(f"{what}: HTTP error", definite=False)
        code = str(exc.errcode or exc.return_code or "")
        message = f"{what}: {exc.errmsg or exc.return_msg or code}"
        if exc.return_code != "SUCCESS":  # the request itself was rejected
            return GatewayError(message, definite=True, code=code)
        return GatewayError(message, definite=code not in RETRYABLE_CODES, code=code)

    def unified_order(
        self,
        *,
        out_trade_no: str,
        body: str,
        total_fen: int,
        openid: str,
        client_ip: str | None,
        starts_at: datetime,
        expires_at: datetime,
    ) -> str:
        """Create (or re-create, same numbers) a JSAPI prepay for an order; returns prepay_id."""
        fields = self._call(
            "unifiedorder",
            self.client.order.create,
            trade_type="JSAPI",
            body=_truncate_utf8(body, 128),
            total_fee=int(total_fen),
            notify_url=self.notify_url,
            client_ip=_client_ip(client_ip),
            user_id=openid,
            out_trade_no=out_trade_no,
            time_start=wechat_time(starts_at),
            time_expire=wechat_time(expires_at),
        )
        prepay_id = fields.get("prepay_id", "")
        if not prepay_id:
            raise GatewayError("unifiedorder: no prepay_id in the answer", definite=False)
        return prepay_id

    def jsapi_params(self, prepay_id: str) -> dict[str, str]:
        """The signed parameters the H5 page hands to WeixinJSBridge to pay."""
        params = self.client.jsapi.get_jsapi_params(prepay_id)
        return {str(k): str(v) for k, v in params.items()}

    def query_order(self, out_trade_no: str) -> dict[str, str]:
        """WeChat's view of a trade (trade_state, transaction_id, total_fee, ...)."""
        return self._call("orderquery", self.client.order.query, out_trade_no=out_trade_no)

    def close_order(self, out_trade_no: str) -> None:
        """Close an unpaid trade so it can no longer be paid."""
        self._call("closeorder", self.client.order.close, out_trade_no)

    def refund(
        self,
        *,
        out_trade_no: str,
        out_refund_no: str,
        total_fen: int,
        refund_fen: int,
        reason: str = "",
    ) -> dict[str, str]:
        """Ask for a refund; accepted means WeChat is processing it (the notify tells the end)."""
        return self._call(
            "refund",
            self.client.refund.apply,
            total_fee=int(total_fen),
            refund_fee=int(refund_fen),
            out_refund_no=out_refund_no,
            out_trade_no=out_trade_no,
            notify_url=self.refund_notify_url,
            refund_desc=_truncate_utf8(reason, 80) or None,
        )

    def query_refund(self, out_refund_no: str) -> dict[str, str]:
        """WeChat's view of one refund (fields suffixed ``_0`` for the refund asked about)."""
        return self._call("refundquery", self.client.refund.query, out_refund_no=out_refund_no)

    def transfer(self, *, partner_trade_no: str, openid: str, amount_fen: int, desc: str,
                 client_ip: str | None = None) -> dict[str, str]:
        """Pay ``amount_fen`` to the change of ``openid`` (v2 enterprise payment); its answer.

        ``partner_trade_no`` is always ours (wechatpy would invent a random one) and
        the same on every retry: WeChat pays a number at most once. A GatewayError is
        ``definite`` only for the err_codes in TRANSFER_REFUSALS; anything else
        (timeouts, SYSTEMERROR, unreadable answers) is an unknown outcome.
        """
        try:
            fields = self._call(
                "transfer", self.client.transfer.transfer,
                user_id=openid, amount=int(amount_fen), desc=_truncate_utf8(desc, 100),
                client_ip=_client_ip(client_ip), check_name="NO_CHECK",
                out_trade_no=partner_trade_no,
                unsigned_ok=True, merchant_fields=("mch_appid", "mchid"),
            )
        except GatewayError as exc:
            raise GatewayError(exc.message, definite=exc.code in TRANSFER_REFUSALS,
                               code=exc.code) from exc
        if fields.get("partner_trade_no") != partner_trade_no or not fields.get("payment_no"):
            raise GatewayError("transfer: answer names another payment", definite=False)
        return fields

    def query_transfer(self, partner_trade_no: str) -> dict[str, str]:
        """WeChat's view of a transfer (gettransferinfo): status SUCCESS, FAILED or PROCESSING.

        A transfer WeChat never received fails with code NOT_FOUND (definite: it is
        safe to send it again with the same number).
        """
        try:
            fields = self._call("gettransferinfo", self.client.transfer.query, partner_trade_no,
                                unsigned_ok=True)
        except GatewayError as exc:
            raise GatewayError(exc.message, definite=exc.code == "NOT_FOUND",
                               code=exc.code) from exc
        if fields.get("partner_trade_no") != partner_trade_no:
            raise GatewayError("gettransferinfo: answer names another payment", definite=False)
        return fields

    # -- incoming notifies ----------------------------------------------------------

    def parse_pay_notify(self, raw: bytes | str) -> tuple[PayNotice, dict[str, str]]:
        """Verify a payment notify; returns what was paid and the raw fields."""
        fields = parse_flat_xml(raw)
        return check_pay_notify(fields, self.api_key, self.appid, self.mch_id), fields

    def parse_refund_notify(self, raw: bytes | str) -> tuple[RefundNotice, dict[str, str]]:
        """Decrypt and check a refund notify; returns the refund outcome and decrypted fields."""
        fields = parse_flat_xml(raw)
        if fields.get("return_code") != "SUCCESS":
            raise NotifyRejected(f"return_code {fields.get('return_code')!r}")
        check_merchant(fields, self.appid, self.mch_id)
        if not fields.get("req_info"):
            raise NotifyRejected("missing req_info")
        try:
            # wechatpy accepts the already parsed dict, so the outer XML is parsed once, safely.
            inner = self.client.parse_refund_notify_result(dict(fields))
        except Exception as exc:  # noqa: BLE001 - base64, AES, padding, XML errors all mean "no"
            raise NotifyRejected(f"req_info does not decrypt: {type(exc).__name__}") from exc
        if not isinstance(inner, dict):
            raise NotifyRejected("req_info has no fields")
        decrypted = {str(k): "" if v is None else str(v) for k, v in inner.items()}
        return check_refund_notice(decrypted), decrypted

    def encrypt_refund_info(self, xml: str) -> str:
        """Encrypt a refund notify's req_info as WeChat does (used by the sandbox and tests)."""
        key = hashlib.md5(self.api_key.encode("utf-8")).hexdigest().encode("ascii")
        return str(RefundCrypto(key).encrypt(xml).decode("ascii"))


def pay_gateway(settings: Settings) -> PayGateway:
    """The WeChat Pay v2 gateway for these settings."""
    public = settings.public_base_url.rstrip("/")
    cert_path, key_path = settings.wechat_pay_cert_path, settings.wechat_pay_key_path
    return PayGateway(
        appid=settings.wechat_app_id,
        mch_id=settings.wechat_mch_id,
        api_key=settings.wechat_pay_api_key,
        base_url=settings.wechat_pay_api_base_url,
        timeout=float(settings.wechat_http_timeout_seconds),
        notify_url=public + "/wechat/pay/notify",
        refund_notify_url=public + "/wechat/pay/refund-notify",
        cert=(cert_path, key_path) if cert_path and key_path else None,
    )


def kept_gateway(extensions: MutableMapping[str, Any], settings: Settings) -> PayGateway:
    """The gateway an app keeps in its ``extensions`` (one per app; tests put a fake there),
    built from ``settings`` on first use."""
    gateway: PayGateway | None = extensions.get(EXTENSION_KEY)
    if gateway is None:
        gateway = extensions.setdefault(EXTENSION_KEY, pay_gateway(settings))
    return gateway
