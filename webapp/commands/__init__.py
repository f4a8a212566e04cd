"""CLI command groups of ``chatshop`` (``db`` comes from Flask-Migrate)."""
from __future__ import annotations

import click

from webapp.commands import check_config, demo, ledger, orders, seed, users, wechat, worker


def register(group: click.Group) -> None:
    """Add ChatShop's own command groups to the top-level group."""
    group.add_command(ledger.ledger_group)
    group.add_command(orders.orders_group)
    group.add_command(seed.seed_group)
    group.add_command(users.users_group)
    group.add_command(worker.worker_command)
    group.add_command(demo.demo_command)
    group.add_command(wechat.wechat_group)
    group.add_command(check_config.check_config_command)
