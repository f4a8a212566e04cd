"""The ``chatshop`` command: a Flask CLI group with one sub-group per area."""
from __future__ import annotations

import click
from flask.cli import FlaskGroup

from webapp import create_app


def _create_app() -> object:
    """App for the CLI, configured from the environment."""
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """ChatShop: WeChat chat-bot storefront for social distribution."""


def _register_commands() -> None:
    """Attach every command group (kept in their own modules)."""
    from webapp.commands import register

    register(main)


_register_commands()


if __name__ == "__main__":
    main()
