"""Where the Pay sandbox keeps its state: Redis, so every web worker sees the same orders.

This module only stores and loads; what the states mean is decided in pay_api.
Each order is one JSON value (its refunds inside it), changed under WATCH so two
workers racing on the same order (pay vs close, two refunds) cannot both win.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import redis

T = TypeVar("T")

_PREFIX = "sandbox:pay:"
_ORDERS_INDEX = _PREFIX + "orders"
_NOTIFY_LOG = _PREFIX + "notifies"
_SEQUENCE = _PREFIX + "seq"
NOTIFY_LOG_LIMIT = 500


@dataclass
class SandboxRefund:
    """One refund of a sandbox order, as WeChat would record it."""

    out_refund_no: str
    refund_id: str
    refund_fee: int
    total_fee: int
    status: str
    success_time: str
    notify_url: str
    refund_desc: str = ""
    created_at: float = field(default_factory=time.time)


@dataclass
class SandboxOrder:
    """One unified order: what the merchant asked for and where it stands."""

    mch_id: str
    appid: str
    out_trade_no: str
    body: str
    total_fee: int
    fee_type: str
    trade_type: str
    notify_url: str
    openid: str
    prepay_id: str
    time_start: str
    time_expire: str
    sign_type: str
    fingerprint: dict[str, str]
    attach: str = ""
    spbill_create_ip: str = ""
    state: str = "NOTPAY"
    transaction_id: str = ""
    time_end: str = ""
    refunded_fee: int = 0
    refunds: list[SandboxRefund] = field(default_factory=list)
    created_at: float = field(default_factory=time.time)

    def to_json(self) -> str:
        """Serialise for Redis."""
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, raw: bytes | str) -> SandboxOrder:
        """Load what to_json wrote."""
        data: dict[str, Any] = json.loads(raw)
        data["refunds"] = [SandboxRefund(**r) for r in data.get("refunds", [])]
        return cls(**data)

    def find_refund(self, out_refund_no: str) -> SandboxRefund | None:
        """The refund with this merchant refund number, if any."""
        return next((r for r in self.refunds if r.out_refund_no == out_refund_no), None)


class OrderNotFound(LookupError):
    """No sandbox order with that key."""


def _text(raw: Any) -> str:
    # The app's client returns bytes (RQ needs that); accept str too for other clients.
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _order_key(mch_id: str, out_trade_no: str) -> str:
    return f"{_PREFIX}order:{mch_id}:{out_trade_no}"


def _index_member(mch_id: str, out_trade_no: str) -> str:
    return f"{mch_id}:{out_trade_no}"


class PayStore:
    """Sandbox orders, refunds and the notify log in one Redis database."""

    def __init__(self, conn: redis.Redis) -> None:
        """Use this Redis connection."""
        self.conn = conn

    def insert_order(self, order: SandboxOrder) -> tuple[SandboxOrder, bool]:
        """Store a new order unless one exists; return (stored order, whether it is new)."""
        key = _order_key(order.mch_id, order.out_trade_no)
        if self.conn.set(key, order.to_json(), nx=True):
            member = _index_member(order.mch_id, order.out_trade_no)
            self.conn.zadd(_ORDERS_INDEX, {member: order.created_at})
            return order, True
        existing = self.get_order(order.mch_id, order.out_trade_no)
        if existing is None:  # deleted between the two calls: only a flush does that
            raise OrderNotFound(order.out_trade_no)
        return existing, False

    def get_order(self, mch_id: str, out_trade_no: str) -> SandboxOrder | None:
        """The order, or None."""
        raw = self.conn.get(_order_key(mch_id, out_trade_no))
        return SandboxOrder.from_json(raw) if raw is not None else None

    def update_order(
        self, mch_id: str, out_trade_no: str, mutate: Callable[[SandboxOrder], T]
    ) -> T:
        """Apply ``mutate`` to the stored order atomically and return what it returns.

        ``mutate`` may run more than once if another worker changes the order meanwhile,
        so it must only touch the order it is given.
        """
        key = _order_key(mch_id, out_trade_no)
        result: list[T] = []

        def attempt(pipe: Any) -> None:
            raw = pipe.get(key)
            if raw is None:
                raise OrderNotFound(out_trade_no)
            order = SandboxOrder.from_json(raw)
            result[:] = [mutate(order)]
            pipe.multi()
            pipe.set(key, order.to_json())

        self.conn.transaction(attempt, key)
        return result[0]

    def link_transaction(self, transaction_id: str, mch_id: str, out_trade_no: str) -> None:
        """Remember which order a WeChat transaction id belongs to."""
        self.conn.set(f"{_PREFIX}txn:{transaction_id}", _index_member(mch_id, out_trade_no))

    def order_by_transaction(self, transaction_id: str) -> SandboxOrder | None:
        """The order paid under this transaction id, or None."""
        raw = self.conn.get(f"{_PREFIX}txn:{transaction_id}")
        if raw is None:
            return None
        mch_id, _, out_trade_no = _text(raw).partition(":")
        return self.get_order(mch_id, out_trade_no)

    def claim_refund_no(self, mch_id: str, out_refund_no: str, out_trade_no: str) -> str:
        """Bind a merchant refund number to an order (first claim wins); return its owner."""
        key = f"{_PREFIX}refundno:{mch_id}:{out_refund_no}"
        self.conn.set(key, out_trade_no, nx=True)
        owner = self.conn.get(key)
        return _text(owner) if owner is not None else out_trade_no

    def refund_owner(self, mch_id: str, out_refund_no: str) -> str | None:
        """The out_trade_no a merchant refund number belongs to, or None."""
        raw = self.conn.get(f"{_PREFIX}refundno:{mch_id}:{out_refund_no}")
        return _text(raw) if raw is not None else None

    def link_refund_id(self, refund_id: str, mch_id: str, out_trade_no: str) -> None:
        """Remember which order a WeChat refund id belongs to."""
        self.conn.set(f"{_PREFIX}refundid:{refund_id}", _index_member(mch_id, out_trade_no))

    def order_by_refund_id(self, refund_id: str) -> SandboxOrder | None:
        """The order holding the refund with this WeChat refund id, or None."""
        raw = self.conn.get(f"{_PREFIX}refundid:{refund_id}")
        if raw is None:
            return None
        mch_id, _, out_trade_no = _text(raw).partition(":")
        return self.get_order(mch_id, out_trade_no)

    def list_orders(self, limit: int = 50) -> list[SandboxOrder]:
        """The most recent orders, newest first."""
        members = self.conn.zrevrange(_ORDERS_INDEX, 0, max(limit, 1) - 1)
        orders = []
        for member in members:
            mch_id, _, out_trade_no = _text(member).partition(":")
            order = self.get_order(mch_id, out_trade_no)
            if order is not None:
                orders.append(order)
        return orders

    def next_sequence(self) -> int:
        """A number never handed out before by this Redis database."""
        return int(self.conn.incr(_SEQUENCE))

    def record_notify(self, entry: dict[str, Any]) -> None:
        """Append a delivery attempt to the notify log (bounded)."""
        pipe = self.conn.pipeline()
        pipe.lpush(_NOTIFY_LOG, json.dumps(entry, ensure_ascii=False, sort_keys=True))
        pipe.ltrim(_NOTIFY_LOG, 0, NOTIFY_LOG_LIMIT - 1)
        pipe.execute()

    def list_notifies(self, limit: int = NOTIFY_LOG_LIMIT) -> list[dict[str, Any]]:
        """Delivery attempts, newest first."""
        return [json.loads(raw) for raw in self.conn.lrange(_NOTIFY_LOG, 0, max(limit, 1) - 1)]
