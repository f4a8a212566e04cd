"""A distributor's parametric QR code: created once through WeChat, cached on their record.

The code carries the scene ``dist_<user id>`` (``referral.domain.codes.scene_for``):
a consumer who scans it arrives as ``subscribe`` with ``qrscene_dist_<id>`` (new
follower) or ``SCAN`` with ``dist_<id>`` and is bound by ``bind_by_scene``.

Rules and choices:

- Only an active distributor gets (or is shown) a code: anyone else gets
  :class:`NotActiveDistributor` (a ``Conflict``), whatever is cached.
- The code is permanent (``QR_LIMIT_STR_SCENE``), created on first use and
  cached on the ``distributors`` row (``qr_ticket``, ``qr_url``,
  ``qr_created_at``, ``qr_expires_at`` — None for a permanent code); later
  calls make no WeChat call at all.
- WeChat allows an account 100 000 permanent codes and answers errcode 45029
  beyond that; WeChat offers no way to delete one. The fallback: a temporary
  ``QR_STR_SCENE`` code with the same scene, for WeChat's longest life (30
  days), replaced by a new one when fewer than ``RENEW_BEFORE`` seconds are
  left (so a poster shared today keeps working for days). The 45029 is logged
  as a warning, and remembered in Redis for a day so later distributors go
  straight to the fallback instead of spending a refused call each. If WeChat
  refuses the temporary code too, :class:`QrCodeUnavailable` says so.
- Every creation is also an audit row (``distributor.qr_created`` with the
  ticket, kind and expiry).
- Two requests racing for one distributor create one code: creation happens
  under a per-distributor Redis lock (others wait, then find the cached code),
  and the row is written by a conditional UPDATE that only replaces the ticket
  it read, so even a lock that expired mid-call cannot store two codes.
- No database transaction is held while WeChat is called.
- ``image_url`` is where the picture of the code is: WeChat's showqrcode on
  ``mp.weixin.qq.com`` (wechatpy's ``qrcode.get_url``), or, when the API base URL
  is not WeChat's (the sandbox, a stand-in), ``<API base>showqrcode`` next to
  the API that made the ticket.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import redis
import requests
from flask import Flask, current_app
from redis.exceptions import LockError
from sqlalchemy import update
from wechatpy.client.api.qrcode import WeChatQRCode
from wechatpy.exceptions import WeChatClientException

from adapters.wechat.client import kept_client
from core.clock import utcnow
from core.errors import Conflict, DomainError
from core.journal import audit
from core.models import Distributor
from core.redis import shared_client
from core.settings import settings_in
from core.uow import DbSession, unit_of_work
from referral.domain.codes import scene_for
from referral.domain.rules import DistributorStatus

log = logging.getLogger(__name__)


PERMANENT_ACTION = "QR_LIMIT_STR_SCENE"
TEMPORARY_ACTION = "QR_STR_SCENE"
PERMANENT_LIMIT_ERRCODE = 45029  # "qrcode count out of limit": 100 000 permanent codes used
TEMPORARY_SECONDS = 2_592_000  # WeChat's longest life of a temporary code: 30 days
RENEW_BEFORE = timedelta(days=3)
PERMANENT_FULL_KEY = "chatshop:referral:qr:permanent_full"
PERMANENT_FULL_SECONDS = 24 * 3600
CREATED_ACTION = "distributor.qr_created"
WECHAT_API_HOST = "api.weixin.qq.com"


@dataclass(frozen=True)
class QrCode:
    """A distributor's QR code: WeChat's ticket, what the code encodes, where its image is."""

    ticket: str
    url: str
    image_url: str


class NotActiveDistributor(Conflict):
    """Only active distributors have a QR code (pending, frozen, revoked or none: refused)."""

    error_code = "not_active_distributor"


class QrCodeUnavailable(DomainError):
    """WeChat did not create the code (refused, busy or unreachable); nothing was stored."""

    status_code = 502
    error_code = "wechat_qrcode"


@dataclass(frozen=True)
class _Created:
    ticket: str
    url: str
    temporary: bool
    expires_at: datetime | None


def _app(app: Flask | None) -> Flask:
    return app or current_app._get_current_object()  # type: ignore[attr-defined]


def qr_image_url(api_base_url: str, ticket: str) -> str:
    """Where the image of the code with ``ticket`` is served (see the module notes)."""
    if urlsplit(api_base_url).hostname == WECHAT_API_HOST:
        return str(WeChatQRCode.get_url(ticket))
    base = api_base_url if api_base_url.endswith("/") else api_base_url + "/"
    return f"{base}showqrcode?ticket={quote(ticket, safe='')}"


def _active(session: DbSession, user_id: int, *, fresh: bool = False) -> Distributor:
    record = session.get(Distributor, user_id, populate_existing=fresh)
    if record is None:
        raise NotActiveDistributor("only distributors have a referral QR code")
    if record.status != DistributorStatus.ACTIVE:
        raise NotActiveDistributor("only active distributors have a referral QR code")
    return record


def _usable(record: Distributor, api_base_url: str) -> QrCode | None:
    """The cached code if it exists and is not about to expire."""
    if not record.qr_ticket:
        return None
    expires_at = record.qr_expires_at
    if expires_at is not None and expires_at - utcnow() < RENEW_BEFORE:
        return None
    return QrCode(record.qr_ticket, record.qr_url or "",
                  qr_image_url(api_base_url, record.qr_ticket))


def cached_qr_code(session: DbSession, user_id: int) -> QrCode | None:
    """The active distributor's code if one is cached and valid; never calls WeChat.

    None for anyone else, or when no usable code exists yet (``ensure_qr_code`` makes one).
    """
    try:
        record = _active(session, user_id)
    except NotActiveDistributor:
        return None
    return _usable(record, str(current_app.config["WECHAT_API_BASE_URL"]))


def _create(client: Any, conn: redis.Redis, user_id: int) -> _Created:
    """Ask WeChat for the distributor's code: permanent, else the temporary fallback."""
    scene = {"scene": {"scene_str": scene_for(user_id)}}
    try:
        if not conn.exists(PERMANENT_FULL_KEY):
            try:
                answer = client.qrcode.create({"action_name": PERMANENT_ACTION,
                                               "action_info": scene})
                return _Created(str(answer["ticket"]), str(answer.get("url") or ""), False, None)
            except WeChatClientException as exc:
                if exc.errcode != PERMANENT_LIMIT_ERRCODE:
                    raise
                log.warning(
                    "WeChat refused a permanent QR code for distributor %s: the account has "
                    "used all of its 100000 permanent codes (errcode 45029). Distributors now "
                    "get 30-day temporary codes, renewed before they expire.", user_id)
                conn.set(PERMANENT_FULL_KEY, "1", ex=PERMANENT_FULL_SECONDS)
        answer = client.qrcode.create({"action_name": TEMPORARY_ACTION,
                                       "expire_seconds": TEMPORARY_SECONDS,
                                       "action_info": scene})
        expires_in = int(answer.get("expire_seconds") or TEMPORARY_SECONDS)
        return _Created(str(answer["ticket"]), str(answer.get("url") or ""), True,
                        utcnow() + timedelta(seconds=expires_in))
    except WeChatClientException as exc:
        log.warning("WeChat did not create a QR code for distributor %s: %s %s",
                    user_id, exc.errcode, exc.errmsg)
        raise QrCodeUnavailable(
            f"WeChat did not create the QR code (errcode {exc.errcode}); try again later",
            errcode=exc.errcode,
        ) from exc
    except (requests.RequestException, KeyError, TypeError, ValueError) as exc:
        log.warning("WeChat QR code for distributor %s failed: %s", user_id, exc)
        raise QrCodeUnavailable("WeChat could not be reached for the QR code; try again later"
                                ) from exc


def _store(session: DbSession, user_id: int, replaced: str | None, code: _Created) -> bool:
    """Write the new code unless someone else changed the ticket meanwhile; True if written."""
    with unit_of_work(session):
        ticket_unchanged = (
            Distributor.qr_ticket.is_(None) if replaced is None
            else Distributor.qr_ticket == replaced
        )
        result = session.execute(
            update(Distributor)
            .where(Distributor.user_id == user_id,
                   Distributor.status == str(DistributorStatus.ACTIVE), ticket_unchanged)
            .values(qr_ticket=code.ticket, qr_url=code.url, qr_created_at=utcnow(),
                    qr_expires_at=code.expires_at)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            return False
        audit(session, user_id, CREATED_ACTION, "user", user_id, ticket=code.ticket,
              kind="temporary" if code.temporary else "permanent", scene=scene_for(user_id),
              expires_at=code.expires_at.isoformat() if code.expires_at else None)
    return True


def _fresh_read(session: DbSession, user_id: int) -> Distributor:
    # End any read transaction first: on SQLite it would keep showing the row as it
    # was when that transaction began, hiding the code another process just stored.
    session.commit()
    return _active(session, user_id, fresh=True)


def ensure_qr_code(session: DbSession, user_id: int, *, client: Any = None) -> QrCode:
    """The distributor's QR code, created through WeChat the first time (then cached).

    Raises :class:`NotActiveDistributor` unless ``user_id`` is an active distributor,
    :class:`QrCodeUnavailable` when WeChat does not create it, and ``Conflict`` when
    another request is still creating it after a wait. Call it outside a unit of
    work: it may talk to WeChat (the project's client; ``client`` replaces it).
    """
    app = _app(None)
    api_base = str(app.config["WECHAT_API_BASE_URL"])
    record = _active(session, user_id)
    cached = _usable(record, api_base)
    if cached is not None:
        return cached
    conn = shared_client(app.extensions)
    if client is None:
        client = kept_client(app.extensions, settings_in(app.extensions), conn)
    # Long enough for both WeChat calls (permanent, then the fallback) and the write.
    lease = 2 * float(app.config.get("WECHAT_HTTP_TIMEOUT_SECONDS") or 5) + 5
    lock = conn.lock(f"chatshop:referral:qr:lock:{user_id}", timeout=lease,
                     blocking_timeout=lease)
    if not lock.acquire():
        raise Conflict("the QR code is being created; please try again in a moment")
    try:
        record = _fresh_read(session, user_id)
        cached = _usable(record, api_base)
        if cached is not None:
            return cached  # created by whoever held the lock before us
        replaced = record.qr_ticket
        created = _create(client, conn, user_id)
        if not _store(session, user_id, replaced, created):
            # The status or the ticket changed while WeChat answered: use what is there.
            record = _fresh_read(session, user_id)
            cached = _usable(record, api_base)
            if cached is None:
                raise Conflict("the QR code changed meanwhile; please try again")
            return cached
        return QrCode(created.ticket, created.url, qr_image_url(api_base, created.ticket))
    finally:
        try:
            lock.release()
        except LockError:
            log.warning("QR code lock for distributor %s expired before release", user_id)
