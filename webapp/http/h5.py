"""H5 pages opened from the chat: pay an order, see an order, list one's orders; share links.

Who is asking comes from WeChat OAuth ``snsapi_base``: without an openid in
the (signed) session cookie, a page sends the browser to the authorize page and
``/h5/oauth/callback`` brings it back signed in. A sign-in lasts
H5_SESSION_DAYS: an older session cookie is read as none (``webapp.sessions``),
so the page signs the user in again. Every page is a GET that only
reads, except that the pay page starts the payment, which is idempotent (the
same WeChat trade and prepay_id every time), so a forged link can at worst show
the buyer their own pay button, and the share link ``/r/<invite code>`` binds
the visitor under that distributor (source ``link``), which the binding rules
make idempotent: the same link opened twice binds once, and under "first
touch" an earlier distributor keeps the visitor.
"""
from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import select
from werkzeug.wrappers import Response

from adapters.wechat.oauth import OAuthFailed, authorize_url, new_state, openid_for_code
from adapters.wechat.oauth import state_is_valid as oauth_state_is_valid
from bots.dialogue.texts import mask_phone
from core.actors import Actor
from core.errors import Conflict, DomainError, InvalidInput, NotFound, PaymentGatewayError
from core.models import Order, OrderStatus, User
from core.money import format_yuan
from referral.binding import BindingRefused, bind_by_invite_code, record_refusal
from referral.distributors import find_by_invite_code
from referral.domain.codes import normalise_invite_code
from referral.domain.rules import BindingSource, Refusal
from referral.qrcodes import cached_qr_code
from shop.identity import ensure_wechat_user, user_for_openid
from shop.orders import find_order_by_number
from shop.payments import start_payment
from webapp.clients import app_settings, pay_gateway
from webapp.extensions import db
from webapp.sessions import ISSUED_AT

log = logging.getLogger(__name__)

blp = Blueprint("h5", __name__, url_prefix="/h5")
# Share links live at the site root (/r/<code>: short enough for a poster or a chat).
share_blp = Blueprint("h5_share", __name__)
# Registered with the H5 pages, wherever those are registered.
blp.record_once(lambda state: state.app.register_blueprint(share_blp))

SESSION_OPENID = "wx_openid"
SESSION_NONCE = "wx_oauth_nonce"
SESSION_NEXT = "wx_oauth_next"
MAX_ORDER_NUMBER = 32
MAX_SHARE_CODE = 32
ORDER_LIST_LIMIT = 50

PAID_STATUSES = frozenset({
    OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.COMPLETED, OrderStatus.REFUNDING,
    OrderStatus.REFUNDED, OrderStatus.PARTIALLY_REFUNDED,
})
STATUS_LABELS: dict[str, str] = {
    OrderStatus.PENDING_PAYMENT: "待支付 Awaiting payment",
    OrderStatus.PAID: "已支付 Paid",
    OrderStatus.SHIPPED: "已发货 Shipped",
    OrderStatus.COMPLETED: "已完成 Completed",
    OrderStatus.CANCELLED: "已取消 Cancelled",
    OrderStatus.REFUNDING: "退款中 Refunding",
    OrderStatus.REFUNDED: "已退款 Refunded",
    OrderStatus.PARTIALLY_REFUNDED: "部分退款 Partially refunded",
}




def _status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def _page(template: str, status: int = 200, **context: Any) -> Response:
    """Render an H5 page with headers that keep it private and unframed."""
    nonce = secrets.token_urlsafe(16)
    html = render_template(
        # Phones are masked on every H5 page (mask_phone, as in the chat): a pay link can
        # be forwarded, and the buyer does not need their own number back whole.
        template, yuan=format_yuan, status_label=_status_label, mask_phone=mask_phone,
        csp_nonce=nonce,
        sandbox=bool(current_app.config.get("WECHAT_SANDBOX")), **context,
    )
    response = make_response(html, status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: https: http:; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    )
    return response


def _error(status: int, title: str, message: str) -> Response:
    return _page("h5/message.html", status, title=title, message=message)


def _not_found() -> Response:
    return _error(404, "订单不存在 Order not found",
                  "找不到这个订单。请回到对话中重新打开链接。"
                  " We could not find this order; open the link from the chat again.")


def _callback_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"] + url_for("h5.oauth_callback")


def _sign_in(next_path: str) -> Response:
    """Send the browser to WeChat's authorize page, to come back to ``next_path``."""
    state, nonce = new_state(current_app.config["SECRET_KEY"])
    session[SESSION_NONCE] = nonce
    session[SESSION_NEXT] = next_path
    target = authorize_url(current_app.config, _callback_url(), state)
    response = redirect(target, code=302)
    response.headers["Cache-Control"] = "no-store"
    return response


def _signed_in_user() -> tuple[str | None, User | None]:
    """The openid of this browser's session and its user, if any."""
    openid = session.get(SESSION_OPENID)
    if not isinstance(openid, str) or not openid:
        return None, None
    return openid, user_for_openid(db.session, openid)


def _own_order(user: User | None, number: str) -> Order | None:
    """The order ``number`` if it belongs to ``user``; None otherwise (never say which)."""
    if user is None or not number or len(number) > MAX_ORDER_NUMBER:
        return None
    order = find_order_by_number(db.session, number)
    if order is None or order.buyer_id != user.id:
        return None
    return order


def _safe_next(path: object) -> str:
    # Only our own H5 pages and share links: never an absolute URL or a scheme-relative one.
    if (isinstance(path, str) and path.startswith(("/h5/", "/r/")) and "//" not in path
            and "\\" not in path):
        return path
    return url_for("h5.order_list")


@blp.get("/oauth/callback")
def oauth_callback() -> Response:
    """WeChat sends the browser back here with ``code`` and ``state``: sign the user in."""
    code = request.args.get("code", "")
    state = request.args.get("state", "")
    nonce = session.pop(SESSION_NONCE, None)
    next_path = _safe_next(session.pop(SESSION_NEXT, None))
    secret = current_app.config["SECRET_KEY"]
    if not oauth_state_is_valid(secret, state, nonce if isinstance(nonce, str) else None):
        return _error(400, "链接已失效 Link expired",
                      "登录链接已失效，请回到对话中重新打开。"
                      " This sign-in link has expired; open the page from the chat again.")
    if not code or len(code) > 512:
        return _error(400, "未授权 Not authorised",
                      "微信没有完成授权，请重试。 WeChat did not complete the sign-in; try again.")
    try:
        openid = openid_for_code(current_app.config, _callback_url(), code)
    except OAuthFailed as exc:
        log.warning("H5 sign-in failed: %s", exc)
        return _error(502, "登录失败 Sign-in failed",
                      "微信登录失败，请稍后重试。 WeChat sign-in failed; please try again.")
    # The sign-in starts the session's lifetime afresh (webapp.sessions dates it on save).
    session.pop(ISSUED_AT, None)
    session[SESSION_OPENID] = openid
    response = redirect(next_path, code=302)
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.get("/pay/<number>")
def pay(number: str) -> Response:
    """The pay page: the order's summary and WeChat Pay's button (the sandbox's Pay link)."""
    openid, user = _signed_in_user()
    if openid is None:
        return _sign_in(url_for("h5.pay", number=number))
    order = _own_order(user, number)
    if order is None or user is None:
        return _not_found()
    if order.status in PAID_STATUSES:
        return _page("h5/paid.html", order=order)
    if order.status != OrderStatus.PENDING_PAYMENT:
        return _page("h5/order.html", 409, order=order,
                     notice="这个订单不能再支付了。 This order can no longer be paid.")
    try:
        started = start_payment(db.session, pay_gateway(), app_settings(), Actor.of(user), order.id,
                                request.remote_addr)
    except Conflict as exc:
        db.session.rollback()
        current = _own_order(user, number)
        if current is not None and current.status in PAID_STATUSES:
            return _page("h5/paid.html", order=current)
        return _page("h5/order.html", 409, order=current or order, notice=exc.message)
    except PaymentGatewayError as exc:
        db.session.rollback()
        return _page("h5/order.html", 502, order=order, notice=exc.message)
    except DomainError as exc:
        db.session.rollback()
        return _page("h5/order.html", exc.status_code, order=order, notice=exc.message)
    order_url = current_app.config["PUBLIC_BASE_URL"] + url_for("h5.order_detail", number=number)
    pay_url = started.get("pay_url")
    if pay_url:
        # The sandbox pay page returns to this URL (it accepts only our own base URL).
        pay_url = f"{pay_url}?{urlencode({'return_url': order_url})}"
    return _page(
        "h5/pay.html", order=order, jsapi=started["jsapi"], pay_url=pay_url,
        order_url=order_url,
    )


@blp.get("/orders/<number>")
def order_detail(number: str) -> Response:
    """One of the user's orders: lines, total, status, with a pay button while unpaid."""
    openid, user = _signed_in_user()
    if openid is None:
        return _sign_in(url_for("h5.order_detail", number=number))
    order = _own_order(user, number)
    if order is None:
        return _not_found()
    return _page("h5/order.html", order=order, notice=None)


@blp.get("/orders")
def order_list() -> Response:
    """The user's recent orders, newest first."""
    openid, user = _signed_in_user()
    if openid is None:
        return _sign_in(url_for("h5.order_list"))
    orders: list[Order] = []
    if user is not None:
        orders = list(db.session.scalars(
            select(Order).where(Order.buyer_id == user.id)
            .order_by(Order.id.desc()).limit(ORDER_LIST_LIMIT)
        ))
    return _page("h5/orders.html", orders=orders)


# --- share links ---------------------------------------------------------------------------


def _display_name(user: User | None) -> str:
    if user is None:
        return "ChatShop"
    return user.nickname or f"ChatShop #{user.id}"


def _follow_help(distributor_id: int) -> dict[str, Any]:
    """How the visitor follows the account: the distributor's QR code when there is one.

    Only a cached code is shown: a page view never waits for WeChat to create one.
    """
    qr = cached_qr_code(db.session, distributor_id)
    sandbox = bool(current_app.config.get("WECHAT_SANDBOX"))
    chat_url = None
    if sandbox:
        # The sandbox's QR url is its chat page, ready to "scan" this very code.
        chat_url = qr.url if qr is not None and qr.url else (
            current_app.config["PUBLIC_BASE_URL"] + "/sandbox/chat")
    return {"qr_image": qr.image_url if qr is not None else None, "chat_url": chat_url}


def _share_page(status: int = 200, **context: Any) -> Response:
    return _page("h5/share.html", status, **context)


_REFUSED = {
    Refusal.SELF: ("这是你自己的邀请链接 · This is your own invite link",
                   "把它分享给朋友，他们打开后就会加入你的小店。"
                   " Share it with friends: opening it brings them into your shop."),
    Refusal.CYCLE: ("无法加入 · You cannot join this shop",
                    "{name} 是你团队中的成员，不能成为你的上级。"
                    " {name} is in your own team, so they cannot be above you."),
    Refusal.INACTIVE: ("小店暂停邀请 · This shop is not inviting right now",
                       "{name} 的小店暂时不能邀请新成员，你仍然可以在公众号里购物。"
                       " {name}'s shop is not taking new members at the moment;"
                       " you can still shop with us in the chat."),
}
_REFUSED[Refusal.NOT_DISTRIBUTOR] = _REFUSED[Refusal.INACTIVE]


@share_blp.get("/r/<code>")
def share_link(code: str) -> Response:
    """A distributor's share link: sign in, bind the visitor (source ``link``), say the outcome."""
    normal = normalise_invite_code(code) if len(code) <= MAX_SHARE_CODE else None
    record = find_by_invite_code(db.session, normal) if normal else None
    if normal is None or record is None:
        return _error(404, "邀请码无效 Unknown invite code",
                      "找不到这个邀请码对应的小店，请向分享者确认链接。"
                      " No shop has this invite code; check the link with whoever shared it.")
    distributor_id = record.user_id
    openid, _ = _signed_in_user()
    if openid is None:
        return _sign_in(url_for("h5_share.share_link", code=normal))
    try:
        visitor = ensure_wechat_user(db.session, openid)
    except InvalidInput:
        return _error(400, "未授权 Not authorised",
                      "微信身份无效，请重试。 Invalid WeChat identity; try again.")
    owner = db.session.get(User, distributor_id)
    name = _display_name(owner)
    follow = {**_follow_help(distributor_id), "subscribed": bool(visitor.subscribed)}
    try:
        result = bind_by_invite_code(db.session, visitor.id, normal, BindingSource.LINK)
    except BindingRefused as exc:
        db.session.rollback()
        record_refusal(db.session, visitor.id, BindingSource.LINK, normal, exc)
        title, message = _REFUSED.get(exc.code, _REFUSED[Refusal.INACTIVE])
        return _share_page(outcome="refused", title=title, message=message.format(name=name),
                           follow=None if exc.code is Refusal.SELF else follow)
    except NotFound:
        db.session.rollback()
        return _error(404, "邀请码无效 Unknown invite code",
                      "这个小店已不存在。 This shop no longer exists.")
    if result.changed:
        return _share_page(outcome="joined",
                           title=f"已加入 {name} 的小店 · You joined {name}'s shop",
                           message=f"以后在公众号里购物，都会由 {name} 为你服务。"
                           f" From now on {name} looks after your orders in the chat.",
                           follow=follow)
    if result.upline_id == distributor_id:
        return _share_page(outcome="already",
                           title=f"你已在 {name} 的小店 · You are already in {name}'s shop",
                           message="无需重复加入。 Nothing more to do.", follow=follow)
    current = _display_name(db.session.get(User, result.upline_id)) if result.upline_id else ""
    return _share_page(
        outcome="kept",
        title=f"你已是 {current} 的小店成员 · You are already with {current}'s shop",
        message="按照小店规则，最先邀请你的分销员会一直为你服务，所以这次没有变更。"
        " The distributor who invited you first stays with you, so nothing changed.",
        follow=follow,
    )
