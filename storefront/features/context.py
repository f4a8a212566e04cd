"""The chat user the intents are carried out for, and what carrying them out needs."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from adapters.wechat.pay_v2 import PayGateway
from bots.dialogue import events as ev
from core.actors import Actor
from core.settings import Settings
from core.uow import DbSession
from storefront.state_store import StateStore

CHINA = timezone(timedelta(hours=8))  # what buyers read on their phones


@dataclass(frozen=True)
class ChatUser:
    """One chat user's turn: the database session, who they are, the app's settings
    and the pay gateway the shop's services are handed."""

    session: DbSession
    actor: Actor
    openid: str
    store: StateStore
    settings: Settings
    gateway: PayGateway

    @property
    def user_id(self) -> int:
        """The shop's id of the user."""
        return self.actor.user_id

    @property
    def base_url(self) -> str:
        """PUBLIC_BASE_URL without its trailing slash."""
        return self.settings.public_base_url.rstrip("/")

    @property
    def payment_minutes(self) -> int:
        """How long an order waits for its payment."""
        return self.settings.payment_timeout_minutes


Execute = Callable[[ChatUser, Any], ev.Event]
"""Carries out one intent class for a chat user (``Any``: each takes its own class)."""


def absolute_url(base_url: str, path: str) -> str:
    """A product picture's public URL (stored paths are relative to PUBLIC_BASE_URL)."""
    if not path or path.startswith(("http://", "https://")):
        return path
    return base_url + (path if path.startswith("/") else "/" + path)


def local_time(moment: datetime | None) -> str:
    """A timestamp as "MM-DD HH:MM" in China time."""
    if moment is None:
        return ""
    return moment.astimezone(CHINA).strftime("%m-%d %H:%M")


def china_month(moment: datetime) -> tuple[int, int, datetime, datetime]:
    """The China-time calendar month around ``moment``: year, month, its start and end in UTC."""
    local = moment.astimezone(CHINA)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    end = start.replace(year=year, month=month)
    return local.year, local.month, start.astimezone(UTC), end.astimezone(UTC)
