"""The dialogue engine: state + input -> state + replies + intents, and the same for events.

It never touches a database or the network. A user's message goes through
:func:`on_input`; the intents it returns are carried out by the storefront,
whose results come back through :func:`on_event` (one event per intent), which
renders them and remembers what a later "2" or "确认" refers to. Both functions
are pure: the state passed in is not modified, and time and randomness come in
through :class:`Context`.

The conversation itself lives in :mod:`bots.dialogue.features`, one module per
feature. This module keeps the turn loop (idle timeout, menu clicks, lines typed
as data) and the registries it dispatches through, built from the features:
``COMMANDS`` (command name), ``EVENTS`` (event class), ``FAILURES`` (the intent
class a ``Failed`` answers) and ``TEXT_STEPS`` (flow step that takes typed data).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from bots.dialogue import events as ev
from bots.dialogue import grammar as g
from bots.dialogue import intents as it
from bots.dialogue.features import (
    binding,
    browse,
    cart,
    checkout,
    distributor,
    help,
    lists,
    orders,
    refunds,
    withdrawals,
)
from bots.dialogue.features.binding import referrer_id
from bots.dialogue.keys import (
    MENU_CART,
    MENU_CATEGORIES,
    MENU_DIST_APPLY,
    MENU_DIST_CODE,
    MENU_DIST_POSTER,
    MENU_DIST_QR,
    MENU_DIST_TEAM,
    MENU_DISTRIBUTOR,
    MENU_HELP,
    MENU_ORDERS,
    MENU_SEARCH,
)
from bots.dialogue.state import State
from bots.dialogue.step import CommandHandler, EventHandler, FailureHandler, Step, TextHandler
from bots.messages import Inbound, InboundKind, Reply

__all__ = ["COMMANDS", "EVENTS", "FAILURES", "FEATURES", "IDLE_SECONDS", "TEXT_STEPS",
           "Context", "Turn", "on_event", "on_input", "referrer_id"]

IDLE_SECONDS = 30 * 60  # a list or a checkout left longer than this is forgotten

# Every feature of the chat; a new one is added here and nowhere else in the engine.
FEATURES: tuple[ModuleType, ...] = (
    help, lists, browse, cart, checkout, orders, refunds, distributor, withdrawals, binding,
)

_CLICKS = {
    MENU_CATEGORIES: g.Command(g.CATEGORIES, exact=True),
    MENU_SEARCH: g.Command(g.SEARCH, exact=True),
    MENU_CART: g.Command(g.CART, exact=True),
    MENU_ORDERS: g.Command(g.ORDERS, exact=True),
    MENU_DISTRIBUTOR: g.Command(g.DISTRIBUTOR, exact=True),
    MENU_HELP: g.Command(g.HELP, exact=True),
    MENU_DIST_APPLY: g.Command(g.DISTRIBUTOR, (g.APPLY,), exact=True),
    MENU_DIST_CODE: g.Command(g.DISTRIBUTOR, (g.MY_CODE,), exact=True),
    MENU_DIST_QR: g.Command(g.DISTRIBUTOR, (g.MY_QR,), exact=True),
    MENU_DIST_POSTER: g.Command(g.DISTRIBUTOR, (g.POSTER,), exact=True),
    MENU_DIST_TEAM: g.Command(g.DISTRIBUTOR, (g.MY_TEAM,), exact=True),
}
# Commands that still work as commands while typing data, when typed alone.
_ESCAPES = {g.HELP, g.MENU, g.CATEGORIES, g.CART, g.CHECKOUT, g.ORDERS, g.DISTRIBUTOR, g.CANCEL}

def _merge(registry: str, features: Iterable[ModuleType]) -> dict[Any, Any]:
    """One feature registry of every module; a key two features claim is a bug."""
    merged: dict[Any, Any] = {}
    owner: dict[Any, str] = {}
    for feature in features:
        part: Mapping[Any, Any] = getattr(feature, registry)
        for key, handler in part.items():
            if key in merged:
                raise RuntimeError(f"{registry}: {key!r} is handled by both "
                                   f"{owner[key]} and {feature.__name__}")
            merged[key] = handler
            owner[key] = feature.__name__
    return merged


def _failed(step: Step, event: ev.Failed) -> None:
    """A refusal is worded by the feature of the intent it answers."""
    FAILURES[event.action](step, event)


COMMANDS: dict[str, CommandHandler] = _merge("COMMANDS", FEATURES)
"""Command name (``grammar.CART`` ...) -> its handler."""
EVENTS: dict[type, EventHandler] = {**_merge("EVENTS", FEATURES), ev.Failed: _failed}
"""Event class -> the handler that renders it (``Failed`` goes on to ``FAILURES``)."""
FAILURES: dict[type, FailureHandler] = _merge("FAILURES", FEATURES)
"""Intent class -> the handler that words a ``Failed`` answer to it."""
TEXT_STEPS: dict[tuple[str, str], TextHandler] = _merge("TEXT_STEPS", FEATURES)
"""(flow name, step) in which the next line is data (a name, a reason), not a command."""


@dataclass(frozen=True)
class Context:
    """What the engine may not find out by itself: the time and a fresh random token."""

    now: float
    nonce: str = ""
    idle_seconds: int = IDLE_SECONDS


@dataclass(frozen=True)
class Turn:
    """The engine's answer: the new state, replies to send, intents to carry out."""

    state: State
    replies: tuple[Reply, ...] = ()
    intents: tuple[it.Intent, ...] = ()


def on_input(state: State, inbound: Inbound, ctx: Context) -> Turn:
    """React to something the user did."""
    step = Step(state, ctx, COMMANDS)
    _user_did(step, inbound)
    return _result(step)


def on_event(state: State, event: ev.Event, ctx: Context) -> Turn:
    """React to the outcome of an intent."""
    step = Step(state, ctx, COMMANDS)
    EVENTS[type(event)](step, event)
    return _result(step)


def _result(step: Step) -> Turn:
    return Turn(step.s, tuple(step.replies), tuple(step.intents))


def _user_did(step: Step, inbound: Inbound) -> None:
    kind = inbound.kind
    if kind is InboundKind.VIEW or (
        kind is InboundKind.OTHER and (inbound.text or "").startswith("event:")
    ):
        return  # opening a link or a system event: nobody is waiting for an answer
    if kind is InboundKind.UNSUBSCRIBE:
        step.s = State(lang=step.s.lang)
        return
    _expire(step)
    step.s.touched = step.ctx.now
    if kind in (InboundKind.SUBSCRIBE, InboundKind.SCAN):
        binding.welcome(step, inbound.scene, returning=kind is InboundKind.SCAN)
    elif kind is InboundKind.CLICK:
        key = (inbound.text or "").strip()
        step.command(_CLICKS.get(key, g.Command(g.HELP, exact=True)))
    elif kind is InboundKind.TEXT:
        _typed(step, inbound.text)
    elif kind is InboundKind.OTHER:
        step.reply(step.t("help"))  # a message type we do not know: show what we do know
    else:
        step.reply(step.t("media"), step.t("help"))


def _expire(step: Step) -> None:
    s = step.s
    if not s.touched or step.ctx.now - s.touched <= step.ctx.idle_seconds:
        return
    if s.flow:
        step.expired = "flow"
    elif s.listing or s.product:
        step.expired = "list"
    step.s = State(lang=s.lang)


def _typed(step: Step, text: str) -> None:
    cmd = g.parse(text)
    flow = step.s.flow
    if flow:
        takes_text = TEXT_STEPS.get((str(flow.get("name")), str(flow.get("step"))))
        if takes_text is not None and not (cmd.exact and cmd.name in _ESCAPES):
            takes_text(step, flow, g.clean(text))
            return
    step.command(cmd)
