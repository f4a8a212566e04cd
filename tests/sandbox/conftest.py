"""Fixtures of the sandbox tests: the sandbox served over HTTP (helpers: support/sandbox.py)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.apps import MakeApp, sandbox_settings, served_app
from tests.support.live_server import reserve_port
from tests.support.sandbox import NotifySink, Oa, Sandbox


@pytest.fixture
def sandbox(make_app: MakeApp) -> Iterator[Sandbox]:
    """The sandbox served on a free port, PUBLIC_BASE_URL pointing at itself."""
    port = reserve_port()
    app = make_app(**sandbox_settings(port))
    sink = NotifySink()
    app.add_url_rule("/test/notify-sink", "test_notify_sink", sink.receive, methods=["POST"])
    with served_app(app, port) as url:
        yield Sandbox(app=app, url=url, sink=sink)


@pytest.fixture
def oa(make_app: MakeApp) -> Iterator[Oa]:
    """The sandbox served on a free port, PUBLIC_BASE_URL pointing at itself."""
    port = reserve_port()
    app = make_app(**sandbox_settings(port, SANDBOX_TEMPLATE_JOB_EVENTS=False,
                                      SANDBOX_QR_PERMANENT_LIMIT=3))
    with served_app(app, port) as url:
        yield Oa(app=app, url=url)
