"""What a Python file imports, read with ast (for the layering tests)."""
from __future__ import annotations

import ast
from pathlib import Path

# What pure domain code may not import: frameworks and the shop's impure modules.
FORBIDDEN = ("flask", "flask_sqlalchemy", "flask_smorest", "sqlalchemy", "wechatpy", "rq",
             "redis", "core.models", "shop.addresses", "shop.administration", "shop.auth",
             "shop.cart", "shop.catalogue", "shop.checkout", "shop.identity",
             "shop.ledger_checks", "shop.order_status", "shop.orders", "shop.payments",
             "shop.refunds", "webapp", "storefront", "adapters", "workers")


def imported_modules(path: Path) -> set[str]:
    """Every module named by an ``import`` or ``from ... import`` in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found
