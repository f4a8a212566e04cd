"""Absolute URLs of the H5 pages, for replies and menus built outside a request."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from flask import current_app


def _base(config: Mapping[str, Any] | None) -> str:
    cfg = config if config is not None else current_app.config
    return str(cfg["PUBLIC_BASE_URL"]).rstrip("/") + "/h5"


def pay_page_url(number: str, config: Mapping[str, Any] | None = None) -> str:
    """The page where the buyer pays order ``number`` (WeChat OAuth first if needed)."""
    return f"{_base(config)}/pay/{quote(number, safe='')}"


def order_page_url(number: str, config: Mapping[str, Any] | None = None) -> str:
    """The buyer's page of order ``number``."""
    return f"{_base(config)}/orders/{quote(number, safe='')}"


def order_list_url(config: Mapping[str, Any] | None = None) -> str:
    """The buyer's order list."""
    return f"{_base(config)}/orders"
