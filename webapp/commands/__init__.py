"""CLI command groups of ``chatshop`` (``db`` comes from Flask-Migrate)."""
from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Add ChatShop's own command groups to the top-level group."""
    from webapp.commands import orders

    group.add_command(orders.orders_group)
