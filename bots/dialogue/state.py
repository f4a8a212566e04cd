"""A user's dialogue state: small, JSON-serialisable and versioned.

It remembers only what makes the next message meaningful: the language the
user writes in, the numbered list shown last (so "2" means something), the
product shown last (so "加购 2" does), the step of a multi-message flow
(checkout, refund reason, search prompt) and the last order created (so a
second "确认" can point at it instead of ordering twice). Carts and orders live
in the database, never here.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

STATE_VERSION = 1


@dataclass
class State:
    """Everything the engine remembers between two messages of one user."""

    lang: str = "zh"
    touched: float = 0.0  # when the user last wrote (epoch seconds)
    # {"kind": "menu"|"categories"|"products"|"cart"|"orders"|"addresses"|"distributor",
    #  "ids": [...], "extra": [...], "page": n, "pages": n, "source": {...}}
    listing: dict[str, Any] | None = None
    # {"id": product id, "title": str, "skus": [[sku id, name, price fen, stock], ...]}
    product: dict[str, Any] | None = None
    # {"name": "checkout"|"refund"|"search", "step": str, ...step data}
    flow: dict[str, Any] | None = None
    # {"number": str, "pay_url": str}
    last_order: dict[str, Any] | None = None
    version: int = field(default=STATE_VERSION)

    def copy(self) -> State:
        """A copy sharing nothing mutable with this state (cheaper than ``copy.deepcopy``:
        the state holds only JSON values, and this runs for every message)."""
        return State(self.lang, self.touched, _clone(self.listing), _clone(self.product),
                     _clone(self.flow), _clone(self.last_order), self.version)

    def to_json(self) -> str:
        """The state as compact JSON."""
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes | None) -> State:
        """Load a stored state; anything unreadable or of another version starts afresh."""
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return cls()
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            return cls()
        try:
            state = cls(**{k: data[k] for k in _FIELDS if k in data})
        except TypeError:
            return cls()
        if state.lang not in ("zh", "en") or not isinstance(state.touched, int | float):
            return cls()
        for name in ("listing", "product", "flow", "last_order"):
            if not isinstance(getattr(state, name), dict | None):
                return cls()
        return state


_FIELDS = ("lang", "touched", "listing", "product", "flow", "last_order", "version")


def _clone(value: Any) -> Any:
    """A copy of a JSON value: dicts and lists are new, everything else is immutable."""
    if isinstance(value, dict):
        return {key: _clone(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clone(item) for item in value]
    return value

