"""The dialogue's registries: every command, event and intent has exactly one handler.

A feature that adds a command, an intent or an event and forgets to register its
handler fails here, not in a user's chat.
"""
from __future__ import annotations

import re
import types
from collections import Counter
from pathlib import Path
from typing import get_args

import pytest

from bots.dialogue import engine
from bots.dialogue import events as ev
from bots.dialogue import grammar as g
from bots.dialogue import intents as it

ROOT = Path(__file__).resolve().parents[2]
INTENT_TYPES = get_args(it.Intent)
EVENT_TYPES = get_args(ev.Event)


def _claims(registry: str) -> Counter[object]:
    """How many feature modules register each key of ``registry``."""
    return Counter(key for feature in engine.FEATURES for key in getattr(feature, registry))


def test_every_command_the_grammar_can_produce_is_a_known_name():
    produced = {command for command, _arg in g._KEYWORDS.values()}
    produced |= {g.parse("2").name, g.parse("CS2024010112000012345678").name,
                 g.parse("what is this").name}
    produced |= {str(item) for item in engine.help.MENU_ITEMS}
    produced |= {cmd.name for cmd in engine._CLICKS.values()}
    assert produced <= set(g.COMMAND_NAMES)
    assert len(set(g.COMMAND_NAMES)) == len(g.COMMAND_NAMES)


def test_every_command_has_exactly_one_handler():
    claims = _claims("COMMANDS")
    assert {name: claims[name] for name in g.COMMAND_NAMES} == dict.fromkeys(g.COMMAND_NAMES, 1)
    assert set(claims) == set(g.COMMAND_NAMES)  # no handler for a name nobody produces
    assert set(engine.COMMANDS) == set(g.COMMAND_NAMES)


def test_every_event_class_has_exactly_one_handler():
    claims = _claims("EVENTS")
    claims[ev.Failed] += 1  # the engine's own: it hands Failed on to FAILURES
    assert {cls: claims[cls] for cls in EVENT_TYPES} == dict.fromkeys(EVENT_TYPES, 1)
    assert set(engine.EVENTS) == set(EVENT_TYPES)


def test_every_intent_type_has_exactly_one_failure_handler():
    claims = _claims("FAILURES")
    assert {cls: claims[cls] for cls in INTENT_TYPES} == dict.fromkeys(INTENT_TYPES, 1)
    assert set(engine.FAILURES) == set(INTENT_TYPES)


def test_every_typing_step_has_one_handler_and_names_a_flow():
    claims = _claims("TEXT_STEPS")
    assert all(count == 1 for count in claims.values())
    assert set(engine.TEXT_STEPS) == {("checkout", "name"), ("checkout", "phone"),
                                      ("checkout", "detail"), ("refund", "reason"),
                                      ("search", "query")}


def test_a_key_claimed_by_two_features_is_refused_at_start_up():
    first = types.ModuleType("first")
    second = types.ModuleType("second")
    first.COMMANDS = {g.CART: lambda step, cmd: None}  # type: ignore[attr-defined]
    second.COMMANDS = {g.CART: lambda step, cmd: None}  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match="both first and second"):
        engine._merge("COMMANDS", (first, second))


def test_failed_names_the_intent_type_not_a_string():
    failed = ev.Failed(it.ShowCart, "internal")
    assert failed.action is it.ShowCart
    assert ev.Failed.__annotations__["action"] == "type[Intent]"


@pytest.mark.parametrize("path", [
    "bots/dialogue/engine.py", "bots/dialogue/step.py", "storefront/executor.py",
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "bots/dialogue/features").glob("*.py")),
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "storefront/features").glob("*.py")),
])
def test_no_dispatch_by_built_names(path):
    source = (ROOT / path).read_text(encoding="utf-8")
    assert not re.search(r"getattr\(\s*self\s*,", source)
    assert not re.search(r"""getattr\([^)]*["']_""", source)
