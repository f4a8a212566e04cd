"""``chatshop seed ...``: fill the database with demo data."""
from __future__ import annotations

from collections.abc import Sequence

import click
from flask.cli import with_appcontext

from webapp.extensions import db
from webapp.seed import IssuedToken, seed_demo


@click.group("seed")
def seed_group() -> None:
    """Demo data."""


def print_tokens(tokens: Sequence[IssuedToken]) -> None:
    """Show freshly issued tokens (they are never shown again)."""
    click.echo("API tokens (shown once; run again for new ones):")
    for issued in tokens:
        click.echo(f"  {issued.who} (user {issued.user_id}): {issued.token}")


@seed_group.command("demo")
@with_appcontext
def seed_demo_command() -> None:
    """Create the demo shop (idempotent) and print new API tokens for its staff."""
    report = seed_demo(db.session)
    created = ", ".join(f"{n} {kind}" for kind, n in sorted(report.created.items()))
    click.echo(f"demo data: created {created or 'nothing (already there)'}")
    print_tokens(report.tokens)
