"""``chatshop ledger ...``: check the money, replay an order, settle matured commission."""
from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from commissions.replay import find_order, replay_order
from commissions.settlement import settle_matured_commissions
from core.errors import DomainError
from shop.ledger_checks import LIMIT, check_ledger
from webapp.extensions import db


@click.group("ledger")
def ledger_group() -> None:
    """The double-entry ledger."""


@ledger_group.command("check")
@with_appcontext
def check_command() -> None:
    """Check every ledger invariant; exit 1 when any is breached."""
    breaches = 0
    for name, found in check_ledger(db.session).items():
        breaches += len(found)
        click.echo(f"{'ok  ' if not found else 'FAIL'} {name}"
                   + (f" ({len(found)} breach{'es' if len(found) > 1 else ''})" if found else ""))
        for line in found[:LIMIT]:
            click.echo(f"     {line}")
    if breaches:
        click.echo(f"ledger check failed: {breaches} breach(es)", err=True)
        sys.exit(1)
    click.echo("ledger check passed")


@ledger_group.command("replay")
@click.option("--order", "order_ident", required=True, help="order number or id")
@with_appcontext
def replay_command(order_ident: str) -> None:
    """Recompute an order's money from its events and show any difference; exit 1 if any."""
    try:
        order = find_order(db.session, order_ident.strip())
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    report = replay_order(db.session, order)
    click.echo(f"order {report.number}: expected postings")
    for code, fen in sorted(report.expected_accounts.items()):
        click.echo(f"  {code:40} {fen:>12} fen")
    if report.clean:
        click.echo("the ledger matches the replay")
        return
    for line in report.differences:
        click.echo(f"  DIFF {line}")
    click.echo(f"{len(report.differences)} difference(s)", err=True)
    sys.exit(1)


@ledger_group.command("settle")
@with_appcontext
def settle_command() -> None:
    """Make commission whose return window has passed available now."""
    click.echo(f"settled {settle_matured_commissions(db.session)} commission line(s)")
