"""The official-account sandbox over HTTP, under /sandbox/wechat/.

``WeChatClient.API_BASE_URL = PUBLIC_BASE_URL + "/sandbox/wechat/cgi-bin/"`` reaches the
cgi-bin routes unchanged; ``WeChatOAuth.API_BASE_URL`` and ``OAUTH_BASE_URL`` map to
``/sandbox/wechat/`` and ``/sandbox/wechat/connect/``. The module-level functions are
what the chat page, the pay sandbox and tests call; they need an app context.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Flask, Response, current_app, redirect, render_template, request
from werkzeug.exceptions import RequestEntityTooLarge

from sandbox import clock, oa_api
from sandbox.connection import get_redis
from sandbox.oa_api import Account, ApiError, Ctx, Limits
from sandbox.oa_store import Media, OaStore, QrCode, SandboxUser, new_openid
from sandbox.qr_png import qr_png

blp = Blueprint("sandbox_wechat", __name__, url_prefix="/sandbox/wechat")

CHAT_USER_COOKIE = "sandbox_chat_openid"
CS_VIAS = ("custom", "template")
# app.extensions key of what pushes TEMPLATESENDJOBFINISH (the chat side, set at register).
TEMPLATE_FINISHED_KEY = "sandbox.template_finished"

TemplateFinished = Callable[[str, int], object]


def account() -> Account:
    """The official account the sandbox plays: the app's own credentials."""
    return Account.from_config(current_app.config)


def store() -> OaStore:
    """The sandbox's Redis store."""
    return OaStore(get_redis())


def context() -> Ctx:
    """Everything an API rule needs, at the current sandbox time."""
    return Ctx(
        account=account(),
        store=store(),
        now=clock.now(get_redis()).timestamp(),
        limits=Limits.from_config(current_app.config),
    )


# --- what other code calls ------------------------------------------------------------


def create_consumer(nickname: str = "", openid: str | None = None) -> SandboxUser:
    """A new WeChat user known to the sandbox (not following yet)."""
    user = SandboxUser(openid=openid or new_openid(), nickname=nickname.strip()[:32])
    store().put_user(user)
    return user


def sandbox_user(openid: str) -> SandboxUser | None:
    """The sandbox's record of a WeChat user, or None."""
    return store().get_user(openid)


def sandbox_users(limit: int = 200) -> list[SandboxUser]:
    """Users the sandbox knows, newest first."""
    return store().list_users(limit)


def set_subscribed(openid: str, subscribed: bool, *, scene: str = "") -> SandboxUser:
    """Record a follow (with the QR scene it came through, if any) or an unfollow."""
    s = store()
    user = s.ensure_user(openid)
    if subscribed and not user.subscribed:
        user.subscribe_time = int(context().now)
        user.subscribe_scene = "ADD_SCENE_QR_CODE" if scene else "ADD_SCENE_SEARCH"
        user.qr_scene_str = scene
    user.subscribed = subscribed
    s.put_user(user)
    return user


def note_user_message(openid: str) -> None:
    """The user sent a message: the app may send 5 customer-service messages within 48 h."""
    store().ensure_user(openid)
    store().touch_quota(openid, message_at=context().now, message_used=0)


def note_event(openid: str) -> None:
    """A menu click, follow or scan: the app may send 3 customer-service messages within 1 min."""
    store().ensure_user(openid)
    store().touch_quota(openid, event_at=context().now, event_used=0)


def note_payment(openid: str) -> None:
    """The user paid: customer-service messages are unlimited for 48 h."""
    if oa_api.valid_openid(openid):
        store().ensure_user(openid)
        store().touch_quota(openid, paid_at=context().now)


def quota_left(openid: str) -> dict[str, Any]:
    """How many customer-service messages the app may still send this user right now."""
    ctx = context()
    return oa_api.quota_summary(ctx.store.get_quota(openid), ctx.now)


def transcript(openid: str, after: int = 0) -> list[dict[str, Any]]:
    """Everything in the user's chat (messages, replies, notices) with seq > after."""
    return store().read_log(openid, after)


def sent_messages(openid: str, vias: Iterable[str] = CS_VIAS) -> list[dict[str, Any]]:
    """Customer-service (and template) messages the app sent this user, oldest first."""
    # Entries look like {"seq", "at", "openid", "dir": "out", "via": "custom"|"template",
    # "msg": {"type": "text", "content": ...} | {"type": "news", "articles": [...]} | ...}.
    wanted = set(vias)
    return [e for e in transcript(openid) if e.get("dir") == "out" and e.get("via") in wanted]


def log_entry(openid: str, direction: str, via: str, msg: dict[str, Any], **extra: Any) -> dict:
    """Append to the user's chat transcript; return the stored entry."""
    return store().append_log(openid, {"dir": direction, "via": via, "msg": msg, **extra})


def tokens_issued() -> int:
    """How many access tokens the sandbox handed out (one per refresh the app made)."""
    return store().tokens_issued()


def current_menu() -> dict[str, Any] | None:
    """The custom menu the app created, or None."""
    return store().get_menu()


def qr_codes(limit: int = 100) -> list[QrCode]:
    """QR codes the app created, newest first."""
    return store().list_qr(limit)


def uploaded_media(media_id: str) -> tuple[Media, bytes] | None:
    """A temporary media file the app uploaded, with its bytes, while it is valid; else None."""
    ctx = context()
    media = oa_api.live_media(ctx, media_id)
    data = ctx.store.media_data(media_id) if media is not None else None
    if media is None or data is None:
        return None
    return media, data


def qr_image_url(ticket: str) -> str:
    """Where the image of a QR code is (the sandbox's showqrcode)."""
    base = account().public_base_url
    return f"{base}/sandbox/wechat/cgi-bin/showqrcode?ticket={quote(ticket, safe='')}"


# --- HTTP plumbing --------------------------------------------------------------------


def _json(data: dict[str, Any]) -> Response:
    return Response(json.dumps(data, ensure_ascii=False), mimetype="application/json")


def _answer(handler: Callable[[Ctx], dict[str, Any]], *, post_only: bool = False) -> Response:
    if post_only and request.method != "POST":
        return _json(ApiError(43002, "require POST method").to_dict())
    try:
        return _json(handler(context()))
    except ApiError as exc:
        return _json(exc.to_dict())
    except RequestEntityTooLarge:
        return _json(ApiError(47001, "data format error (body too large)").to_dict())
    except Exception:  # noqa: BLE001 - WeChat answers errcode -1, never an HTML 500
        current_app.logger.exception("sandbox wechat %s failed", request.path)
        return _json({"errcode": -1, "errmsg": "system error"})


def _authenticated(handler: Callable[[Ctx], dict[str, Any]]) -> Callable[[Ctx], dict[str, Any]]:
    def run(ctx: Ctx) -> dict[str, Any]:
        oa_api.authenticate(ctx, request.args.get("access_token"))
        return handler(ctx)

    return run


def _body() -> bytes:
    return request.get_data(cache=False)


def _refused(openid: object, via: str, exc: ApiError) -> None:
    # Show refused sends in the chat too: that is where a developer looks for the message.
    if oa_api.valid_openid(openid) and store().get_user(str(openid)) is not None:
        text = f"app's {via} message refused: {exc.errcode} {exc.errmsg}"
        log_entry(str(openid), "note", via, {"type": "notice", "level": "error", "text": text},
                  errcode=exc.errcode)


def _touser() -> object:
    try:
        data = json.loads(request.get_data(cache=True) or b"{}")
    except ValueError:
        return None
    return data.get("touser") if isinstance(data, dict) else None


@blp.route("/cgi-bin/token", methods=["GET", "POST"])
def token() -> Response:
    """Access token for appid + secret."""
    return _answer(lambda ctx: oa_api.issue_token(ctx, request.args))


@blp.route("/cgi-bin/message/custom/send", methods=["GET", "POST"])
def custom_send() -> Response:
    """Customer-service message: checked against the quota, recorded in the user's chat."""

    def run(ctx: Ctx) -> dict[str, Any]:
        try:
            answer, user, display = oa_api.custom_send(ctx, request.get_data(cache=True))
        except ApiError as exc:
            _refused(_touser(), "custom", exc)
            raise
        log_entry(user.openid, "out", "custom", display)
        return answer

    return _answer(_authenticated(run), post_only=True)


@blp.route("/cgi-bin/message/template/send", methods=["GET", "POST"])
def template_send() -> Response:
    """Template message: recorded, then WeChat's TEMPLATESENDJOBFINISH event follows."""
    sent: list[tuple[str, int]] = []

    def run(ctx: Ctx) -> dict[str, Any]:
        try:
            answer, user, display = oa_api.template_send(ctx, request.get_data(cache=True))
        except ApiError as exc:
            _refused(_touser(), "template", exc)
            raise
        log_entry(user.openid, "out", "template", display)
        sent.append((user.openid, int(answer["msgid"])))
        return answer

    response = _answer(_authenticated(run), post_only=True)
    push: TemplateFinished | None = current_app.extensions.get(TEMPLATE_FINISHED_KEY)
    if sent and push is not None and current_app.config.get("SANDBOX_TEMPLATE_JOB_EVENTS", True):
        openid, msgid = sent[0]
        _after_response(response, lambda: push(openid, msgid))
    return response


def _after_response(response: Response, work: Callable[[], object]) -> None:
    """Run ``work`` in a thread once the response has gone out, inside this app."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    sent = threading.Event()
    response.call_on_close(sent.set)

    def run() -> None:
        sent.wait(2.0)
        with app.app_context():
            try:
                work()
            except Exception:  # noqa: BLE001 - a background sender must not die loudly
                app.logger.exception("sandbox background push failed")

    threading.Thread(target=run, name="sandbox-oa-push", daemon=True).start()


@blp.route("/cgi-bin/menu/create", methods=["GET", "POST"])
def menu_create() -> Response:
    """Create (replace) the custom menu."""
    return _answer(_authenticated(lambda ctx: oa_api.menu_create(ctx, _body())), post_only=True)


@blp.get("/cgi-bin/menu/get")
def menu_get() -> Response:
    """The custom menu."""
    return _answer(_authenticated(oa_api.menu_get))


@blp.get("/cgi-bin/menu/delete")
def menu_delete() -> Response:
    """Delete the custom menu."""
    return _answer(_authenticated(oa_api.menu_delete))


@blp.route("/cgi-bin/qrcode/create", methods=["GET", "POST"])
def qrcode_create() -> Response:
    """A parametric QR code ticket."""
    return _answer(_authenticated(lambda ctx: oa_api.qrcode_create(ctx, _body())), post_only=True)


@blp.get("/cgi-bin/showqrcode")
def showqrcode() -> Response:
    """The image of a QR code: a scannable PNG of its ``url``; 404 for unknown or expired.

    Like WeChat's (on mp.weixin.qq.com), it needs no access token: the ticket is the secret.
    """
    code = oa_api.live_qr(context(), request.args.get("ticket") or "")
    if code is None:
        return Response("unknown or expired ticket", status=404, mimetype="text/plain")
    response = Response(qr_png(code.url), mimetype="image/png")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _media_upload(ctx: Ctx) -> dict[str, Any]:
    rule = oa_api.check_media_type(request.args.get("type"))
    # The app allows 1 MB bodies; WeChat takes files up to 10 MB, so this request may
    # carry that plus the multipart envelope. Anything larger cannot be a valid file.
    request.max_content_length = oa_api.LARGEST_MEDIA + 64 * 1024
    try:
        upload = request.files.get("media")
    except RequestEntityTooLarge:
        raise ApiError(rule.size_errcode, rule.size_errmsg) from None
    if upload is None:
        return oa_api.media_upload(ctx, request.args.get("type"), None, None)
    try:
        data = upload.read(rule.max_bytes + 1)
    finally:
        # Large parts are spooled to a temporary file: close it now, not at GC time.
        upload.close()
    return oa_api.media_upload(ctx, request.args.get("type"), upload.filename, data)


@blp.route("/cgi-bin/media/upload", methods=["GET", "POST"])
def media_upload() -> Response:
    """Upload a temporary media file (multipart field ``media``): kept 3 days in Redis."""
    return _answer(_authenticated(_media_upload), post_only=True)


@blp.get("/cgi-bin/media/get")
def media_get() -> Response:
    """Download a temporary media file (the bytes; a JSON error when the id is not valid)."""
    try:
        oa_api.authenticate(context(), request.args.get("access_token"))
    except ApiError as exc:
        return _json(exc.to_dict())
    found = uploaded_media(request.args.get("media_id") or "")
    if found is None:
        return _json(ApiError(40007, "invalid media_id").to_dict())
    return media_response(*found)


def media_response(media: Media, data: bytes) -> Response:
    """An uploaded file as WeChat serves it: its own type, never sniffed, never run."""
    response = Response(data, mimetype=media.content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    response.headers["Cache-Control"] = "private, max-age=3600"
    if not media.content_type.startswith("image/"):
        response.headers["Content-Disposition"] = "attachment"
    return response


@blp.get("/cgi-bin/user/info")
def user_info() -> Response:
    """Follow state of one user."""
    return _answer(_authenticated(lambda ctx: oa_api.user_info(ctx, request.args)))


@blp.route("/cgi-bin/<path:rest>", methods=["GET", "POST"])
def unsupported(rest: str) -> Response:
    """Any other API: a clear WeChat-style error instead of an HTML 404."""
    return _json({"errcode": 48001, "errmsg": f"api unauthorized: cgi-bin/{rest} is not "
                  "in the WeChat sandbox"})


@blp.get("/sns/oauth2/access_token")
def oauth_access_token() -> Response:
    """Trade an OAuth code for the user's openid."""
    return _answer(lambda ctx: oa_api.oauth_access_token(ctx, request.args))


@blp.get("/sns/userinfo")
def sns_userinfo() -> Response:
    """The user's profile for snsapi_userinfo tokens."""
    return _answer(lambda ctx: oa_api.sns_userinfo(ctx, request.args))


# --- the browser side of OAuth ----------------------------------------------------------


def _authorize_page(error: str = "", status: int = 200, can_pick: bool = True) -> tuple[str, int]:
    return render_template(
        "sandbox/chat_authorize.html",
        account_name=account().name,
        users=sandbox_users(50) if can_pick else [],
        error=error,
        scope=request.args.get("scope", ""),
        can_pick=can_pick,
    ), status


@blp.route("/connect/oauth2/authorize", methods=["GET", "POST"])
def authorize() -> Any:
    """WeChat's authorization page: the current chat user (or the one picked) goes back."""
    ctx = context()
    try:
        checked = oa_api.check_authorize(ctx, request.args)
    except ApiError as exc:
        return _authorize_page(f"{exc.errcode}: {exc.errmsg}", 400, can_pick=False)
    openid = ""
    if request.method == "POST":
        chosen = request.form.get("openid") or ""
        nickname = (request.form.get("nickname") or "").strip()
        if chosen and ctx.store.get_user(chosen) is not None:
            openid = chosen
        elif nickname:
            openid = create_consumer(nickname).openid
        else:
            return _authorize_page("请选择或新建一个用户 · pick or create a user", 400)
    else:
        remembered = request.cookies.get(CHAT_USER_COOKIE) or ""
        if remembered and ctx.store.get_user(remembered) is not None:
            openid = remembered
    if not openid:
        return _authorize_page()
    response = redirect(oa_api.grant_code(ctx, checked, openid), code=302)
    response.set_cookie(CHAT_USER_COOKIE, openid, httponly=True, samesite="Lax")
    return response


def register(app: Flask, on_template_finished: TemplateFinished | None = None) -> None:
    """Serve the official-account sandbox on this app.

    ``on_template_finished(openid, msgid)`` pushes WeChat's TEMPLATESENDJOBFINISH event
    to the app (the chat side does it; passed in so this module does not import it).
    """
    if on_template_finished is not None:
        app.extensions[TEMPLATE_FINISHED_KEY] = on_template_finished
    app.register_blueprint(blp)
