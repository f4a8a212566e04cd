"""Joining a distributor's team: the welcome after a QR scan, and typed invite codes."""
from __future__ import annotations

from bots.dialogue import events as ev
from bots.dialogue import grammar as g
from bots.dialogue import intents as it
from bots.dialogue.features.distributor import open_tool
from bots.dialogue.features.help import remember_menu
from bots.dialogue.step import (
    CommandHandler,
    EventHandler,
    FailureHandler,
    Step,
    TextHandler,
    say_failure,
)
from referral.domain.codes import distributor_in_scene, normalise_invite_code

SUBSCRIBE_SCENE_PREFIX = "qrscene_"  # WeChat's prefix on a subscribe's EventKey
# Refusals of a typed invite code -> what to say.
_CODE_REFUSALS = {
    "bad_code": "code_bad",
    "unknown_code": "code_unknown",
    "not_distributor": "code_unknown",
    "self": "code_self",
    "distributor_inactive": "code_inactive",
    "cycle": "code_cycle",
}


def referrer_id(scene: str | None) -> int | None:
    """The distributor's user id a QR scene names ("dist_42" or "qrscene_dist_42")."""
    return distributor_in_scene((scene or "").strip())


def welcome(step: Step, scene: str | None, returning: bool) -> None:
    """A follow or a scan: bind under the scanned distributor first, else greet."""
    if referrer_id(scene) is not None:
        # The binding keeps the EventKey as WeChat sent it; the adapter hands a
        # subscribe's scene over without WeChat's "qrscene_" prefix.
        raw = (scene or "").strip()
        if not returning and not raw.startswith(SUBSCRIBE_SCENE_PREFIX):
            raw = SUBSCRIBE_SCENE_PREFIX + raw
        step.ask(it.BindScene(raw, returning))
        return
    greet(step, None, returning)


def greet(step: Step, nickname: str | None, returning: bool) -> None:
    """The welcome (naming the referrer, if any) and the main menu."""
    step.s.flow = None
    remember_menu(step)
    first = step.t("welcome_back" if returning else "welcome")
    referred = step.t("referred", name=nickname) if nickname else ""
    step.reply(first, referred, step.t("menu"))


def invite(step: Step, cmd: g.Command) -> None:
    """``邀请码`` alone: my code; with a code: bind under its distributor."""
    if not cmd.rest:
        open_tool(step, g.MY_CODE)
        return
    _bind_code(step, cmd.rest)


def bind(step: Step, cmd: g.Command) -> None:
    """``绑定 CODE``; alone: how to."""
    if not cmd.rest:
        step.reply(step.t("bind_hint"))
        return
    _bind_code(step, cmd.rest)


def _bind_code(step: Step, text: str) -> None:
    code = normalise_invite_code(text)
    if code is None:
        step.reply(step.t("code_bad"))
        return
    step.ask(it.BindInviteCode(code))


def scene_bound(step: Step, event: ev.SceneBound) -> None:
    """The welcome, naming the distributor only when the user is now theirs."""
    # When the rules keep an earlier distributor (or refuse), the scan changed nothing
    # worth mentioning.
    named = event.outcome in ("bound", "already")
    greet(step, event.name if named and event.name else None, event.returning)


def invite_code_bound(step: Step, event: ev.InviteCodeBound) -> None:
    """Bound, already theirs, or kept with an earlier distributor."""
    name = event.name or step.t("a_friend")
    step.reply(step.t("code_" + event.outcome, name=name))


def scene_refused(step: Step, event: ev.Failed) -> None:
    """A scan is answered with a welcome whatever happened to the binding."""
    greet(step, None, returning=False)


def code_refused(step: Step, event: ev.Failed) -> None:
    """Why the typed code binds nobody."""
    said = _CODE_REFUSALS.get(event.code)
    if said is not None:
        step.reply(step.t(said))
    else:
        say_failure(step, event)


COMMANDS: dict[str, CommandHandler] = {g.INVITE: invite, g.BIND: bind}
EVENTS: dict[type, EventHandler] = {
    ev.SceneBound: scene_bound,
    ev.InviteCodeBound: invite_code_bound,
}
FAILURES: dict[type, FailureHandler] = {
    it.BindScene: scene_refused,
    it.BindInviteCode: code_refused,
}
TEXT_STEPS: dict[tuple[str, str], TextHandler] = {}
