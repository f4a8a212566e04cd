"""The official-account API as the sandbox answers it (no Flask here).

Each endpoint takes the query arguments and/or the raw JSON body and returns the
answer as a dict, or raises ApiError, which becomes WeChat's
``{"errcode": ..., "errmsg": ...}`` (always HTTP 200, like WeChat).

Choices where WeChat's documentation is vague (or we simplified):
- a replaced access token keeps working for ``token_overlap`` seconds (WeChat: 5 min),
  then answers 40001; a token past its 7200 s answers 42001;
- customer-service quota: a user message opens 48 h for 5 messages (each new user
  message starts a fresh count), a menu click, follow or scan opens 1 min for 3, a
  payment opens 48 h without limit; no open window → 45015, windows used up → 45047;
- a customer-service news message carries exactly one article (more → 45008);
- the same QR scene always gets the same ticket; asking again for a temporary code
  extends its life; beyond the permanent-code cap → 45029;
- QR ``url`` (what the code encodes) is the sandbox chat page scanning that ticket;
- unknown openids (never met by the sandbox) answer 40003;
- temporary media: the size limits of the media/upload page (image 10 MB — a newer
  page says 2 MB; we follow the brief and the longer-standing 10 MB —, voice 2 MB,
  video 10 MB, thumb 64 KB), the file name's extension must be one WeChat lists
  for the type (40005), an image's bytes must be PNG, JPEG or GIF (40005), and a
  media_id lives 3 days (then 40007).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from sandbox.oa_store import Media, OaStore, QrCode, Quota, SandboxUser

TOKEN_LIFETIME = 7200
MESSAGE_WINDOW = 48 * 3600
MESSAGE_LIMIT = 5
EVENT_WINDOW = 60
EVENT_LIMIT = 3
PAYMENT_WINDOW = 48 * 3600
QR_MAX_EXPIRE = 2_592_000
QR_DEFAULT_EXPIRE = 60
QR_PERMANENT_LIMIT = 100_000
QR_TEMPORARY_ID_MAX = 2**32 - 1
TEXT_MAX_CHARS = 2048
OPENID_MAX = 64

CS_TYPES = (
    "text", "image", "voice", "video", "music", "news", "mpnews", "mpnewsarticle",
    "msgmenu", "wxcard", "miniprogrampage", "link",
)
BUTTON_TYPES = (
    "click", "view", "scancode_push", "scancode_waitmsg", "pic_sysphoto",
    "pic_photo_or_album", "pic_weixin", "location_select", "media_id", "view_limited",
    "article_id", "article_view_limited", "miniprogram",
)
KEYED_BUTTON_TYPES = (
    "click", "scancode_push", "scancode_waitmsg", "pic_sysphoto", "pic_photo_or_album",
    "pic_weixin", "location_select",
)
QR_ACTIONS = ("QR_SCENE", "QR_STR_SCENE", "QR_LIMIT_SCENE", "QR_LIMIT_STR_SCENE")
OAUTH_SCOPES = ("snsapi_base", "snsapi_userinfo")

MEDIA_LIFETIME = 3 * 24 * 3600  # WeChat keeps temporary media for 3 days
MB = 1024 * 1024


@dataclass(frozen=True)
class MediaRule:
    """What media/upload accepts for one media type."""

    max_bytes: int
    extensions: frozenset[str]
    size_errcode: int
    size_errmsg: str


MEDIA_RULES: dict[str, MediaRule] = {
    "image": MediaRule(10 * MB, frozenset({"png", "jpeg", "jpg", "gif"}), 40009,
                       "invalid image size"),
    "voice": MediaRule(2 * MB, frozenset({"amr", "mp3"}), 40010, "invalid voice size"),
    "video": MediaRule(10 * MB, frozenset({"mp4"}), 40011, "invalid video size"),
    "thumb": MediaRule(64 * 1024, frozenset({"jpg", "jpeg"}), 40012, "invalid thumb size"),
}
LARGEST_MEDIA = max(rule.max_bytes for rule in MEDIA_RULES.values())

_MEDIA_LABELS = {
    "image": "[图片]", "voice": "[语音]", "video": "[视频]", "music": "[音乐]",
    "mpnews": "[图文素材]", "mpnewsarticle": "[已发布图文]", "wxcard": "[卡券]",
    "miniprogrampage": "[小程序]",
}


class ApiError(Exception):
    """A refusal WeChat answers as ``{"errcode": ..., "errmsg": ...}``."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        """Keep WeChat's code and message."""
        super().__init__(f"{errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg

    def to_dict(self) -> dict[str, Any]:
        """The JSON body WeChat answers."""
        return {"errcode": self.errcode, "errmsg": self.errmsg}


def invalid_credential() -> ApiError:
    """40001, what WeChat answers for an unknown or replaced access token."""
    return ApiError(40001, "invalid credential, access_token is invalid or not latest")


@dataclass(frozen=True)
class Account:
    """The one official account the sandbox knows: the app's own credentials."""

    appid: str
    secret: str
    token: str
    encoding_aes_key: str
    original_id: str
    name: str
    public_base_url: str

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Account:
        """Read the account from a Flask config."""
        appid = str(config["WECHAT_APP_ID"])
        original = config.get("SANDBOX_OA_ORIGINAL_ID") or (
            "gh_" + hashlib.sha1(appid.encode()).hexdigest()[:12]
        )
        return cls(
            appid=appid,
            secret=str(config["WECHAT_APP_SECRET"]),
            token=str(config["WECHAT_TOKEN"]),
            encoding_aes_key=str(config.get("WECHAT_ENCODING_AES_KEY") or ""),
            original_id=str(original),
            name=str(config.get("SANDBOX_MERCHANT_NAME") or "ChatShop"),
            public_base_url=str(config["PUBLIC_BASE_URL"]).rstrip("/"),
        )


@dataclass(frozen=True)
class Limits:
    """Knobs tests may turn."""

    token_lifetime: int = TOKEN_LIFETIME
    token_overlap: int = 300
    qr_permanent_limit: int = QR_PERMANENT_LIMIT
    enforce_cs_quota: bool = True

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Limits:
        """Read the knobs from a Flask config (SANDBOX_* settings)."""
        return cls(
            token_lifetime=int(config.get("SANDBOX_TOKEN_LIFETIME_SECONDS", TOKEN_LIFETIME)),
            token_overlap=int(config.get("SANDBOX_TOKEN_OVERLAP_SECONDS", 300)),
            qr_permanent_limit=int(config.get("SANDBOX_QR_PERMANENT_LIMIT", QR_PERMANENT_LIMIT)),
            enforce_cs_quota=bool(config.get("SANDBOX_ENFORCE_CS_QUOTA", True)),
        )


@dataclass
class Ctx:
    """What an endpoint needs: the account, the store, sandbox time and the knobs."""

    account: Account
    store: OaStore
    now: float
    limits: Limits = field(default_factory=Limits)


# --- helpers -------------------------------------------------------------------------


def parse_json(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object; 44002 when empty, 47001 when not JSON."""
    if not body or not body.strip():
        raise ApiError(44002, "empty post data")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(47001, "data format error") from exc
    if not isinstance(data, dict):
        raise ApiError(47001, "data format error")
    return data


def _utf8_len(value: str) -> int:
    return len(value.encode("utf-8"))


def valid_openid(openid: object) -> bool:
    """True for a string that could be an openid (printable, 1-64 characters)."""
    return (
        isinstance(openid, str) and 0 < len(openid) <= OPENID_MAX and openid.isprintable()
        and " " not in openid
    )


def is_http_url(value: object) -> bool:
    """True for an absolute http(s) URL with a host and no control characters."""
    if not isinstance(value, str) or not value or any(ord(ch) < 32 for ch in value):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _known_user(ctx: Ctx, openid: object) -> SandboxUser:
    if not valid_openid(openid):
        raise ApiError(40003, "invalid openid")
    user = ctx.store.get_user(str(openid))
    if user is None:
        raise ApiError(40003, "invalid openid")
    return user


def _string(value: object, default: str = "") -> str:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ApiError(47001, "data format error")
    return str(value)


# --- access token --------------------------------------------------------------------


def issue_token(ctx: Ctx, args: Mapping[str, str]) -> dict[str, Any]:
    """cgi-bin/token: trade appid + secret for an access token."""
    appid = args.get("appid") or ""
    secret = args.get("secret") or ""
    if args.get("grant_type") != "client_credential":
        raise ApiError(40002, "invalid grant_type")
    if not appid:
        raise ApiError(41002, "appid missing")
    if not secret:
        raise ApiError(41004, "appsecret missing")
    if appid != ctx.account.appid:
        raise ApiError(40013, "invalid appid")
    if not hmac.compare_digest(secret.encode(), ctx.account.secret.encode()):
        raise ApiError(40125, "invalid appsecret")
    limits = ctx.limits
    token = ctx.store.issue_token(appid, ctx.now, limits.token_lifetime, limits.token_overlap)
    return {"access_token": token, "expires_in": limits.token_lifetime}


def authenticate(ctx: Ctx, access_token: str | None) -> None:
    """Refuse a missing (41001), unknown or replaced (40001) or expired (42001) token."""
    if not access_token:
        raise ApiError(41001, "access_token missing")
    record = ctx.store.token_record(access_token)
    if record is None or record.get("appid") != ctx.account.appid:
        raise invalid_credential()
    expires_at = float(record["expires_at"])
    if expires_at <= ctx.now:
        lived_full_life = expires_at >= float(record["issued_at"]) + ctx.limits.token_lifetime
        if lived_full_life:
            raise ApiError(42001, "access_token expired")
        raise invalid_credential()


# --- customer-service quota ----------------------------------------------------------


def _open(at: float, window: int, now: float) -> bool:
    return at > 0 and 0 <= now - at < window


def consume_quota(quota: Quota, now: float) -> int:
    """Spend one customer-service message from ``quota``; 0, or the errcode refusing it."""
    if _open(quota.paid_at, PAYMENT_WINDOW, now):
        return 0
    event_open = _open(quota.event_at, EVENT_WINDOW, now)
    message_open = _open(quota.message_at, MESSAGE_WINDOW, now)
    if event_open and quota.event_used < EVENT_LIMIT:
        quota.event_used += 1
        return 0
    if message_open and quota.message_used < MESSAGE_LIMIT:
        quota.message_used += 1
        return 0
    return 45047 if event_open or message_open else 45015


def quota_summary(quota: Quota, now: float) -> dict[str, Any]:
    """How many customer-service messages the app may still send, for the chat page."""
    if _open(quota.paid_at, PAYMENT_WINDOW, now):
        return {"unlimited": True, "left": None, "window": "payment"}
    left = 0
    windows = []
    if _open(quota.event_at, EVENT_WINDOW, now):
        left += EVENT_LIMIT - quota.event_used
        windows.append("event")
    if _open(quota.message_at, MESSAGE_WINDOW, now):
        left += MESSAGE_LIMIT - quota.message_used
        windows.append("message")
    return {"unlimited": False, "left": max(left, 0), "window": "+".join(windows) or "closed"}


# --- messages ------------------------------------------------------------------------


def _article(raw: object) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise ApiError(47001, "data format error")
    article = {
        "title": _string(raw.get("title")),
        "description": _string(raw.get("description")),
        "url": _string(raw.get("url")),
        "picurl": _string(raw.get("picurl") or raw.get("thumb_url")),
    }
    if not article["title"] and not article["description"]:
        raise ApiError(44003, "empty news data")
    return article


def cs_display(msgtype: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Validate a customer-service message body and turn it into what the chat page shows."""
    if msgtype == "text":
        content = _string(payload.get("content"))
        if not content:
            raise ApiError(44004, "empty content")
        if len(content) > TEXT_MAX_CHARS:
            raise ApiError(45002, "content size out of limit")
        return {"type": "text", "content": content}
    if msgtype == "news":
        articles = payload.get("articles")
        if not isinstance(articles, list) or not articles:
            raise ApiError(44003, "empty news data")
        if len(articles) > 1:
            raise ApiError(45008, "article size out of limit")
        return {"type": "news", "articles": [_article(a) for a in articles], "total": 1}
    if msgtype == "link":
        return {"type": "news", "articles": [_article(payload)], "total": 1}
    if msgtype == "msgmenu":
        items = payload.get("list")
        if not isinstance(items, list) or not items:
            raise ApiError(47001, "data format error")
        return {
            "type": "msgmenu",
            "head": _string(payload.get("head_content")),
            "tail": _string(payload.get("tail_content")),
            "items": [
                {"id": _string(i.get("id")), "content": _string(i.get("content"))}
                for i in items if isinstance(i, dict)
            ],
        }
    return {"type": "media", "label": _MEDIA_LABELS.get(msgtype, f"[{msgtype}]")}


def media_url(media_id: str) -> str:
    """Where the chat page shows an uploaded file (path on the sandbox, no token)."""
    return f"/sandbox/chat/media/{quote(media_id, safe='')}"


def _image_display(ctx: Ctx, payload: dict[str, Any]) -> dict[str, Any]:
    media_id = payload.get("media_id")
    if not isinstance(media_id, str) or not media_id:
        raise ApiError(41006, "media_id missing")
    media = live_media(ctx, media_id)
    if media is None or media.type not in ("image", "thumb"):
        raise ApiError(40007, "invalid media_id")
    return {"type": "image", "media_id": media_id, "url": media_url(media_id)}


def custom_send(ctx: Ctx, body: bytes) -> tuple[dict[str, Any], SandboxUser, dict[str, Any]]:
    """cgi-bin/message/custom/send: check, spend quota; (answer, user, display message)."""
    data = parse_json(body)
    user = _known_user(ctx, data.get("touser"))
    msgtype = data.get("msgtype")
    if msgtype not in CS_TYPES:
        raise ApiError(40008, "invalid message type")
    payload = data.get(msgtype)
    if not isinstance(payload, dict):
        raise ApiError(47001, "data format error")
    if msgtype == "image":
        # An image needs a live upload of this account: the chat page shows that file.
        display = _image_display(ctx, payload)
    else:
        display = cs_display(str(msgtype), payload)
    if not user.subscribed:
        raise ApiError(45015, "response out of time limit or subscription is canceled")
    if ctx.limits.enforce_cs_quota:
        errcode = ctx.store.update_quota(user.openid, lambda q: consume_quota(q, ctx.now))
        if errcode == 45015:
            raise ApiError(45015, "response out of time limit or subscription is canceled")
        if errcode:
            raise ApiError(45047, "out of response count limit")
    kf = data.get("customservice")
    if isinstance(kf, dict) and kf.get("kf_account"):
        display["kf_account"] = _string(kf.get("kf_account"))
    return {"errcode": 0, "errmsg": "ok"}, user, display


def template_send(ctx: Ctx, body: bytes) -> tuple[dict[str, Any], SandboxUser, dict[str, Any]]:
    """cgi-bin/message/template/send: (answer with msgid, user, display message)."""
    data = parse_json(body)
    user = _known_user(ctx, data.get("touser"))
    template_id = data.get("template_id")
    if not isinstance(template_id, str) or not template_id or len(template_id) > 64:
        raise ApiError(40037, "invalid template_id")
    fields = data.get("data")
    if not isinstance(fields, dict):
        raise ApiError(47001, "data format error")
    rows = []
    for name, item in fields.items():
        if isinstance(item, dict):
            rows.append([str(name), _string(item.get("value")), _string(item.get("color"))])
        else:
            rows.append([str(name), _string(item), ""])
    url = data.get("url")
    if url is not None and url != "" and not is_http_url(url):
        raise ApiError(40062, "invalid url")
    if not user.subscribed:
        raise ApiError(43004, "require subscribe")
    msgid = ctx.store.next_template_msgid()
    display = {"type": "template", "template_id": template_id, "url": url or "",
               "rows": rows, "msgid": msgid}
    return {"errcode": 0, "errmsg": "ok", "msgid": msgid}, user, display


# --- menu ----------------------------------------------------------------------------


def _button(raw: object, *, sub: bool) -> dict[str, Any]:
    codes = (40024, 40025, 40026, 40027) if sub else (40017, 40018, 40019, 40055)
    bad_type, bad_name, bad_key, bad_url = codes
    if not isinstance(raw, dict):
        raise ApiError(47001, "data format error")
    name = raw.get("name")
    name_limit = 60 if sub else 16
    if not isinstance(name, str) or not name or _utf8_len(name) > name_limit:
        raise ApiError(bad_name, "invalid sub button name size" if sub
                       else "invalid button name size")
    children = raw.get("sub_button")
    if not sub and isinstance(children, list) and children:
        if len(children) > 5:
            raise ApiError(40023, "invalid sub button size")
        return {"name": name, "sub_button": [_button(c, sub=True) for c in children]}
    kind = raw.get("type")
    if kind not in BUTTON_TYPES:
        raise ApiError(bad_type, "invalid sub button type" if sub else "invalid button type")
    button: dict[str, Any] = {"type": kind, "name": name}
    if kind in KEYED_BUTTON_TYPES:
        key = raw.get("key")
        if not isinstance(key, str) or not key or _utf8_len(key) > 128:
            raise ApiError(bad_key, "invalid sub button key size" if sub
                           else "invalid button key size")
        button["key"] = key
    if kind in ("view", "miniprogram"):
        url = raw.get("url")
        if not is_http_url(url) or _utf8_len(str(url)) > 1024:
            raise ApiError(bad_url, "invalid sub button url size" if sub
                           else "invalid button url domain")
        button["url"] = url
    if kind == "miniprogram":
        button["appid"] = _string(raw.get("appid"))
        button["pagepath"] = _string(raw.get("pagepath"))
    if kind in ("media_id", "view_limited"):
        button["media_id"] = _string(raw.get("media_id"))
    if kind in ("article_id", "article_view_limited"):
        button["article_id"] = _string(raw.get("article_id"))
    if not sub:
        button["sub_button"] = []
    return button


def menu_create(ctx: Ctx, body: bytes) -> dict[str, Any]:
    """cgi-bin/menu/create: validate like WeChat, then replace the menu."""
    data = parse_json(body)
    buttons = data.get("button")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        raise ApiError(40016, "invalid button size")
    ctx.store.set_menu({"button": [_button(b, sub=False) for b in buttons]})
    return {"errcode": 0, "errmsg": "ok"}


def menu_get(ctx: Ctx) -> dict[str, Any]:
    """cgi-bin/menu/get: the menu, or 46003 when none was created."""
    menu = ctx.store.get_menu()
    if menu is None:
        raise ApiError(46003, "menu no exist")
    return {"menu": menu}


def menu_delete(ctx: Ctx) -> dict[str, Any]:
    """cgi-bin/menu/delete."""
    ctx.store.set_menu(None)
    return {"errcode": 0, "errmsg": "ok"}


# --- QR codes ------------------------------------------------------------------------


def qr_ticket(appid: str, action_name: str, scene: str) -> str:
    """The ticket of a scene: the same scene always gets the same ticket."""
    family = ("limit" if "LIMIT" in action_name else "temp") + (
        ":str" if "STR" in action_name else ":id"
    )
    digest = hmac.new(appid.encode(), f"{family}:{scene}".encode(), hashlib.sha256).digest()
    return "gQ" + base64.urlsafe_b64encode(digest[:30]).decode("ascii")


def scan_url(public_base_url: str, ticket: str) -> str:
    """What a sandbox QR code encodes: the chat page, ready to scan this ticket."""
    return f"{public_base_url}/sandbox/chat?ticket={quote(ticket, safe='')}"


def _scene(action_name: str, raw_scene: object) -> str:
    if not isinstance(raw_scene, dict):
        raise ApiError(40097, "invalid args, action_info.scene missing")
    if "STR" in action_name:
        scene_str = raw_scene.get("scene_str")
        if not isinstance(scene_str, str) or not 1 <= len(scene_str) <= 64:
            raise ApiError(40097, "invalid args, scene_str must have 1-64 characters")
        return scene_str
    scene_id = raw_scene.get("scene_id")
    top = QR_PERMANENT_LIMIT if "LIMIT" in action_name else QR_TEMPORARY_ID_MAX
    if isinstance(scene_id, bool) or not isinstance(scene_id, int) or not 1 <= scene_id <= top:
        raise ApiError(40097, f"invalid args, scene_id must be 1-{top}")
    return str(scene_id)


def qrcode_create(ctx: Ctx, body: bytes) -> dict[str, Any]:
    """cgi-bin/qrcode/create: a ticket for a temporary or permanent parametric code."""
    data = parse_json(body)
    action_name = data.get("action_name")
    if action_name not in QR_ACTIONS:
        raise ApiError(40097, "invalid args, action_name")
    info = data.get("action_info")
    scene = _scene(action_name, info.get("scene") if isinstance(info, dict) else None)
    permanent = "LIMIT" in action_name
    expire = 0
    if not permanent:
        expire = data.get("expire_seconds", QR_DEFAULT_EXPIRE)
        if isinstance(expire, bool) or not isinstance(expire, int) or not (
            1 <= expire <= QR_MAX_EXPIRE
        ):
            raise ApiError(40097, f"invalid args, expire_seconds must be 1-{QR_MAX_EXPIRE}")
    ticket = qr_ticket(ctx.account.appid, action_name, scene)
    existing = ctx.store.get_qr(ticket)
    expires_at = 0.0 if permanent else ctx.now + expire
    if existing is not None and not permanent:
        expires_at = max(expires_at, existing.expires_at)
    code = QrCode(
        ticket=ticket,
        action_name=action_name,
        scene=scene,
        permanent=permanent,
        expires_at=expires_at,
        url=scan_url(ctx.account.public_base_url, ticket),
        created_at=existing.created_at if existing else ctx.now,
    )
    if not ctx.store.save_qr(code, ctx.limits.qr_permanent_limit):
        raise ApiError(45029, "qrcode count out of limit")
    answer: dict[str, Any] = {"ticket": ticket, "url": code.url}
    if not permanent:
        answer["expire_seconds"] = expire
    return answer


def live_qr(ctx: Ctx, ticket: str) -> QrCode | None:
    """The QR code behind a ticket while it is valid, else None."""
    code = ctx.store.get_qr(ticket)
    if code is None or (not code.permanent and code.expires_at <= ctx.now):
        return None
    return code


# --- temporary media -----------------------------------------------------------------


def sniff_image(data: bytes) -> str | None:
    """The content type of PNG, JPEG or GIF bytes (by their signature), else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    return None


_OTHER_TYPES = {"amr": "audio/amr", "mp3": "audio/mpeg", "mp4": "video/mp4"}


def check_media_type(media_type: str | None) -> MediaRule:
    """The rule of a media/upload ``type``; 40004 for anything else."""
    rule = MEDIA_RULES.get(media_type or "")
    if rule is None:
        raise ApiError(40004, "invalid media type")
    return rule


def media_upload(
    ctx: Ctx, media_type: str | None, filename: str | None, data: bytes | None
) -> dict[str, Any]:
    """cgi-bin/media/upload: store a temporary file; {type, media_id, created_at}."""
    rule = check_media_type(media_type)
    if not data:
        raise ApiError(41005, "media data missing")
    if len(data) > rule.max_bytes:
        raise ApiError(rule.size_errcode, rule.size_errmsg)
    name = (filename or "").strip()
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in rule.extensions:
        raise ApiError(40005, "invalid file type")
    if media_type in ("image", "thumb"):
        content_type = sniff_image(data)
        # A thumb is a JPEG; an image any of the three (whatever the name claims).
        if content_type is None or (media_type == "thumb" and content_type != "image/jpeg"):
            raise ApiError(40005, "invalid file type")
    else:
        content_type = _OTHER_TYPES[extension]
    media = Media(
        media_id=secrets.token_urlsafe(48),
        type=str(media_type),
        content_type=content_type,
        filename=name[:128],
        size=len(data),
        created_at=ctx.now,
    )
    ctx.store.put_media(media, data)
    return {"type": media.type, "media_id": media.media_id, "created_at": int(ctx.now)}


def live_media(ctx: Ctx, media_id: str) -> Media | None:
    """An uploaded file while its media_id is valid (3 days), else None."""
    if not media_id or len(media_id) > 128:
        return None
    media = ctx.store.get_media(media_id)
    if media is None or ctx.now - media.created_at >= MEDIA_LIFETIME:
        return None
    return media


# --- users ---------------------------------------------------------------------------


def user_info(ctx: Ctx, args: Mapping[str, str]) -> dict[str, Any]:
    """cgi-bin/user/info: follow state and scene (WeChat no longer returns nicknames)."""
    user = _known_user(ctx, args.get("openid"))
    if not user.subscribed:
        return {"subscribe": 0, "openid": user.openid}
    return {
        "subscribe": 1,
        "openid": user.openid,
        "language": "zh_CN",
        "subscribe_time": user.subscribe_time,
        "remark": "",
        "groupid": 0,
        "tagid_list": [],
        "subscribe_scene": user.subscribe_scene or "ADD_SCENE_OTHERS",
        "qr_scene": 0,
        "qr_scene_str": user.qr_scene_str,
    }


# --- OAuth ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthorizeRequest:
    """A checked connect/oauth2/authorize request."""

    redirect_uri: str
    scope: str
    state: str


def inside_app(url: str, public_base_url: str) -> bool:
    """True when ``url`` points inside the app (PUBLIC_BASE_URL): no open redirect."""
    if not url or any(ch in url for ch in "\\\r\n\t") or any(ord(ch) < 32 for ch in url):
        return False
    base = public_base_url.rstrip("/")
    return url == base or url.startswith((base + "/", base + "?", base + "#"))


def check_authorize(ctx: Ctx, args: Mapping[str, str]) -> AuthorizeRequest:
    """Validate connect/oauth2/authorize arguments the way WeChat's page does."""
    if args.get("appid") != ctx.account.appid:
        raise ApiError(40013, "invalid appid")
    redirect_uri = args.get("redirect_uri") or ""
    if not inside_app(redirect_uri, ctx.account.public_base_url):
        raise ApiError(10003, "redirect_uri域名与后台配置不一致")
    if args.get("response_type") != "code":
        raise ApiError(10004, "response_type must be code")
    scope = args.get("scope") or ""
    if scope not in OAUTH_SCOPES:
        raise ApiError(10005, "scope参数错误或没有scope权限")
    state = args.get("state") or ""
    if _utf8_len(state) > 128:
        raise ApiError(10016, "state too long (at most 128 bytes)")
    return AuthorizeRequest(redirect_uri=redirect_uri, scope=scope, state=state)


def grant_code(ctx: Ctx, request: AuthorizeRequest, openid: str) -> str:
    """The URL to send the browser back to, with a fresh single-use code and the state."""
    code = ctx.store.issue_oauth_code(
        {"appid": ctx.account.appid, "openid": openid, "scope": request.scope}
    )
    parts = urlsplit(request.redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [("code", code), ("state", request.state)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def oauth_access_token(ctx: Ctx, args: Mapping[str, str]) -> dict[str, Any]:
    """sns/oauth2/access_token: trade a code for the user's openid."""
    if args.get("appid") != ctx.account.appid:
        raise ApiError(40013, "invalid appid")
    if not hmac.compare_digest((args.get("secret") or "").encode(), ctx.account.secret.encode()):
        raise ApiError(40125, "invalid appsecret")
    if args.get("grant_type") != "authorization_code":
        raise ApiError(40002, "invalid grant_type")
    code = args.get("code") or ""
    if not code:
        raise ApiError(41008, "missing code")
    grant, used = ctx.store.take_oauth_code(code)
    if used:
        raise ApiError(40163, "code been used")
    if grant is None or grant.get("appid") != ctx.account.appid:
        raise ApiError(40029, "invalid code")
    token = ctx.store.issue_sns_token(grant, TOKEN_LIFETIME)
    return {
        "access_token": token,
        "expires_in": TOKEN_LIFETIME,
        "refresh_token": "sandbox-refresh-not-supported",
        "openid": grant["openid"],
        "scope": grant["scope"],
    }


def sns_userinfo(ctx: Ctx, args: Mapping[str, str]) -> dict[str, Any]:
    """sns/userinfo: the nickname, for tokens granted with snsapi_userinfo."""
    grant = ctx.store.sns_token(args.get("access_token") or "")
    if grant is None:
        raise invalid_credential()
    if grant.get("scope") != "snsapi_userinfo" or grant.get("openid") != args.get("openid"):
        raise ApiError(48001, "api unauthorized")
    user = ctx.store.get_user(grant["openid"])
    return {
        "openid": grant["openid"],
        "nickname": user.nickname if user else "",
        "sex": 0,
        "province": "",
        "city": "",
        "country": "",
        "headimgurl": "",
        "privilege": [],
    }
