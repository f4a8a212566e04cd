"""The sandbox's clock: Beijing time, shiftable so tests can let an order expire.

The offset lives in Redis so every worker process sees the same sandbox time.
Only the sandbox reads this clock; the app's own services keep real time.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import redis

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
WECHAT_TIME_FORMAT = "%Y%m%d%H%M%S"
_OFFSET_KEY = "sandbox:clock:offset_seconds"


def offset_seconds(conn: redis.Redis) -> int:
    """How far the sandbox clock runs ahead of real time, in seconds."""
    raw = conn.get(_OFFSET_KEY)
    return int(raw) if raw is not None else 0


def travel(conn: redis.Redis, seconds: int) -> int:
    """Move the sandbox clock forward by ``seconds``; return the new offset."""
    return int(conn.incrby(_OFFSET_KEY, int(seconds)))


def reset(conn: redis.Redis) -> None:
    """Put the sandbox clock back on real time."""
    conn.delete(_OFFSET_KEY)


def now(conn: redis.Redis) -> datetime:
    """Current sandbox time, timezone-aware, in Beijing time."""
    return datetime.now(BEIJING) + timedelta(seconds=offset_seconds(conn))


def format_wechat_time(moment: datetime) -> str:
    """A moment as WeChat's yyyyMMddHHmmss in Beijing time."""
    return moment.astimezone(BEIJING).strftime(WECHAT_TIME_FORMAT)


def parse_wechat_time(text: str) -> datetime:
    """WeChat's yyyyMMddHHmmss (Beijing time) as an aware datetime; ValueError if malformed."""
    if len(text) != 14 or not text.isdigit():
        raise ValueError(f"not a yyyyMMddHHmmss time: {text!r}")
    return datetime.strptime(text, WECHAT_TIME_FORMAT).replace(tzinfo=BEIJING)


def format_success_time(moment: datetime) -> str:
    """A moment as the refund notify's yyyy-MM-dd HH:mm:ss in Beijing time."""
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
