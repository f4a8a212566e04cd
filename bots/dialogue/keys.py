"""Custom-menu CLICK keys: the single place both the dialogue and the menu builder read."""
from __future__ import annotations

MENU_CATEGORIES = "MENU_CATEGORIES"
MENU_SEARCH = "MENU_SEARCH"
MENU_CART = "MENU_CART"
MENU_ORDERS = "MENU_ORDERS"
MENU_DISTRIBUTOR = "MENU_DISTRIBUTOR"
MENU_HELP = "MENU_HELP"

# Straight to one distributor-centre item. The default menu has no room for all of
# them (WeChat allows 3 x 5 buttons); a menu for distributors (or a free slot) may
# use any of these.
MENU_DIST_APPLY = "MENU_DIST_APPLY"
MENU_DIST_CODE = "MENU_DIST_CODE"
MENU_DIST_QR = "MENU_DIST_QR"
MENU_DIST_POSTER = "MENU_DIST_POSTER"
MENU_DIST_TEAM = "MENU_DIST_TEAM"

# The keys of the default menu (``adapters.wechat.menu.build_menu`` uses every one).
ALL_MENU_KEYS = (
    MENU_CATEGORIES,
    MENU_SEARCH,
    MENU_CART,
    MENU_ORDERS,
    MENU_DISTRIBUTOR,
    MENU_HELP,
)

DISTRIBUTOR_MENU_KEYS = (
    MENU_DIST_APPLY,
    MENU_DIST_CODE,
    MENU_DIST_QR,
    MENU_DIST_POSTER,
    MENU_DIST_TEAM,
)

# Every key the dialogue understands.
CLICK_KEYS = ALL_MENU_KEYS + DISTRIBUTOR_MENU_KEYS
