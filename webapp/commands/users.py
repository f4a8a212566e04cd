"""``chatshop users ...``: list people and issue API tokens."""
from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from core.models import User, UserRole
from shop.auth import issue_token
from webapp.extensions import db


@click.group("users")
def users_group() -> None:
    """Users and their API tokens."""


@users_group.command("token")
@click.argument("who")
@click.option("--label", default="cli", show_default=True, help="Note stored with the token.")
@with_appcontext
def token_command(who: str, label: str) -> None:
    """Issue an API token for WHO (a user id or an openid); prints only the token."""
    user = db.session.scalar(select(User).where(User.openid == who))
    if user is None and who.isdigit():
        user = db.session.get(User, int(who))
    if user is None:
        raise click.ClickException(f"no user with id or openid {who!r}")
    token = issue_token(db.session, user.id, label)
    click.echo(f"token for user {user.id} ({user.nickname or user.openid}):", err=True)
    click.echo(token)


@users_group.command("list")
@click.option("--role", default=None, help="Only users holding this role.")
@with_appcontext
def list_command(role: str | None) -> None:
    """List users: id, roles, supplier, openid, nickname."""
    stmt = select(User).order_by(User.id)
    if role:
        stmt = stmt.where(User.roles.any(UserRole.role == role))
    users = db.session.scalars(stmt).all()
    click.echo(f"{'id':>5}  {'roles':<22} {'supplier':>8}  {'openid':<24} nickname")
    for user in users:
        supplier = str(user.supplier_id) if user.supplier_id is not None else "-"
        click.echo(
            f"{user.id:>5}  {','.join(user.role_names):<22} {supplier:>8}  "
            f"{user.openid or '-':<24} {user.nickname}"
        )
    click.echo(f"{len(users)} user(s)", err=True)
