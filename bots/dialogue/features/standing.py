"""A distributor's standing: the words for a tool refused because of the user's status."""
from __future__ import annotations

from bots.dialogue import events as ev
from bots.dialogue.step import Step

# Failed codes that are the user's distributor status (the shop's typed refusals
# NotADistributor and DistributorNotActive), each with its own explanation.
STATUS_REFUSALS = frozenset({"not_distributor", "pending", "rejected", "frozen", "revoked"})


def said_status(step: Step, event: ev.Failed) -> bool:
    """Explain a refusal caused by the user's distributor status; False if it was not one."""
    if event.code not in STATUS_REFUSALS:
        return False
    step.reply(step.t("dist_status_" + event.code))
    return True
