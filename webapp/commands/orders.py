"""``chatshop orders ...``: order housekeeping an operator can run by hand."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from shop.orders import auto_complete_orders, cancel_expired_orders
from webapp.extensions import db


@click.group("orders")
def orders_group() -> None:
    """Order housekeeping."""


@orders_group.command("expire")
@with_appcontext
def expire_command() -> None:
    """Cancel unpaid orders past their payment deadline and release their stock."""
    count = cancel_expired_orders(db.session)
    click.echo(f"cancelled {count} expired order(s)")


@orders_group.command("autocomplete")
@with_appcontext
def autocomplete_command() -> None:
    """Complete shipped orders whose buyer did not confirm within AUTO_COMPLETE_DAYS."""
    count = auto_complete_orders(db.session)
    click.echo(f"completed {count} order(s)")
