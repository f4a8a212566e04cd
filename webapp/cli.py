"""The ``chatshop`` command: a Flask CLI group with one sub-group per area."""
from __future__ import annotations

from typing import IO, Any

import click
from flask import Flask
from flask.cli import FlaskGroup, NoAppException

from core.settings_check import UnsafeConfiguration
from webapp import create_app
from webapp.commands import register

# Exit status of a command refused because the settings are unsafe (check-config exits 1).
REFUSED_EXIT_CODE = 2


class RefusedToStart(NoAppException):
    """The app refused its settings: print the findings alone (no usage, no traceback).

    A NoAppException, so that ``chatshop --help`` shows the message and still lists
    the commands (check-config among them) instead of a traceback.
    """

    exit_code = REFUSED_EXIT_CODE

    def show(self, file: IO[Any] | None = None) -> None:
        """Print only the message, to stderr."""
        click.echo(self.format_message(), err=True)

    def format_message(self) -> str:
        """The refusal as raised by the factory, every finding on its own line."""
        return self.message


def _create_app() -> Flask:
    """App for the CLI, configured from the environment (refused if unsafe)."""
    try:
        return create_app()
    except UnsafeConfiguration as exc:
        raise RefusedToStart(str(exc)) from None


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """ChatShop: WeChat chat-bot storefront for social distribution."""


# Every command group lives in its own module under webapp/commands.
register(main)


if __name__ == "__main__":
    main()
