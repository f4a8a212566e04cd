"""The Pay sandbox over HTTP: WeChat's merchant API, the buyer's H5 pay page, notify senders.

Routes live under /sandbox/pay/ so that wechatpy, given
``API_BASE_URL = PUBLIC_BASE_URL + "/sandbox/pay/"``, reaches them unchanged.
The module-level functions (pay_order, send_pay_notify, ...) are what tests and
other code call to act as the buyer or as WeChat; they need an app context.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import RequestEntityTooLarge

from sandbox import clock, pay_api, pay_transfer
from sandbox.connection import get_redis
from sandbox.money import format_yuan
from sandbox.oa import note_payment
from sandbox.pay_api import Context, Merchant, PaymentRefused
from sandbox.pay_notify import NotifyDelivery, deliver, pay_notify_fields, refund_notify_xml
from sandbox.pay_store import PayStore, SandboxOrder
from sandbox.signing import to_xml

blp = Blueprint("sandbox_pay", __name__, url_prefix="/sandbox/pay")

# Retry schedule (seconds after the previous attempt) for unacknowledged notifies.
DEFAULT_RETRY_DELAYS = (1.0, 3.0, 10.0)
# How long a refund notify waits for the refund answer to leave before it is sent.
RESPONSE_SENT_WAIT_SECONDS = 2.0


@dataclass
class PaidOrder:
    """The result of the buyer paying: the order as WeChat now has it, and the notify."""

    order: SandboxOrder
    notify: NotifyDelivery




def _merchant() -> Merchant:
    return Merchant.from_config(current_app.config)


def _store() -> PayStore:
    return PayStore(get_redis())


def _context(on_refund: Callable[[str, str], None] | None = None) -> Context:
    return Context(merchant=_merchant(), store=_store(), conn=get_redis(), on_refund=on_refund)


def _timeout() -> float:
    return float(current_app.config.get("WECHAT_HTTP_TIMEOUT_SECONDS") or 5)


def _retry_delays() -> Sequence[float]:
    return tuple(current_app.config.get("SANDBOX_NOTIFY_RETRY_DELAYS", DEFAULT_RETRY_DELAYS))


def sandbox_order(out_trade_no: str) -> SandboxOrder | None:
    """The sandbox's record of an order of the configured merchant, or None."""
    return _store().get_order(_merchant().mch_id, out_trade_no)


def sandbox_orders(limit: int = 50) -> list[SandboxOrder]:
    """Recent sandbox orders, newest first."""
    return _store().list_orders(limit)


def notify_log(limit: int = 100, out_trade_no: str | None = None) -> list[dict[str, Any]]:
    """Notify delivery attempts, newest first, optionally for one order only."""
    entries = _store().list_notifies()
    if out_trade_no is not None:
        entries = [e for e in entries if e["out_trade_no"] == out_trade_no]
    return entries[:limit]


def travel(seconds: int) -> int:
    """Move the sandbox clock forward (e.g. past an order's time_expire); return the offset."""
    return clock.travel(get_redis(), seconds)


def pay_page_url(out_trade_no: str) -> str:
    """The absolute URL of the sandbox H5 pay page for an order."""
    return _merchant().pay_page_url(out_trade_no)


def send_pay_notify(out_trade_no: str) -> NotifyDelivery:
    """POST (again) the payment-success notify of a paid order to its notify_url."""
    order = sandbox_order(out_trade_no)
    if order is None:
        raise PaymentRefused("ORDERNOTEXIST", "订单不存在")
    if not order.transaction_id:
        raise PaymentRefused("NOTPAY", "订单未支付，没有支付通知")
    body = to_xml(pay_notify_fields(order, _merchant()))
    return deliver(
        _store(), kind="pay", url=order.notify_url, body=body,
        out_trade_no=order.out_trade_no, timeout=_timeout(),
    )


def send_refund_notify(out_refund_no: str) -> NotifyDelivery:
    """POST (again) the encrypted refund-result notify of a refund to its notify_url."""
    merchant = _merchant()
    store = _store()
    owner = store.refund_owner(merchant.mch_id, out_refund_no)
    order = store.get_order(merchant.mch_id, owner) if owner else None
    found = order.find_refund(out_refund_no) if order is not None else None
    if order is None or found is None:
        raise LookupError(f"no sandbox refund {out_refund_no!r}")
    return deliver(
        store, kind="refund", url=found.notify_url, body=refund_notify_xml(order, found, merchant),
        out_trade_no=order.out_trade_no, out_refund_no=out_refund_no, timeout=_timeout(),
    )


def _retry_in_background(
    send: Callable[[], NotifyDelivery],
    delays: Sequence[float],
    start: threading.Event | None = None,
) -> threading.Thread:
    """Call ``send`` in a thread, first after ``start`` fires, then after each delay until acked."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def run() -> None:
        if start is not None:
            start.wait(RESPONSE_SENT_WAIT_SECONDS)
        with app.app_context():
            for delay in delays:
                time.sleep(delay)
                try:
                    if send().acknowledged:
                        return
                except Exception:  # noqa: BLE001 - a background sender must not die loudly
                    app.logger.exception("sandbox notify delivery crashed")
                    return

    thread = threading.Thread(target=run, name="sandbox-notify", daemon=True)
    thread.start()
    return thread


def pay_order(out_trade_no: str, *, retry: bool = False) -> PaidOrder:
    """Act as the buyer: pay the order, then send the pay notify once (retrying later if asked).

    Raises PaymentRefused (code ORDERNOTEXIST, ORDERPAID, ORDERCLOSED or ORDEREXPIRED).
    """
    order = pay_api.buyer_pays(_context(), out_trade_no)
    # WeChat knows of the payment before the merchant does: open the 48 h CS window first.
    note_payment(order.openid)
    delivery = send_pay_notify(order.out_trade_no)
    if retry and not delivery.acknowledged:
        _retry_in_background(lambda: send_pay_notify(out_trade_no), _retry_delays())
    return PaidOrder(order=order, notify=delivery)


# --- WeChat's merchant API -------------------------------------------------------------


def _api_call(endpoint: str) -> Response:
    merchant = _merchant()
    if request.method != "POST":
        answer = pay_api.fail_answer("请使用post方法", "REQUIRE_POST_METHOD")
        return Response(answer.to_xml(merchant.api_key), mimetype="text/xml")
    refunded: list[str] = []
    try:
        ctx = _context(on_refund=lambda _mch, out_refund_no: refunded.append(out_refund_no))
        answer = pay_api.handle_request(endpoint, request.get_data(cache=False), ctx)
    except RequestEntityTooLarge:
        answer = pay_api.fail_answer("请求体过大", "PARAM_ERROR")
    except Exception:  # noqa: BLE001 - WeChat answers SYSTEMERROR, never an HTML 500
        current_app.logger.exception("sandbox pay %s failed", endpoint)
        answer = pay_api.fail_answer("系统错误", "SYSTEMERROR")
    response = Response(answer.to_xml(merchant.api_key), mimetype="text/xml")
    if refunded and current_app.config.get("SANDBOX_AUTO_REFUND_NOTIFY", True):
        sent = threading.Event()
        response.call_on_close(sent.set)
        for out_refund_no in refunded:
            _retry_in_background(
                lambda no=out_refund_no: send_refund_notify(no),  # type: ignore[misc]
                (0.0, *_retry_delays()),
                start=sent,
            )
    return response


@blp.route("/pay/unifiedorder", methods=["GET", "POST"])
def unified_order() -> Response:
    """WeChat Pay unified order."""
    return _api_call(pay_api.UNIFIED_ORDER)


@blp.route("/pay/orderquery", methods=["GET", "POST"])
def order_query() -> Response:
    """WeChat Pay order query."""
    return _api_call(pay_api.ORDER_QUERY)


@blp.route("/pay/closeorder", methods=["GET", "POST"])
def close_order() -> Response:
    """WeChat Pay close order."""
    return _api_call(pay_api.CLOSE_ORDER)


@blp.route("/secapi/pay/refund", methods=["GET", "POST"])
def refund() -> Response:
    """WeChat Pay refund (the real one needs the merchant certificate; the sandbox does not)."""
    return _api_call(pay_api.REFUND)


@blp.route("/pay/refundquery", methods=["GET", "POST"])
def refund_query() -> Response:
    """WeChat Pay refund query."""
    return _api_call(pay_api.REFUND_QUERY)


def _transfer_call(endpoint: str) -> Response:
    merchant = _merchant()
    if request.method != "POST":
        answer = pay_api.fail_answer("请使用post方法", "REQUIRE_POST_METHOD")
    else:
        try:
            answer = pay_transfer.handle_request(endpoint, request.get_data(cache=False),
                                                 _context())
        except RequestEntityTooLarge:
            answer = pay_api.fail_answer("请求体过大", "PARAM_ERROR")
        except Exception:  # noqa: BLE001 - WeChat answers SYSTEMERROR, never an HTML 500
            current_app.logger.exception("sandbox pay %s failed", endpoint)
            answer = pay_api.fail_answer("系统错误", "SYSTEMERROR")
    return Response(answer.to_xml(merchant.api_key), mimetype="text/xml")


@blp.route("/mmpaymkttransfers/promotion/transfers", methods=["GET", "POST"])
def transfer() -> Response:
    """WeChat Pay enterprise payment to change (the real one needs the merchant certificate)."""
    return _transfer_call(pay_transfer.TRANSFER)


@blp.route("/mmpaymkttransfers/gettransferinfo", methods=["GET", "POST"])
def transfer_query() -> Response:
    """WeChat Pay enterprise payment query."""
    return _transfer_call(pay_transfer.TRANSFER_QUERY)


def script_transfers(outcome: str, *, err_code: str = "NOTENOUGH", delay: float = 0.0,
                     times: int = 1) -> None:
    """Tests: the next ``times`` transfers ``fail``, answer ``systemerror`` or are ``slow``."""
    pay_transfer.script(_context(), outcome, err_code=err_code, delay=delay, times=times)


def sandbox_transfers() -> list[pay_transfer.SandboxTransfer]:
    """Every transfer the sandbox made for the configured merchant, oldest first."""
    return pay_transfer.list_transfers(_context())


# --- The buyer's H5 pay page -----------------------------------------------------------


def safe_return_url(raw: str | None, public_base_url: str) -> str | None:
    """``raw`` if it points inside the app (PUBLIC_BASE_URL), else None: no open redirect."""
    if not raw or any(ch in raw for ch in "\\\r\n\t") or any(ord(ch) < 32 for ch in raw):
        return None
    base = public_base_url.rstrip("/")
    if raw == base or raw.startswith((base + "/", base + "?", base + "#")):
        return raw
    return None


def _page_state(order: SandboxOrder) -> str:
    if order.state == "NOTPAY" and pay_api.is_expired(order, clock.now(get_redis())):
        return "EXPIRED"
    return order.state


def _render_pay_page(
    order: SandboxOrder, return_url: str, *, status: int = 200, **extra: Any
) -> tuple[str, int]:
    merchant = _merchant()
    html = render_template(
        "sandbox/pay_h5.html",
        merchant_name=merchant.name,
        order=order,
        amount_yuan=format_yuan(order.total_fee),
        page_state=_page_state(order),
        return_url=return_url,
        **extra,
    )
    return html, status


@blp.get("/h5/<out_trade_no>")
def pay_page(out_trade_no: str) -> tuple[str, int]:
    """Show the buyer what they are about to pay, with Pay and Cancel."""
    merchant = _merchant()
    return_url = safe_return_url(request.args.get("return_url"), merchant.public_base_url)
    order = sandbox_order(out_trade_no)
    if order is None:
        html = render_template(
            "sandbox/pay_missing.html", out_trade_no=out_trade_no,
            return_url=return_url or merchant.public_base_url + "/",
        )
        return html, 404
    return _render_pay_page(order, return_url or merchant.public_base_url + "/")


@blp.post("/h5/<out_trade_no>")
def pay_page_submit(out_trade_no: str) -> tuple[str, int]:
    """The buyer pressed Pay: mark the order paid, send the notify, show the result."""
    merchant = _merchant()
    return_url = safe_return_url(request.args.get("return_url"), merchant.public_base_url)
    return_url = return_url or merchant.public_base_url + "/"
    order = sandbox_order(out_trade_no)
    if order is None:
        abort(404)
    if request.form.get("prepay_id") != order.prepay_id:
        # A stale or forged form: only a page rendered for this very order may pay it.
        return _render_pay_page(order, return_url, status=400, error="页面已失效，请刷新后重试")
    try:
        paid = pay_order(out_trade_no, retry=True)
    except PaymentRefused as exc:
        current = sandbox_order(out_trade_no) or order
        return _render_pay_page(current, return_url, status=409, error=exc.message)
    return render_template(
        "sandbox/pay_result.html",
        merchant_name=merchant.name,
        order=paid.order,
        amount_yuan=format_yuan(paid.order.total_fee),
        notify=paid.notify,
        return_url=return_url,
    ), 200


@blp.post("/orders/<out_trade_no>/notify")
def resend_pay_notify(out_trade_no: str) -> Any:
    """Sandbox UI: deliver the pay notify again, as WeChat does."""
    try:
        send_pay_notify(out_trade_no)
    except PaymentRefused:
        abort(409)
    return redirect(url_for("sandbox.index"), code=303)


@blp.post("/refunds/<out_refund_no>/notify")
def resend_refund_notify(out_refund_no: str) -> Any:
    """Sandbox UI: deliver the refund notify again."""
    try:
        send_refund_notify(out_refund_no)
    except LookupError:
        abort(404)
    return redirect(url_for("sandbox.index"), code=303)


def register(app: Flask) -> None:
    """Serve the Pay sandbox on this app."""
    app.register_blueprint(blp)
    app.jinja_env.filters.setdefault("yuan", format_yuan)
