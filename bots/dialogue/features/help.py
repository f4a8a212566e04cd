"""Help and the main menu, and the answer to anything not understood."""
from __future__ import annotations

from bots.dialogue import grammar as g
from bots.dialogue.step import CommandHandler, EventHandler, FailureHandler, Step, TextHandler
from bots.dialogue.texts import clip

# The main menu's items, in the order "1", "2", ... picks them.
MENU_ITEMS = (g.CATEGORIES, g.SEARCH, g.CART, g.ORDERS, g.DISTRIBUTOR, g.HELP)


def show_help(step: Step, cmd: g.Command) -> None:
    """``帮助`` / ``help``: the command list."""
    step.reply(step.t("help"))


def not_understood(step: Step, cmd: g.Command) -> None:
    """A line that is no command: a hint for the step the user is in, else the help."""
    if step.expired == "flow":
        step.no_context()
        return
    said = step.t("not_understood", text=clip(cmd.rest, 20)) if cmd.rest else ""
    if step.flow_is("checkout", "confirm"):
        step.reply(said, step.t("confirm_hint"))
    elif step.flow_is("checkout", "address"):
        step.reply(said, step.t("address_hint"))
    elif step.flow_is("add") and step.s.product:
        step.reply(said, step.t("pick_sku_hint", n=len(step.s.product["skus"])))
    else:
        step.reply(said, step.t("help"))


def remember_menu(step: Step) -> None:
    """Make the main menu the list a number picks from."""
    step.s.listing = {"kind": "menu", "ids": list(MENU_ITEMS)}


def show_menu(step: Step, cmd: g.Command) -> None:
    """``菜单`` / ``menu``: the numbered main menu."""
    remember_menu(step)
    step.reply(step.t("menu"))


COMMANDS: dict[str, CommandHandler] = {
    g.HELP: show_help,
    g.UNKNOWN: not_understood,
    g.MENU: show_menu,
}
EVENTS: dict[type, EventHandler] = {}
FAILURES: dict[type, FailureHandler] = {}
TEXT_STEPS: dict[tuple[str, str], TextHandler] = {}
