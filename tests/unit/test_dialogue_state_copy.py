"""State.copy: a full copy for the engine to work on, sharing nothing mutable."""
from __future__ import annotations

import copy

from bots.dialogue.state import State


def test_copy_equals_the_state_and_shares_nothing_mutable():
    state = State(lang="en", touched=12.5,
                  listing={"kind": "products", "ids": [1, 2, 3], "source": {"category": 4}},
                  product={"id": 9, "skus": [[1, "500g", 1990, 3]]},
                  flow={"name": "checkout", "step": "address", "draft": {"recipient": "A"}},
                  last_order={"number": "CS1", "pay_url": "http://x"})
    clone = state.copy()
    assert clone == state == copy.deepcopy(state)
    assert clone.to_json() == state.to_json()
    clone.listing["ids"].append(4)
    clone.listing["source"]["category"] = 5
    clone.product["skus"][0][3] = 0
    clone.flow["draft"]["recipient"] = "B"
    clone.last_order["number"] = "CS2"
    assert state.listing == {"kind": "products", "ids": [1, 2, 3], "source": {"category": 4}}
    assert state.product["skus"] == [[1, "500g", 1990, 3]]
    assert state.flow["draft"] == {"recipient": "A"} and state.last_order["number"] == "CS1"


def test_copy_of_an_empty_state():
    assert State().copy() == State()
