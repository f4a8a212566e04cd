"""Finding the system Chromium for the browser tests (Playwright's own download cannot be used)."""
from __future__ import annotations

import os
import shutil

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


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
