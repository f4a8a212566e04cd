"""The official account's custom menu: CLICK keys the dialogue understands, one H5 link.

The CLICK keys are the dialogue engine's (``bots.dialogue.keys``), so a menu
press and the matching typed command land in the same place.
"""
from __future__ import annotations

from typing import Any

from adapters.wechat.links import order_list_url
from bots.dialogue.keys import (
    MENU_CART,
    MENU_CATEGORIES,
    MENU_DISTRIBUTOR,
    MENU_HELP,
    MENU_ORDERS,
    MENU_SEARCH,
)

# WeChat's limits (custom menu API): 3 top-level buttons of at most 5 sub
# buttons; names 16 bytes at the top, 60 bytes below; keys 128, URLs 1024 bytes.
MAX_TOP_BUTTONS = 3
MAX_SUB_BUTTONS = 5
MAX_TOP_NAME_BYTES = 16
MAX_SUB_NAME_BYTES = 60
MAX_KEY_BYTES = 128
MAX_URL_BYTES = 1024

__all__ = [
    "MENU_CART",
    "MENU_CATEGORIES",
    "MENU_DISTRIBUTOR",
    "MENU_HELP",
    "MENU_ORDERS",
    "MENU_SEARCH",
    "MenuInvalid",
    "build_menu",
    "check_menu",
]


class MenuInvalid(ValueError):
    """The menu breaks one of WeChat's limits."""


def _click(name: str, key: str) -> dict[str, Any]:
    return {"type": "click", "name": name, "key": key}


def build_menu(public_base_url: str) -> dict[str, Any]:
    """The menu ChatShop pushes: shop, cart, and "me" (orders, H5 order list, distributor)."""
    orders_url = order_list_url(public_base_url)
    return {
        "button": [
            {
                "name": "购物 Shop",
                "sub_button": [
                    _click("商品分类 Categories", MENU_CATEGORIES),
                    _click("搜索 Search", MENU_SEARCH),
                ],
            },
            _click("购物车 Cart", MENU_CART),
            {
                "name": "我的 Me",
                "sub_button": [
                    _click("订单状态 Order status", MENU_ORDERS),
                    {"type": "view", "name": "我的订单 / My orders", "url": orders_url},
                    _click("分销中心 Distributor", MENU_DISTRIBUTOR),
                    _click("帮助 Help", MENU_HELP),
                ],
            },
        ]
    }


def _check_leaf(button: dict[str, Any], max_name: int) -> None:
    name = str(button.get("name", ""))
    if not name or len(name.encode("utf-8")) > max_name:
        raise MenuInvalid(f"button name {name!r} must be 1-{max_name} bytes")
    kind = button.get("type")
    if kind == "click":
        key = str(button.get("key", ""))
        if not key or len(key.encode("utf-8")) > MAX_KEY_BYTES:
            raise MenuInvalid(f"button {name!r}: key must be 1-{MAX_KEY_BYTES} bytes")
    elif kind == "view":
        url = str(button.get("url", ""))
        if not url.startswith(("http://", "https://")) or len(url.encode()) > MAX_URL_BYTES:
            raise MenuInvalid(f"button {name!r}: url must be an http(s) URL of at most "
                              f"{MAX_URL_BYTES} bytes")
    else:
        raise MenuInvalid(f"button {name!r}: unsupported type {kind!r}")


def check_menu(menu: dict[str, Any]) -> None:
    """Raise MenuInvalid if WeChat would refuse ``menu``."""
    buttons = menu.get("button") or []
    if not 1 <= len(buttons) <= MAX_TOP_BUTTONS:
        raise MenuInvalid(f"a menu has 1-{MAX_TOP_BUTTONS} top-level buttons")
    for button in buttons:
        subs = button.get("sub_button")
        if subs is None:
            _check_leaf(button, MAX_TOP_NAME_BYTES)
            continue
        name = str(button.get("name", ""))
        if not name or len(name.encode("utf-8")) > MAX_TOP_NAME_BYTES:
            raise MenuInvalid(f"button name {name!r} must be 1-{MAX_TOP_NAME_BYTES} bytes")
        if not 1 <= len(subs) <= MAX_SUB_BUTTONS:
            raise MenuInvalid(f"{name!r}: 1-{MAX_SUB_BUTTONS} sub buttons")
        for sub in subs:
            _check_leaf(sub, MAX_SUB_NAME_BYTES)
