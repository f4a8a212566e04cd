"""Running ``chatshop`` sub-commands against a test app."""
from __future__ import annotations

from typing import Any

from flask import Flask

from webapp.cli import main


class ChatshopRunner:
    """Runs ``chatshop`` sub-commands against the test app."""

    def __init__(self, app: Flask) -> None:
        self._runner = app.test_cli_runner()

    def invoke(self, args: list[str]) -> Any:
        """The result of ``chatshop <args>``."""
        return self._runner.invoke(main, args=args)
