"""A live sandbox app (real HTTP on 127.0.0.1) and a notify receiver inside it."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask, Response, request
from wechatpy.pay import WeChatPay

from tests.support.live_server import reserve_port, serve
from webapp.redis_conn import get_redis

ACK = (
    "<xml><return_code><![CDATA[SUCCESS]]></return_code>"
    "<return_msg><![CDATA[OK]]></return_msg></xml>"
)


@dataclass
class NotifySink:
    """Collects what the sandbox POSTs to /test/notify-sink and answers like a merchant."""

    bodies: list[bytes] = field(default_factory=list)
    acknowledge: bool = True
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def receive(self) -> Response:
        """The test-only view: remember the body, answer SUCCESS (or fail if told to)."""
        with self.arrived:
            self.bodies.append(request.get_data())
            self.arrived.notify_all()
        if self.acknowledge:
            return Response(ACK, mimetype="text/xml")
        return Response("busy", status=503)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[bytes]:
        """Block until ``count`` notifies arrived; fail the test otherwise."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.bodies) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} notifies, got {len(self.bodies)}")
                self.arrived.wait(left)
            return list(self.bodies)


@dataclass
class Sandbox:
    """A served sandbox app, its URL, the notify receiver and a wechatpy client for it."""

    app: Flask
    url: str
    sink: NotifySink

    @property
    def notify_url(self) -> str:
        """Where sandbox notifies reach the test's receiver."""
        return self.url + "/test/notify-sink"

    def client(self, api_key: str | None = None, mch_id: str | None = None) -> WeChatPay:
        """A real wechatpy WeChatPay talking to this sandbox."""
        cfg = self.app.config
        pay = WeChatPay(
            appid=cfg["WECHAT_APP_ID"],
            api_key=api_key or cfg["WECHAT_PAY_API_KEY"],
            mch_id=mch_id or cfg["WECHAT_MCH_ID"],
            timeout=5,
        )
        pay.API_BASE_URL = cfg["WECHAT_PAY_API_BASE_URL"]
        return pay

    def create_order(self, out_trade_no: str, total_fee: int = 1000, **extra: Any) -> Any:
        """Unified order for a JSAPI payment, notifies going to the test receiver."""
        params: dict[str, Any] = {
            "trade_type": "JSAPI",
            "body": "ChatShop test order",
            "total_fee": total_fee,
            "notify_url": self.notify_url,
            "client_ip": "127.0.0.1",
            "user_id": "o-test-buyer",
            "out_trade_no": out_trade_no,
        }
        params.update(extra)
        return self.client().order.create(**params)

    def in_app(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` inside this app's context."""
        with self.app.app_context():
            return fn()


@pytest.fixture
def sandbox(make_test_app: Any) -> Iterator[Sandbox]:
    """The sandbox served on a free port, PUBLIC_BASE_URL pointing at itself."""
    port = reserve_port()
    app = make_test_app(
        WECHAT_SANDBOX=True,
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        SANDBOX_NOTIFY_RETRY_DELAYS=(),
    )
    sink = NotifySink()
    app.add_url_rule("/test/notify-sink", "test_notify_sink", sink.receive, methods=["POST"])
    with app.app_context():
        get_redis().flushdb()
    with serve(app, port) as url:
        yield Sandbox(app=app, url=url, sink=sink)
    with app.app_context():
        get_redis().flushdb()
