"""Serve a Flask app on 127.0.0.1 in a background thread, for tests that need real HTTP.

The app's PUBLIC_BASE_URL must equal the live URL (wechatpy calls the sandbox
through it, and the sandbox posts notifies back to it), so reserve the port
first, build the app with that URL, then serve it on the same port::

    port = reserve_port()
    app = make_app(WECHAT_SANDBOX=True, PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
    with serve(app, port) as base_url:
        ...
"""
from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

HOST = "127.0.0.1"


def reserve_port() -> int:
    """Pick a currently free TCP port on 127.0.0.1 for a server started soon after."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def base_url_for(port: int) -> str:
    """The base URL (no trailing slash) of a live server on ``port``."""
    return f"http://{HOST}:{port}"


class LiveServer:
    """A threaded werkzeug server running one WSGI app until stopped."""

    def __init__(self, app: Callable[..., Any], port: int | None = None) -> None:
        """Bind the server now (port 0 or None picks a free one); call start() to serve."""
        self._server: BaseWSGIServer = make_server(HOST, port or 0, app, threaded=True)
        self.port = int(self._server.server_port)
        self.url = base_url_for(self.port)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"live-server-{self.port}",
            daemon=True,
        )

    def start(self) -> LiveServer:
        """Start serving in the background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wait for the thread and release the port."""
        self._server.shutdown()
        self._thread.join(timeout=10)
        self._server.server_close()


@contextmanager
def serve(app: Callable[..., Any], port: int | None = None) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 (on ``port`` if given) and yield its base URL."""
    server = LiveServer(app, port).start()
    try:
        yield server.url
    finally:
        server.stop()


@dataclass
class LiveSandbox:
    """An app in sandbox mode served over HTTP (WeChat's APIs are the sandbox's), and its URL."""

    app: Flask
    url: str
