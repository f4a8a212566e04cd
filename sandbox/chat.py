"""The web chat page /sandbox/chat: a WeChat client in the browser for the app's /wechat.

The page's server side plays WeChat: it builds the message XML, signs (and in
compatible/safe mode encrypts) it, POSTs it to the app's webhook, checks and
decrypts the passive reply, and writes everything to the user's transcript in
Redis, where the customer-service messages the app sends also land. The page
polls the transcript. The module-level functions (``user_says``, ``user_clicks``,
``user_follows``, ``user_scans`` ...) do the same for tests; they need an app context.
"""
from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request

from sandbox import chat_wire, oa, oa_api
from sandbox.chat_wire import Keys, PassiveReply, ReplyError, SignedPush
from sandbox.oa_store import SandboxUser
from sandbox.qr_svg import qr_svg

blp = Blueprint("sandbox_chat", __name__, url_prefix="/sandbox/chat")

# Shown when the app has not pushed a menu (``chatshop wechat menu push``) yet.
DEFAULT_MENU: dict[str, Any] = {
    "button": [
        {"type": "click", "name": "逛逛", "key": "MENU_CATEGORIES", "sub_button": []},
        {"type": "click", "name": "购物车", "key": "MENU_CART", "sub_button": []},
        {
            "name": "我的",
            "sub_button": [
                {"type": "click", "name": "我的订单", "key": "MENU_ORDERS"},
                {"type": "click", "name": "分销中心", "key": "MENU_DISTRIBUTOR"},
            ],
        },
    ]
}
UNAVAILABLE = "该公众号暂时无法提供服务，请稍后再试"  # what WeChat shows when the server fails
TEXT_MAX = 2000
KINDS = ("text", "click", "view", "subscribe", "scan", "unsubscribe", "location", "image",
         "retry")


class ChatError(ValueError):
    """The chat page asked for something WeChat would not let the user do."""

    def __init__(self, message: str, status: int = 400) -> None:
        """Keep a message safe to show and an HTTP status."""
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class Exchange:
    """One push to the app and what came of it."""

    push: SignedPush | None
    reply: PassiveReply | None = None
    error: str = ""
    entries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def reply_message(self) -> dict[str, Any] | None:
        """The passive reply as shown on the page (None for "success" or a failure)."""
        return self.reply.message if self.reply is not None else None


# --- the wire -------------------------------------------------------------------------


def keys() -> Keys:
    """The account's shared secrets, as WeChat holds them."""
    acc = oa.account()
    return Keys(acc.appid, acc.token, acc.encoding_aes_key, acc.original_id)


def webhook_url() -> str:
    """Where WeChat pushes: SANDBOX_CHAT_WEBHOOK_URL, else PUBLIC_BASE_URL + "/wechat"."""
    configured = current_app.config.get("SANDBOX_CHAT_WEBHOOK_URL")
    return str(configured or oa.account().public_base_url + "/wechat")


def _timeout() -> float:
    # WeChat gives the server 5 s before it gives up on an answer.
    return float(current_app.config.get("SANDBOX_CHAT_TIMEOUT_SECONDS", 5))


def _nonce() -> str:
    return str(secrets.randbelow(9 * 10**9) + 10**9)


def post_push(push: SignedPush) -> Exchange:
    """POST a signed push to the app, read the reply, and log it in the user's chat."""
    exchange = Exchange(push=push)
    try:
        response = requests.post(
            webhook_url(),
            params=push.query,
            data=push.body,
            headers={"Content-Type": "text/xml; charset=utf-8", "User-Agent": "Mozilla/4.0"},
            timeout=_timeout(),
            allow_redirects=False,
        )
        exchange.reply = chat_wire.read_reply(keys(), push, response.status_code,
                                              response.content)
    except requests.Timeout:
        exchange.error = f"no answer within {_timeout():g} s"
    except requests.RequestException as exc:
        exchange.error = f"cannot reach {webhook_url()}: {type(exc).__name__}"
    except ReplyError as exc:
        exchange.error = str(exc)
    if exchange.error:
        text = f"{UNAVAILABLE} ({exchange.error})"
        exchange.entries.append(oa.log_entry(
            push.openid, "note", "system", {"type": "notice", "level": "error", "text": text}
        ))
    elif exchange.reply is not None and exchange.reply.message is not None:
        exchange.entries.append(oa.log_entry(
            push.openid, "out", "passive", exchange.reply.message,
            encrypted=exchange.reply.encrypted,
        ))
    return exchange


def _push(user: SandboxUser, msg_type: str, extra: list[tuple[str, Any]], mode: str) -> Exchange:
    create_time = oa.store().next_create_time(user.openid, int(time.time()))
    plain = chat_wire.inbound_xml(keys(), user.openid, create_time, msg_type, extra)
    push = chat_wire.sign_push(keys(), user.openid, plain, mode,
                               timestamp=str(int(time.time())), nonce=_nonce())
    oa.store().remember_push(user.openid, push.to_dict())
    return post_push(push)


def _msg_id() -> int:
    return oa.store().next_msg_id()


# --- what a user does -----------------------------------------------------------------


def _user(openid: str) -> SandboxUser:
    user = oa.sandbox_user(openid)
    if user is None:
        raise ChatError("unknown sandbox user", 404)
    return user


def _mode(user: SandboxUser, mode: str | None) -> str:
    chosen = mode or user.mode or chat_wire.PLAIN
    if chosen not in chat_wire.MODES:
        raise ChatError("mode must be plain, compat or aes")
    if chosen != chat_wire.PLAIN and not oa.account().encoding_aes_key:
        raise ChatError("safe mode needs WECHAT_ENCODING_AES_KEY to be set")
    if chosen != user.mode:
        user.mode = chosen
        oa.store().put_user(user)
    return chosen


def _must_follow(user: SandboxUser) -> None:
    if not user.subscribed:
        raise ChatError("关注公众号后才能发消息 · follow the account first", 409)


def _said(user: SandboxUser, msg: dict[str, Any]) -> dict[str, Any]:
    return oa.log_entry(user.openid, "in", "user", msg)


def _event(user: SandboxUser, label: str) -> dict[str, Any]:
    return _said(user, {"type": "event", "label": label})


# The scene of the app's referral QR codes: "dist_" and the distributor's user id.
DISTRIBUTOR_SCENE = re.compile(r"dist_([0-9]{1,18})")


def _distributor_scene(user_id: int) -> str:
    return f"dist_{int(user_id)}"


def _scene_ticket(scene: str) -> str:
    """The ticket of the app's QR code for ``scene`` (permanent first), or the one it would get."""
    acc = oa.account()
    ctx = oa.context()
    for action in ("QR_LIMIT_STR_SCENE", "QR_STR_SCENE"):
        ticket = oa_api.qr_ticket(acc.appid, action, scene)
        if oa_api.live_qr(ctx, ticket) is not None:
            return ticket
    return oa_api.qr_ticket(acc.appid, "QR_LIMIT_STR_SCENE", scene)


def _resolve_scan(ticket: str | None, scene: str | None, distributor: Any) -> tuple[str, str]:
    if ticket:
        code = oa_api.live_qr(oa.context(), ticket)
        if code is None:
            raise ChatError("unknown or expired QR code")
        return code.scene, code.ticket
    if distributor not in (None, ""):
        try:
            scene = _distributor_scene(int(distributor))
        except (TypeError, ValueError) as exc:
            raise ChatError("distributor must be a user id") from exc
    if not scene or len(scene) > 64:
        raise ChatError("scene must have 1-64 characters")
    return scene, _scene_ticket(scene)


def send(openid: str, kind: str, *, mode: str | None = None, **data: Any) -> Exchange:
    """Do what a WeChat user does (one of KINDS) and push it; ChatError if WeChat would not."""
    user = _user(openid)
    if kind == "retry":
        return _retry(user)
    chosen_mode = _mode(user, mode)
    if kind == "text":
        _must_follow(user)
        content = chat_wire.xml_safe(str(data.get("content") or ""))
        if not content.strip():
            raise ChatError("empty message")
        if len(content) > TEXT_MAX:
            raise ChatError(f"messages are at most {TEXT_MAX} characters")
        oa.note_user_message(user.openid)
        entry = _said(user, {"type": "text", "content": content})
        extra = [("Content", content), ("MsgId", _msg_id())]
        exchange = _push(user, "text", extra, chosen_mode)
    elif kind == "click":
        _must_follow(user)
        key = str(data.get("key") or "")
        if not key or len(key.encode()) > 128:
            raise ChatError("menu key must have 1-128 bytes")
        oa.note_event(user.openid)
        entry = _event(user, f"点击菜单 {data.get('name') or key} ({key})")
        exchange = _push(user, "event", [("Event", "CLICK"), ("EventKey", key)], chosen_mode)
    elif kind == "view":
        _must_follow(user)
        url = str(data.get("url") or "")
        if not oa_api.is_http_url(url):
            raise ChatError("menu link must be an http(s) URL")
        entry = _event(user, f"打开菜单链接 {url}")
        exchange = _push(user, "event", [("Event", "VIEW"), ("EventKey", url)], chosen_mode)
    elif kind == "subscribe":
        if user.subscribed:
            raise ChatError("already following", 409)
        user = oa.set_subscribed(user.openid, True)
        oa.note_event(user.openid)
        entry = _event(user, "关注了公众号 · followed")
        exchange = _push(user, "event", [("Event", "subscribe"), ("EventKey", "")], chosen_mode)
    elif kind == "scan":
        scene, ticket = _resolve_scan(data.get("ticket"), data.get("scene"),
                                      data.get("distributor"))
        oa.note_event(user.openid)
        if user.subscribed:
            entry = _event(user, f"扫描二维码 · scanned {scene}")
            extra = [("Event", "SCAN"), ("EventKey", scene), ("Ticket", ticket)]
        else:
            user = oa.set_subscribed(user.openid, True, scene=scene)
            entry = _event(user, f"扫码关注 · followed via QR {scene}")
            extra = [("Event", "subscribe"), ("EventKey", "qrscene_" + scene), ("Ticket", ticket)]
        exchange = _push(user, "event", extra, chosen_mode)
    elif kind == "unsubscribe":
        if not user.subscribed:
            raise ChatError("not following", 409)
        user = oa.set_subscribed(user.openid, False)
        entry = _event(user, "取消关注 · unfollowed")
        exchange = _push(user, "event", [("Event", "unsubscribe"), ("EventKey", "")],
                         chosen_mode)
    elif kind == "location":
        _must_follow(user)
        try:
            lat, lng = float(data.get("lat", 31.2304)), float(data.get("lng", 121.4737))
        except (TypeError, ValueError) as exc:
            raise ChatError("lat and lng must be numbers") from exc
        label = chat_wire.xml_safe(str(data.get("label") or "上海市黄浦区人民广场"))[:100]
        oa.note_user_message(user.openid)
        entry = _said(user, {"type": "text", "content": f"[位置] {label}"})
        extra = [("Location_X", round(lat, 6)), ("Location_Y", round(lng, 6)), ("Scale", 15),
                 ("Label", label), ("MsgId", _msg_id())]
        exchange = _push(user, "location", extra, chosen_mode)
    elif kind == "image":
        _must_follow(user)
        oa.note_user_message(user.openid)
        entry = _said(user, {"type": "media", "label": "[图片]"})
        pic = oa.account().public_base_url + "/sandbox/chat/sample.svg"
        extra = [("PicUrl", pic), ("MediaId", "sandbox-media-" + _nonce()), ("MsgId", _msg_id())]
        exchange = _push(user, "image", extra, chosen_mode)
    else:
        raise ChatError(f"kind must be one of {', '.join(KINDS)}")
    exchange.entries.insert(0, entry)
    return exchange


def _retry(user: SandboxUser) -> Exchange:
    """Send the last push again, unchanged, as WeChat does when an answer is late."""
    last = oa.store().last_push(user.openid)
    if last is None:
        raise ChatError("nothing to retry yet")
    note = oa.log_entry(user.openid, "note", "system", {
        "type": "notice", "level": "info", "text": "微信重试 · WeChat retried the last push",
    })
    exchange = post_push(SignedPush.from_dict(last))
    exchange.entries.insert(0, note)
    return exchange


def push_template_finished(openid: str, msgid: int) -> Exchange | None:
    """WeChat's TEMPLATESENDJOBFINISH event for a delivered template message."""
    user = oa.sandbox_user(openid)
    if user is None:
        return None
    mode = user.mode if user.mode in chat_wire.MODES else chat_wire.PLAIN
    if mode != chat_wire.PLAIN and not oa.account().encoding_aes_key:
        mode = chat_wire.PLAIN
    extra = [("Event", "TEMPLATESENDJOBFINISH"), ("MsgID", msgid), ("Status", "success")]
    return _push(user, "event", extra, mode)


def user_says(openid: str, content: str, mode: str | None = None) -> Exchange:
    """The user types ``content``."""
    return send(openid, "text", mode=mode, content=content)


def user_clicks(openid: str, key: str, mode: str | None = None) -> Exchange:
    """The user clicks a CLICK menu button."""
    return send(openid, "click", mode=mode, key=key)


def user_follows(openid: str, mode: str | None = None) -> Exchange:
    """The user follows the account without a QR code."""
    return send(openid, "subscribe", mode=mode)


def user_scans(
    openid: str,
    *,
    scene: str | None = None,
    ticket: str | None = None,
    distributor: int | None = None,
    mode: str | None = None,
) -> Exchange:
    """The user scans a QR code: subscribe with ``qrscene_`` for a new follower, else SCAN."""
    return send(openid, "scan", mode=mode, scene=scene, ticket=ticket, distributor=distributor)


def user_unfollows(openid: str, mode: str | None = None) -> Exchange:
    """The user unfollows."""
    return send(openid, "unsubscribe", mode=mode)


# --- what the page shows --------------------------------------------------------------


def distributors(limit: int = 100) -> list[dict[str, Any]]:
    """Distributors whose referral QR code the app made, with the scene that refers to them.

    WeChat knows the codes, not the shop's users: a distributor shows here once the app
    created their QR code (any other scene can still be scanned by name).
    """
    ctx = oa.context()
    found: dict[str, dict[str, Any]] = {}
    for code in oa.qr_codes(limit):
        match = DISTRIBUTOR_SCENE.fullmatch(code.scene)
        if match and oa_api.live_qr(ctx, code.ticket) is not None:
            found.setdefault(code.scene, {"id": int(match.group(1)),
                                          "nickname": f"#{match.group(1)}",
                                          "scene": code.scene})
    return list(found.values())


def _user_json(user: SandboxUser) -> dict[str, Any]:
    return {"openid": user.openid, "nickname": user.nickname, "subscribed": user.subscribed,
            "mode": user.mode}


def _users_json() -> list[dict[str, Any]]:
    # Only the users WeChat (the sandbox) knows: it has no view of the shop's database.
    return [{**_user_json(user), "source": "sandbox"} for user in oa.sandbox_users(100)]


def _json_body() -> dict[str, Any]:
    # JSON only: a cross-site form cannot post it without a CORS preflight.
    if not request.is_json:
        raise ChatError("send application/json", 415)
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ChatError("body must be a JSON object")
    return data


def _selected(user: SandboxUser, response: Response) -> Response:
    response.set_cookie(oa.CHAT_USER_COOKIE, user.openid, httponly=True, samesite="Lax")
    return response


@blp.errorhandler(ChatError)
def _chat_error(exc: ChatError) -> tuple[Response, int]:
    return jsonify({"error": exc.message}), exc.status


# The page has no inline script or style; pictures in articles may come from anywhere.
PAGE_CSP = (
    "default-src 'self'; img-src * data:; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


@blp.get("")
def page() -> Response:
    """The chat page."""
    acc = oa.account()
    response = Response(render_template(
        "sandbox/chat.html",
        account_name=acc.name,
        aes_available=bool(acc.encoding_aes_key),
        webhook_url=webhook_url(),
    ), mimetype="text/html")
    response.headers["Content-Security-Policy"] = PAGE_CSP
    return response


@blp.get("/sample.svg")
def sample_image() -> Response:
    """The picture the chat page "sends" as an image message."""
    return Response(qr_svg("sample-image"), mimetype="image/svg+xml")


@blp.get("/media/<media_id>")
def media(media_id: str) -> Response:
    """A file the app sent in an image message, as the user's WeChat shows it (no token)."""
    found = oa.uploaded_media(media_id)
    if found is None:
        return Response("unknown or expired media", status=404, mimetype="text/plain")
    return oa.media_response(*found)


@blp.get("/api/state")
def state() -> Response:
    """Users, menu, distributors and QR codes the page offers, and the selected user."""
    openid = request.args.get("openid") or request.cookies.get(oa.CHAT_USER_COOKIE) or ""
    user = oa.sandbox_user(openid) if openid else None
    menu = oa.current_menu()
    referrers = distributors()
    # A distributor's code is offered once, under the distributor's label.
    listed = {d["scene"] for d in referrers}
    response = jsonify({
        "account": {"name": oa.account().name, "original_id": oa.account().original_id},
        "aes_available": bool(oa.account().encoding_aes_key),
        "users": _users_json(),
        "user": _user_json(user) if user else None,
        "menu": menu or DEFAULT_MENU,
        "menu_source": "app" if menu else "default",
        "distributors": referrers,
        "qr_codes": [
            {"ticket": c.ticket, "scene": c.scene, "permanent": c.permanent,
             "image": oa.qr_image_url(c.ticket)}
            for c in oa.qr_codes(50)
            if c.scene not in listed and oa_api.live_qr(oa.context(), c.ticket) is not None
        ],
    })
    # The shown user is the one OAuth signs in as when a link opens in this browser.
    return _selected(user, response) if user else response


@blp.post("/api/users")
def create_user() -> Response:
    """A new consumer (not following yet); becomes the page's current user."""
    data = _json_body()
    nickname = str(data.get("nickname") or "").strip()
    if len(nickname) > 32:
        raise ChatError("nickname is at most 32 characters")
    user = oa.create_consumer(nickname or "微信用户")
    return _selected(user, jsonify({"user": _user_json(user)}))


@blp.post("/api/select")
def select_user() -> Response:
    """Make a user the current one (the one OAuth logs in as)."""
    data = _json_body()
    user = oa.sandbox_user(str(data.get("openid") or ""))
    if user is None:
        raise ChatError("unknown user", 404)
    return _selected(user, jsonify({"user": _user_json(user)}))


@blp.post("/api/send")
def send_view() -> Response:
    """Push what the user did to the app; answer with the new transcript entries."""
    data = _json_body()
    openid = str(data.pop("openid", "") or "")
    kind = str(data.pop("kind", "") or "")
    mode = data.pop("mode", None)
    exchange = send(openid, kind, mode=str(mode) if mode else None, **data)
    return jsonify({"entries": exchange.entries, "error": exchange.error})


@blp.get("/api/messages")
def messages() -> Response:
    """Transcript entries after ``after`` (the page polls this), the user and the quota."""
    openid = request.args.get("openid") or ""
    user = _user(openid)
    try:
        after = int(request.args.get("after") or 0)
    except ValueError as exc:
        raise ChatError("after must be an integer") from exc
    return jsonify({
        "entries": oa.transcript(openid, after),
        "user": _user_json(user),
        "quota": oa.quota_left(openid),
    })


def register(app: Flask) -> None:
    """Serve the chat page on this app."""
    app.register_blueprint(blp)
