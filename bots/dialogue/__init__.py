"""The dialogue engine: state + input -> replies + intents, with no web, ORM or WeChat imports.

- ``keys``: custom-menu CLICK keys (also used by ``chatshop wechat menu push``)
- ``grammar``: what a typed line means, Chinese and English
- ``engine``: ``on_input`` / ``on_event``: the turn loop and the registries it dispatches through
- ``features``: the conversation itself, one module per feature (browse, cart, checkout ...)
- ``step``: one engine call as the features see it (state copy, replies, intents)
- ``intents`` / ``events``: what the engine asks the shop to do, and the answers
- ``state``: the small JSON state kept in Redis between messages
- ``texts``: every sentence in both languages; money as "¥12.34"
"""
from bots.dialogue.keys import (
    ALL_MENU_KEYS,
    CLICK_KEYS,
    DISTRIBUTOR_MENU_KEYS,
    MENU_CART,
    MENU_CATEGORIES,
    MENU_DISTRIBUTOR,
    MENU_HELP,
    MENU_ORDERS,
    MENU_SEARCH,
)

__all__ = [
    "ALL_MENU_KEYS",
    "CLICK_KEYS",
    "DISTRIBUTOR_MENU_KEYS",
    "MENU_CART",
    "MENU_CATEGORIES",
    "MENU_DISTRIBUTOR",
    "MENU_HELP",
    "MENU_ORDERS",
    "MENU_SEARCH",
]
