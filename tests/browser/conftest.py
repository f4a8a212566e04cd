"""Headless Chromium (Debian's ``chromium``) driven by Playwright, and a live sandbox app.

Playwright's own browser download cannot be used, so the system browser is launched
through ``executable_path``. A missing browser fails the run in CI (CI=true), where
``make test`` must have installed it, and skips with instructions elsewhere.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from tests.support.apps import MakeApp, served_app
from tests.support.browser import CHROMIUM_ARGS, MISSING, find_chromium, in_ci
from tests.support.live_server import reserve_port


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path of the system Chromium; fails in CI and skips elsewhere when there is none."""
    path = find_chromium()
    if path is None:
        if in_ci():
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
def live_sandbox(make_app: MakeApp) -> Iterator[Any]:
    """Factory: serve a sandbox app (schema created, Redis empty); yields (app, url)."""
    with ExitStack() as served:

        def start(**settings: Any) -> tuple[Any, str]:
            port = reserve_port()
            url = f"http://127.0.0.1:{port}"
            app = make_app(WECHAT_SANDBOX=True, PUBLIC_BASE_URL=url, **settings)
            served.enter_context(served_app(app, port))
            return app, url

        yield start
