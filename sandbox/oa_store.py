"""Where the official-account sandbox keeps its state: Redis, shared by every web worker.

This module stores and loads; the rules (what a token, quota or QR scene may be)
live in oa_api. Times passed in are sandbox-clock seconds (clock.now), so tests
can travel past a token's life or a customer-service window.
"""
from __future__ import annotations

import json
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import redis

T = TypeVar("T")

_PREFIX = "sandbox:oa:"
_USERS = _PREFIX + "users"
_USERS_ORDER = _PREFIX + "users:order"
_LOG_SEQ = _PREFIX + "log:seq"
_MENU = _PREFIX + "menu"
_QR_INDEX = _PREFIX + "qr:index"
_QR_PERMANENT = _PREFIX + "qr:permanent"
_TOKENS_ISSUED = _PREFIX + "token:issued"
_MSGID_SEQ = _PREFIX + "msgid:seq"
_TEMPLATE_MSGID = _PREFIX + "template:msgid"
_MEDIA = _PREFIX + "media:"

LOG_LIMIT = 500  # transcript entries kept per openid
# Redis forgets tokens a while after they die on the sandbox clock; only keeps Redis tidy.
TOKEN_KEEP_SECONDS = 8 * 24 * 3600
OAUTH_CODE_SECONDS = 300  # WeChat's codes live five minutes and are single-use
# Redis forgets uploaded media a while after WeChat would (3 days on the sandbox clock);
# the rule itself is oa_api's, this only keeps Redis tidy.
MEDIA_KEEP_SECONDS = 8 * 24 * 3600
OPENID_PREFIX = "o-sandbox-"
OPENID_LENGTH = 28  # the length of real openids, which some code checks
_OPENID_ALPHABET = string.ascii_letters + string.digits + "_-"


def _text(raw: Any) -> str:
    # The app's client returns bytes (RQ needs that); accept str for other clients.
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def new_openid() -> str:
    """A fresh sandbox openid: ``o-sandbox-`` and random characters, 28 in all."""
    tail = "".join(
        secrets.choice(_OPENID_ALPHABET) for _ in range(OPENID_LENGTH - len(OPENID_PREFIX))
    )
    return OPENID_PREFIX + tail


@dataclass
class SandboxUser:
    """A WeChat user the sandbox knows: created on the chat page or met through the app."""

    openid: str
    nickname: str = ""
    subscribed: bool = False
    subscribe_time: int = 0
    subscribe_scene: str = ""  # "ADD_SCENE_QR_CODE" etc., as user/info reports it
    qr_scene_str: str = ""
    mode: str = "plain"  # how the chat page last talked to the app for this user
    created_at: float = field(default_factory=time.time)

    def to_json(self) -> str:
        """Serialise for Redis."""
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, raw: bytes | str) -> SandboxUser:
        """Load what to_json wrote."""
        data = json.loads(raw)
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class QrCode:
    """A parametric QR code the app created."""

    ticket: str
    action_name: str
    scene: str  # scene_str, or scene_id as text
    permanent: bool
    expires_at: float  # sandbox-clock seconds; 0 for permanent codes
    url: str
    created_at: float

    def to_json(self) -> str:
        """Serialise for Redis."""
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, raw: bytes | str) -> QrCode:
        """Load what to_json wrote."""
        return cls(**json.loads(raw))


@dataclass
class Media:
    """A temporary media file the app uploaded (cgi-bin/media/upload); the bytes are kept apart."""

    media_id: str
    type: str  # image, voice, video or thumb
    content_type: str  # what the bytes are, as the sandbox recognised them
    filename: str
    size: int
    created_at: float  # sandbox-clock seconds

    def to_json(self) -> str:
        """Serialise for Redis."""
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, raw: bytes | str) -> Media:
        """Load what to_json wrote."""
        return cls(**json.loads(raw))


@dataclass
class Quota:
    """When the user last opened customer-service windows, and how much of each is used."""

    message_at: float = 0.0
    message_used: int = 0
    event_at: float = 0.0
    event_used: int = 0
    paid_at: float = 0.0


class OaStore:
    """Tokens, users, quotas, transcripts, menu, QR codes and OAuth codes in one Redis."""

    def __init__(self, conn: redis.Redis) -> None:
        """Use this Redis connection."""
        self.conn = conn

    # --- access tokens ----------------------------------------------------------------

    def issue_token(self, appid: str, now: float, lifetime: int, overlap: int) -> str:
        """A new access token; the previous one now dies within ``overlap`` seconds."""
        token = secrets.token_urlsafe(96)[:128]
        current_key = f"{_PREFIX}token:current:{appid}"

        def attempt(pipe: Any) -> None:
            previous = pipe.get(current_key)
            old_raw = pipe.get(f"{_PREFIX}token:{_text(previous)}") if previous else None
            pipe.multi()
            if previous is not None and old_raw is not None:
                old = json.loads(old_raw)
                old["expires_at"] = min(float(old["expires_at"]), now + overlap)
                pipe.set(f"{_PREFIX}token:{_text(previous)}", json.dumps(old),
                         ex=TOKEN_KEEP_SECONDS)
            record = {"appid": appid, "issued_at": now, "expires_at": now + lifetime}
            pipe.set(f"{_PREFIX}token:{token}", json.dumps(record), ex=TOKEN_KEEP_SECONDS)
            pipe.set(current_key, token)
            pipe.incr(_TOKENS_ISSUED)

        self.conn.transaction(attempt, current_key)
        return token

    def token_record(self, token: str) -> dict[str, Any] | None:
        """What the sandbox knows of an access token (appid, issued_at, expires_at), or None."""
        raw = self.conn.get(f"{_PREFIX}token:{token}")
        return json.loads(raw) if raw is not None else None

    def tokens_issued(self) -> int:
        """How many access tokens were handed out since the last flush."""
        raw = self.conn.get(_TOKENS_ISSUED)
        return int(raw) if raw is not None else 0

    # --- users ------------------------------------------------------------------------

    def get_user(self, openid: str) -> SandboxUser | None:
        """The user with this openid, or None."""
        raw = self.conn.hget(_USERS, openid)
        return SandboxUser.from_json(raw) if raw is not None else None

    def put_user(self, user: SandboxUser) -> None:
        """Create or replace a user."""
        pipe = self.conn.pipeline()
        pipe.hset(_USERS, user.openid, user.to_json())
        pipe.zadd(_USERS_ORDER, {user.openid: user.created_at}, nx=True)
        pipe.execute()

    def ensure_user(self, openid: str) -> SandboxUser:
        """The user with this openid, created (not following) if the sandbox never met it."""
        user = self.get_user(openid)
        if user is None:
            user = SandboxUser(openid=openid)
            if self.conn.hsetnx(_USERS, openid, user.to_json()):
                self.conn.zadd(_USERS_ORDER, {openid: user.created_at}, nx=True)
            else:
                user = self.get_user(openid) or user
        return user

    def list_users(self, limit: int = 200) -> list[SandboxUser]:
        """Users, newest first."""
        openids = self.conn.zrevrange(_USERS_ORDER, 0, max(limit, 1) - 1)
        users = []
        for openid in openids:
            user = self.get_user(_text(openid))
            if user is not None:
                users.append(user)
        return users

    # --- customer-service quota -------------------------------------------------------

    def _quota_key(self, openid: str) -> str:
        return f"{_PREFIX}quota:{openid}"

    def get_quota(self, openid: str) -> Quota:
        """The user's customer-service windows."""
        raw = self.conn.get(self._quota_key(openid))
        return Quota(**json.loads(raw)) if raw is not None else Quota()

    def touch_quota(self, openid: str, **changes: float) -> Quota:
        """Set some quota fields (e.g. open a new message window) atomically; return the quota."""

        def change(quota: Quota) -> Quota:
            for name, value in changes.items():
                setattr(quota, name, value)
            return quota

        return self.update_quota(openid, change)

    def update_quota(self, openid: str, mutate: Callable[[Quota], T]) -> T:
        """Apply ``mutate(quota) -> result`` atomically; the quota it changed is stored."""
        key = self._quota_key(openid)
        result: list[T] = []

        def attempt(pipe: Any) -> None:
            raw = pipe.get(key)
            quota = Quota(**json.loads(raw)) if raw is not None else Quota()
            result[:] = [mutate(quota)]
            pipe.multi()
            pipe.set(key, json.dumps(asdict(quota)))

        self.conn.transaction(attempt, key)
        return result[0]

    # --- transcript -------------------------------------------------------------------

    def append_log(self, openid: str, entry: dict[str, Any]) -> dict[str, Any]:
        """Add an entry to the user's transcript with a new sequence number; return it."""
        key = f"{_PREFIX}log:{openid}"
        stored: list[dict[str, Any]] = []

        def attempt(pipe: Any) -> None:
            # Numbering and appending happen together, so list order is seq order and a
            # reader polling "after the last seq I saw" can never miss an entry.
            seq = int(pipe.get(_LOG_SEQ) or 0) + 1
            stored[:] = [{**entry, "seq": seq, "openid": openid}]
            stored[0].setdefault("at", time.time())
            pipe.multi()
            pipe.set(_LOG_SEQ, seq)
            pipe.rpush(key, json.dumps(stored[0], ensure_ascii=False, sort_keys=True))
            pipe.ltrim(key, -LOG_LIMIT, -1)

        self.conn.transaction(attempt, _LOG_SEQ)
        return stored[0]

    def read_log(self, openid: str, after: int = 0) -> list[dict[str, Any]]:
        """The user's transcript entries with seq > ``after``, oldest first."""
        raws = self.conn.lrange(f"{_PREFIX}log:{openid}", 0, -1)
        entries = [json.loads(raw) for raw in raws]
        return [e for e in entries if int(e["seq"]) > after]

    # --- wire details -----------------------------------------------------------------

    def next_msg_id(self) -> int:
        """A MsgId never used before: milliseconds since the epoch, then a counter."""
        counter = int(self.conn.incr(_MSGID_SEQ)) % 10_000
        return int(time.time() * 1000) * 10_000 + counter

    def next_template_msgid(self) -> int:
        """The msgid of the next template message."""
        return 400_000_000 + int(self.conn.incr(_TEMPLATE_MSGID))

    def next_create_time(self, openid: str, now: int) -> int:
        """``now``, or one second after the user's previous push if that is later."""
        key = f"{_PREFIX}createtime:{openid}"
        chosen: list[int] = []

        def attempt(pipe: Any) -> None:
            last_raw = pipe.get(key)
            # Apps deduplicate events by FromUserName + CreateTime, so one user's
            # pushes never share a second, even when a test clicks faster than that.
            chosen[:] = [max(now, int(last_raw) + 1 if last_raw is not None else now)]
            pipe.multi()
            pipe.set(key, chosen[0], ex=3600)

        self.conn.transaction(attempt, key)
        return chosen[0]

    def remember_push(self, openid: str, push: dict[str, Any]) -> None:
        """Keep the last request sent for this user, so the chat page can retry it."""
        self.conn.set(f"{_PREFIX}lastpush:{openid}", json.dumps(push), ex=24 * 3600)

    def last_push(self, openid: str) -> dict[str, Any] | None:
        """The last request sent for this user, or None."""
        raw = self.conn.get(f"{_PREFIX}lastpush:{openid}")
        return json.loads(raw) if raw is not None else None

    # --- menu -------------------------------------------------------------------------

    def set_menu(self, menu: dict[str, Any] | None) -> None:
        """Store the custom menu (None deletes it)."""
        if menu is None:
            self.conn.delete(_MENU)
        else:
            self.conn.set(_MENU, json.dumps(menu, ensure_ascii=False))

    def get_menu(self) -> dict[str, Any] | None:
        """The custom menu as created, or None."""
        raw = self.conn.get(_MENU)
        return json.loads(raw) if raw is not None else None

    # --- QR codes ---------------------------------------------------------------------

    def get_qr(self, ticket: str) -> QrCode | None:
        """The QR code with this ticket, or None."""
        raw = self.conn.get(f"{_PREFIX}qr:{ticket}")
        return QrCode.from_json(raw) if raw is not None else None

    def save_qr(self, code: QrCode, limit: int) -> bool:
        """Store a QR code; False when it is a new permanent one beyond ``limit``."""
        key = f"{_PREFIX}qr:{code.ticket}"

        def attempt(pipe: Any) -> bool:
            if code.permanent and not pipe.sismember(_QR_PERMANENT, code.scene):
                if int(pipe.scard(_QR_PERMANENT)) >= limit:
                    pipe.multi()
                    return False
            pipe.multi()
            if code.permanent:
                pipe.sadd(_QR_PERMANENT, code.scene)
            pipe.set(key, code.to_json())
            pipe.zadd(_QR_INDEX, {code.ticket: code.created_at})
            return True

        saved: list[bool] = []
        self.conn.transaction(lambda pipe: saved.append(attempt(pipe)), _QR_PERMANENT, key)
        return saved[-1]

    def list_qr(self, limit: int = 100) -> list[QrCode]:
        """QR codes, newest first."""
        codes = []
        for ticket in self.conn.zrevrange(_QR_INDEX, 0, max(limit, 1) - 1):
            code = self.get_qr(_text(ticket))
            if code is not None:
                codes.append(code)
        return codes

    # --- temporary media --------------------------------------------------------------

    def put_media(self, media: Media, data: bytes) -> None:
        """Store an uploaded file and what is known of it."""
        pipe = self.conn.pipeline()
        pipe.set(f"{_MEDIA}{media.media_id}", media.to_json(), ex=MEDIA_KEEP_SECONDS)
        pipe.set(f"{_MEDIA}{media.media_id}:data", data, ex=MEDIA_KEEP_SECONDS)
        pipe.execute()

    def get_media(self, media_id: str) -> Media | None:
        """What is known of an uploaded file, or None."""
        raw = self.conn.get(f"{_MEDIA}{media_id}")
        return Media.from_json(raw) if raw is not None else None

    def media_data(self, media_id: str) -> bytes | None:
        """The bytes of an uploaded file, or None."""
        raw = self.conn.get(f"{_MEDIA}{media_id}:data")
        # Binary: only a client without decode_responses (the app's own) reads it back intact.
        return raw if isinstance(raw, bytes) else None

    # --- OAuth ------------------------------------------------------------------------

    def issue_oauth_code(self, grant: dict[str, Any]) -> str:
        """A single-use code standing for ``grant`` (appid, openid, scope)."""
        code = secrets.token_urlsafe(24)
        self.conn.set(f"{_PREFIX}oauth:code:{code}", json.dumps(grant), ex=OAUTH_CODE_SECONDS)
        return code

    def take_oauth_code(self, code: str) -> tuple[dict[str, Any] | None, bool]:
        """(grant, False) the first time; (None, True) once used; (None, False) if unknown."""
        key = f"{_PREFIX}oauth:code:{code}"
        used_key = f"{_PREFIX}oauth:used:{code}"
        pipe = self.conn.pipeline()
        pipe.get(key)
        pipe.delete(key)
        raw, _ = pipe.execute()
        if raw is None:
            return None, bool(self.conn.exists(used_key))
        self.conn.set(used_key, "1", ex=OAUTH_CODE_SECONDS)
        return json.loads(raw), False

    def issue_sns_token(self, grant: dict[str, Any], lifetime: int) -> str:
        """A web-page access token for one user (sns/userinfo)."""
        token = secrets.token_urlsafe(48)
        self.conn.set(f"{_PREFIX}oauth:token:{token}", json.dumps(grant), ex=lifetime)
        return token

    def sns_token(self, token: str) -> dict[str, Any] | None:
        """The grant behind a web-page access token, or None."""
        raw = self.conn.get(f"{_PREFIX}oauth:token:{token}")
        return json.loads(raw) if raw is not None else None
