"""``chatshop wechat ...``: the official account's setup (custom menu)."""
from __future__ import annotations

import json

import click
import requests
from flask import current_app
from flask.cli import with_appcontext
from wechatpy.exceptions import WeChatClientException

from adapters.wechat.menu import MenuInvalid, build_menu, check_menu
from webapp.clients import wechat_client


@click.group("wechat")
def wechat_group() -> None:
    """The WeChat official account: custom menu."""


@wechat_group.group("menu")
def menu_group() -> None:
    """The custom menu (CLICK keys the chat understands)."""


@menu_group.command("show")
@with_appcontext
def show_command() -> None:
    """Print the menu that ``push`` would send, as JSON."""
    menu = build_menu(current_app.config["PUBLIC_BASE_URL"])
    check_menu(menu)
    click.echo(json.dumps(menu, ensure_ascii=False, indent=2))


@menu_group.command("push")
@with_appcontext
def push_command() -> None:
    """Build the custom menu and push it to WeChat (menu/create)."""
    config = current_app.config
    menu = build_menu(config["PUBLIC_BASE_URL"])
    try:
        check_menu(menu)
    except MenuInvalid as exc:
        raise click.ClickException(f"menu refused before sending: {exc}") from exc
    try:
        wechat_client().menu.create(menu)
    except WeChatClientException as exc:
        raise click.ClickException(
            f"WeChat refused the menu: errcode {exc.errcode} {exc.errmsg}"
        ) from exc
    except requests.RequestException as exc:
        raise click.ClickException(f"WeChat could not be reached: {type(exc).__name__}") from exc
    count = sum(len(b.get("sub_button") or [b]) for b in menu["button"])
    click.echo(f"menu pushed to {config['WECHAT_API_BASE_URL']}: "
               f"{len(menu['button'])} buttons, {count} entries")
