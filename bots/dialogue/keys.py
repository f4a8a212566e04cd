"""Custom-menu CLICK keys: the single place both the dialogue and the menu builder read."""
from __future__ import annotations

MENU_CATEGORIES = "MENU_CATEGORIES"
MENU_SEARCH = "MENU_SEARCH"
MENU_CART = "MENU_CART"
MENU_ORDERS = "MENU_ORDERS"
MENU_DISTRIBUTOR = "MENU_DISTRIBUTOR"
MENU_HELP = "MENU_HELP"

ALL_MENU_KEYS = (
    MENU_CATEGORIES,
    MENU_SEARCH,
    MENU_CART,
    MENU_ORDERS,
    MENU_DISTRIBUTOR,
    MENU_HELP,
)
