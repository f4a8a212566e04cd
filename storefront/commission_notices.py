"""Telling distributors in the chat that they earned commission, batched.

A paid order with commission writes a ``commission.earned`` outbox message.
Its job only remembers, per distributor, what each order earned (a Redis hash
keyed by order, so a retried job counts nothing twice). Every few minutes
:func:`flush_commission_notices` sends each distributor one customer-service
message summing what accumulated, through ``storefront.outbound`` (which
books WeChat's quotas and drops what a closed window does not allow), instead
of one message per order.
"""
from __future__ import annotations

import logging
import time
from typing import Any

import redis

from bots.dialogue.texts import commission_message
from bots.messages import TextReply
from core.models import User
from core.settings import Settings
from core.uow import DbSession
from storefront.outbound import send_customer_service
from storefront.state_store import StateStore

log = logging.getLogger(__name__)

DUE = "chat:commission:due"  # set of distributor ids with something to tell
KEEP_SECONDS = 7 * 86400  # an undelivered batch is not kept for ever

# Move the distributor's hash aside and take it off the due set, atomically, so an
# order noted meanwhile goes into the next batch instead of being lost.
_TAKE = """
local taken = redis.call('EXISTS', KEYS[1])
if taken == 1 then redis.call('RENAME', KEYS[1], KEYS[2]) end
redis.call('SREM', KEYS[3], ARGV[1])
return taken
"""


def _earned_key(user_id: int) -> str:
    return f"chat:commission:earned:{user_id}"


def note_commission(conn: redis.Redis, payload: dict[str, Any]) -> int:
    """Remember (in Redis, ``conn``) what an order earned each distributor; how many
    distributors were noted."""
    order_id = int(payload["order_id"])
    noted = 0
    for earning in payload.get("earnings", []):
        user_id, amount = int(earning["distributor_id"]), int(earning["amount_fen"])
        if amount <= 0:
            continue
        pipe = conn.pipeline()
        pipe.hset(_earned_key(user_id), str(order_id), amount)
        pipe.expire(_earned_key(user_id), KEEP_SECONDS)
        pipe.sadd(DUE, user_id)
        pipe.execute()
        noted += 1
    return noted


def flush_commission_notices(
    session: DbSession, conn: redis.Redis, settings: Settings, now: float | None = None
) -> int:
    """Send each distributor with new commission one summary message; how many were queued."""
    store = StateStore(conn, settings.chat_state_ttl_seconds)
    take = conn.register_script(_TAKE)
    slot = int((now or time.time()) // 60)
    queued = 0
    for raw in conn.smembers(DUE):
        user_id = int(raw)
        batch_key = f"{_earned_key(user_id)}:sending:{slot}"
        if not take(keys=[_earned_key(user_id), batch_key, DUE], args=[user_id]):
            continue
        earned = {int(k): int(v) for k, v in conn.hgetall(batch_key).items()}
        conn.expire(batch_key, KEEP_SECONDS)
        user = session.get(User, user_id)
        if user is None or not user.openid or not earned:
            conn.delete(batch_key)
            continue
        lang = store.load(user.openid).lang
        text = commission_message(lang, count=len(earned), total_fen=sum(earned.values()))
        send_customer_service(user.openid, [TextReply(text)], reason="commission",
                              key=f"commission-{user_id}-{slot}")
        conn.delete(batch_key)
        queued += 1
    return queued
