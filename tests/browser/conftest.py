"""Headless Chromium (Debian's ``chromium``) driven by Playwright, and a live sandbox app.

Playwright's own browser download cannot be used, so the system browser is launched
through ``executable_path``. A missing browser fails the run in CI (CI=true), where
``make test`` must have installed it, and skips with instructions elsewhere.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.live_server import reserve_port, serve
from webapp.extensions import db
from webapp.redis_conn import get_redis

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MISSING = (
    "Chromium is not installed: the browser tests need Debian's `chromium` "
    "(`sudo apt-get install chromium`, or run `make test`, which installs it as root); "
    "set CHATSHOP_CHROMIUM to use another binary"
)


def find_chromium() -> str | None:
    """$CHATSHOP_CHROMIUM, else the first chromium binary on PATH or in /usr/bin."""
    configured = os.environ.get("CHATSHOP_CHROMIUM")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name) or (f"/usr/bin/{name}" if os.access(f"/usr/bin/{name}",
                                                                        os.X_OK) else None)
        if found:
            return found
    return None


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path of the system Chromium; fails in CI and skips elsewhere when there is none."""
    path = find_chromium()
    if path is None:
        if _in_ci():
            pytest.fail(MISSING, pytrace=False)
        pytest.skip(MISSING)
    return path


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Any]:
    """One headless Chromium for the session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (own cookies) and page, phone-sized."""
    context = browser.new_context(viewport={"width": 1100, "height": 900}, locale="zh-CN")
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield tab
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def live_sandbox(make_test_app: Any) -> Iterator[Any]:
    """Factory: serve a sandbox app (schema created, Redis empty); yields (app, url)."""
    served: list[Any] = []

    def start(**settings: Any) -> tuple[Any, str]:
        port = reserve_port()
        url = f"http://127.0.0.1:{port}"
        app = make_test_app(WECHAT_SANDBOX=True, PUBLIC_BASE_URL=url, **settings)
        with app.app_context():
            db.create_all()
            get_redis().flushdb()
        server = serve(app, port)
        server.__enter__()
        served.append((app, server))
        return app, url

    yield start
    for app, server in served:
        server.__exit__(None, None, None)
        with app.app_context():
            get_redis().flushdb()
            db.session.remove()
            db.engine.dispose()
