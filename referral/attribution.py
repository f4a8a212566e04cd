"""The attribution chain a paid order snapshots: who may earn on it, at which level.

Written in the payment's own transaction, so later tree changes (rebinding,
freezing, tier changes) never rewrite a paid order. Costs a constant number of
statements whatever the depth of the tree: the settings, one walk up the tree,
one multi-row insert.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import insert

from core.models import OrderReferral
from core.uow import DbSession
from referral.domain.rules import InactiveUpline, attribution_chain
from referral.settings import current_rules
from referral.tree import ancestors


def chain_snapshot(session: DbSession, buyer_id: int) -> dict[str, Any]:
    """The attribution snapshot of a purchase by ``buyer_id`` now (not yet stored)."""
    rules = current_rules(session)
    forfeit = rules.inactive_upline is InactiveUpline.FORFEIT
    walk = ancestors(session, buyer_id, enough=rules.levels, count_inactive=forfeit)
    chain = attribution_chain(walk.above, rules.levels, rules.inactive_upline, buyer=walk.own)
    return {
        "levels": rules.levels,
        "inactive_upline": str(rules.inactive_upline),
        "source": walk.source,
        "members": [
            {"level": m.level, "distributor_id": m.distributor_id, "tier": m.tier_code,
             "earns": m.earns}
            for m in chain
        ],
    }


def record_attribution(session: DbSession, order_id: int, snapshot: dict[str, Any]) -> None:
    """Store the chain members who earn as queryable rows (team sales, tiers, commissions)."""
    rows = [
        {"order_id": order_id, "level": m["level"], "distributor_id": m["distributor_id"],
         "tier_code": m["tier"]}
        for m in snapshot["members"] if m["earns"]
    ]
    if rows:
        session.execute(insert(OrderReferral), rows)
