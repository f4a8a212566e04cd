"""A served sandbox app and a notify receiver inside it (the sandbox tests' view of it)."""
from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from flask import Flask, Response, request
from PIL import Image
from wechatpy import WeChatClient
from wechatpy.pay import WeChatPay

from sandbox import create_consumer
from sandbox.oa import set_subscribed

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


class SandboxWeChatClient(WeChatClient):
    """wechatpy's client with the token URL following API_BASE_URL (wechatpy hard-codes it)."""

    def fetch_access_token(self) -> Any:
        """Fetch the token from the same base URL as every other call."""
        return self._fetch_access_token(
            url=self.API_BASE_URL + "token",
            params={"grant_type": "client_credential", "appid": self.appid,
                    "secret": self.secret},
        )


@dataclass
class Oa:
    """A served sandbox and helpers to reach its official-account API."""

    app: Flask
    url: str

    @property
    def api(self) -> str:
        """WECHAT_API_BASE_URL of the app."""
        return str(self.app.config["WECHAT_API_BASE_URL"])

    def client(self, secret: str | None = None, auto_retry: bool = True) -> WeChatClient:
        """A real wechatpy client talking to the sandbox."""
        cfg = self.app.config
        client = SandboxWeChatClient(
            cfg["WECHAT_APP_ID"], secret or cfg["WECHAT_APP_SECRET"], timeout=5,
            auto_retry=auto_retry,
        )
        client.API_BASE_URL = self.api
        return client

    def in_app(self, fn: Any) -> Any:
        """Run ``fn`` inside the app context."""
        with self.app.app_context():
            return fn()

    def follower(self, nickname: str = "buyer") -> str:
        """A sandbox user who follows the account; returns the openid."""
        def make() -> str:
            user = create_consumer(nickname)
            set_subscribed(user.openid, True)
            return user.openid
        return str(self.in_app(make))

    def token(self) -> str:
        """A fresh access token, fetched over HTTP."""
        cfg = self.app.config
        answer = requests.get(self.api + "token", params={
            "grant_type": "client_credential", "appid": cfg["WECHAT_APP_ID"],
            "secret": cfg["WECHAT_APP_SECRET"]}, timeout=5).json()
        return str(answer["access_token"])


def read_qr_modules(png: bytes, box: tuple[int, int, int] | None = None,
                    modules: int | None = None) -> list[list[bool]]:
    """The dark/light modules of a QR picture, sampled at each module's centre.

    ``box`` (left, top, side) locates the code inside a larger picture (whole picture
    by default); ``modules`` is the side in modules, quiet zone included.
    """
    image = Image.open(io.BytesIO(png)).convert("L")
    left, top, side = box or (0, 0, image.size[0])
    assert modules is not None
    step = side / modules
    return [
        [image.getpixel((int(left + (x + 0.5) * step), int(top + (y + 0.5) * step))) < 128
         for x in range(modules)]
        for y in range(modules)
    ]
