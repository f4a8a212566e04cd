"""One call of the engine: a private copy of the state plus what to answer.

Feature modules (:mod:`bots.dialogue.features`) receive a :class:`Step` and work
on it: they change the state, add replies and ask for intents. A feature that
hands a command on to another (the main menu's "3", "邀请码" alone) calls
:meth:`Step.command`, which dispatches through the registry the engine passed in,
so features never import the engine.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from bots.dialogue import events as ev
from bots.dialogue import grammar as g
from bots.dialogue import intents as it
from bots.dialogue.state import State
from bots.dialogue.texts import say
from bots.messages import Reply, TextReply

if TYPE_CHECKING:  # the engine imports this module; its Context is only a type here
    from bots.dialogue.engine import Context

# Commands that keep whatever flow was going on (the others leave it).
KEEPS_FLOW = frozenset({g.HELP, g.CONFIRM, g.CHOOSE, g.CANCEL, g.NEW_ADDRESS, g.NEXT, g.PREV,
                        g.UNKNOWN})
# What may be said while the engine waits for a size ("加购 2" on a product with several
# SKUs): the number itself, help, cancel, or something it did not understand (hinted again).
KEEPS_SKU_STEP = frozenset({g.CHOOSE, g.HELP, g.CANCEL, g.UNKNOWN})


class Step:
    """The state being changed by one engine call, and the replies and intents it makes."""

    def __init__(self, state: State, ctx: Context,
                 commands: Mapping[str, CommandHandler]) -> None:
        """Work on a copy of ``state``; ``commands`` is the engine's command registry."""
        self.s = state.copy()
        self.ctx = ctx
        self.commands = commands
        self.replies: list[Reply] = []
        self.intents: list[it.Intent] = []
        self.expired: str | None = None  # "flow" or "list" when the old state timed out

    # -- output ---------------------------------------------------------------------------

    def t(self, key: str, **fields: Any) -> str:
        """The sentence ``key`` in the user's language."""
        return say(self.s.lang, key, **fields)

    def reply(self, *parts: str) -> None:
        """Answer with one text made of the non-empty ``parts``, one per line."""
        # One message per turn where possible: only the first goes back as the passive
        # reply, the others cost customer-service quota.
        self.replies.append(TextReply("\n".join(p for p in parts if p)))

    def ask(self, intent: it.Intent) -> None:
        """Ask the shop to carry out ``intent``; its event comes back to the engine."""
        self.intents.append(intent)

    # -- commands and flows ---------------------------------------------------------------

    def command(self, cmd: g.Command) -> None:
        """Carry out a parsed command: leave the flow it ends, then call its handler."""
        if cmd.lang:
            self.s.lang = cmd.lang
        if cmd.name not in KEEPS_FLOW or (
            self.flow_is("add") and cmd.name not in KEEPS_SKU_STEP
        ):
            self.drop_flow()
        self.commands[cmd.name](self, cmd)

    def flow_is(self, name: str, step: str | None = None) -> bool:
        """Whether the current flow is ``name`` (and at ``step``, when given)."""
        flow = self.s.flow
        if flow is None or flow.get("name") != name:
            return False
        return step is None or flow.get("step") == step

    def drop_flow(self) -> None:
        """Leave the current flow (and the address list that belongs to checkout)."""
        if self.s.flow is not None:
            self.s.flow = None
            if self.s.listing and self.s.listing.get("kind") == "addresses":
                self.s.listing = None

    def no_context(self) -> None:
        """Say that what the user refers to is gone (timed out, or never shown)."""
        if self.expired == "flow":
            self.reply(self.t("flow_expired", minutes=self.ctx.idle_seconds // 60))
        elif self.expired == "list":
            self.reply(self.t("list_expired"))
        else:
            self.reply(self.t("no_list"))


CommandHandler = Callable[[Step, g.Command], None]
"""Handles one command name (``grammar.CART`` ...)."""
EventHandler = Callable[[Step, Any], None]
"""Renders one event class; ``Any`` because each handler takes its own class."""
FailureHandler = Callable[[Step, ev.Failed], None]
"""Words an ``events.Failed`` for one intent type."""
TextHandler = Callable[[Step, dict[str, Any], str], None]
"""Takes a line typed as data in one flow step (a name, a reason): step, flow, text."""


def say_failure(step: Step, event: ev.Failed) -> None:
    """The words for a refusal no feature has its own words for."""
    if event.code == "internal":
        step.reply(step.t("internal"))
    else:
        step.reply(step.t("failed", message=event.message))
