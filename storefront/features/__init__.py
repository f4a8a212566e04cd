"""What the chat's intents do in the shop, one module per feature.

Each module exports ``EXECUTORS``: intent class -> ``execute(chat, intent) -> event``.
:mod:`storefront.executor` merges them into one registry and turns the services'
typed refusals into ``Failed`` events; a feature only catches a refusal when it
means something particular to that intent (a short stock while adding to the cart).
"""
