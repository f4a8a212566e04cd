"""Absolute URLs of the H5 pages, for replies and menus built outside a request.

``public_base_url`` is the PUBLIC_BASE_URL setting (a trailing slash is allowed).
"""
from __future__ import annotations

from urllib.parse import quote


def _base(public_base_url: str) -> str:
    return public_base_url.rstrip("/") + "/h5"


def pay_page_url(number: str, public_base_url: str) -> str:
    """The page where the buyer pays order ``number`` (WeChat OAuth first if needed)."""
    return f"{_base(public_base_url)}/pay/{quote(number, safe='')}"


def order_page_url(number: str, public_base_url: str) -> str:
    """The buyer's page of order ``number``."""
    return f"{_base(public_base_url)}/orders/{quote(number, safe='')}"


def order_list_url(public_base_url: str) -> str:
    """The buyer's order list."""
    return f"{_base(public_base_url)}/orders"
