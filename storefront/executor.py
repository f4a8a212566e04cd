"""Carries out the dialogue engine's intents with the shop's services and reports events.

Every intent gets exactly one event back. What an intent does lives in its
feature module (:mod:`storefront.features`); this module only dispatches through
``EXECUTORS`` (intent class -> execute function) and turns the services' typed
refusals into ``Failed`` events through ``REFUSALS`` (error class -> Failed). Anything
unexpected is logged, rolled back and reported as ``Failed(code="internal")``, so
a chat user never sees a stack trace and the webhook never answers with an error.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any

from sqlalchemy import select

from adapters.wechat.pay_v2 import PayGateway
from bots.dialogue import events as ev
from bots.dialogue import intents as it
from commissions.withdrawals import BalanceTooLow, BelowMinimumWithdrawal, WithdrawalInDebt
from core.actors import Actor
from core.errors import DomainError, NotFound, OutOfStock
from core.models import Product, Sku
from core.settings import Settings
from core.uow import DbSession
from referral.distributors import DistributorNotActive, DistributorRevoked, NotADistributor
from shop.refunds import RefundAfterShipping
from storefront.features import (
    binding,
    browse,
    cart,
    checkout,
    distributor,
    orders,
    refunds,
    withdrawals,
)
from storefront.features.context import ChatUser, Execute, china_month
from storefront.state_store import StateStore

__all__ = ["EXECUTORS", "FEATURES", "REFUSALS", "Executor", "china_month"]

log = logging.getLogger(__name__)

# Every feature the chat can carry out; a new one is added here.
FEATURES: tuple[ModuleType, ...] = (
    binding, distributor, withdrawals, browse, cart, checkout, orders, refunds,
)


def _merge(features: Iterable[ModuleType]) -> dict[type, Execute]:
    merged: dict[type, Execute] = {}
    for feature in features:
        part: Mapping[type, Execute] = feature.EXECUTORS
        for intent_type, execute in part.items():
            if intent_type in merged:
                raise RuntimeError(f"{intent_type.__name__} is carried out twice "
                                   f"(again by {feature.__name__})")
            merged[intent_type] = execute
    return merged


EXECUTORS: dict[type, Execute] = _merge(FEATURES)
"""Intent class -> the function that carries it out."""

Action = type[it.Intent]
Refusal = Callable[[ChatUser, Action, Any], ev.Failed]


def _sku_title(chat: ChatUser, exc: OutOfStock) -> str:
    sku_id = exc.details.get("sku_id")
    title = chat.session.scalar(
        select(Product.title).join(Sku, Sku.product_id == Product.id).where(Sku.id == sku_id)
    ) if sku_id else None
    return str(title or "")


REFUSALS: dict[type[DomainError], Refusal] = {
    # Who may use a distributor tool: the engine words each status.
    NotADistributor: lambda chat, action, exc: ev.Failed(action, "not_distributor"),
    DistributorNotActive: lambda chat, action, exc: ev.Failed(action, exc.status),
    DistributorRevoked: lambda chat, action, exc: ev.Failed(action, "revoked"),
    # Withdrawals: subject is the amount the sentence names, in fen.
    WithdrawalInDebt: lambda chat, action, exc: ev.Failed(
        action, "withdraw_debt", exc.message, str(exc.debt_fen)),
    BalanceTooLow: lambda chat, action, exc: ev.Failed(
        action, "withdraw_insufficient", exc.message, str(exc.available_fen)),
    BelowMinimumWithdrawal: lambda chat, action, exc: ev.Failed(
        action, "withdraw_below_min", exc.message, str(exc.min_fen)),
    RefundAfterShipping: lambda chat, action, exc: ev.Failed(
        action, "refund_shipped", exc.message),
    OutOfStock: lambda chat, action, exc: ev.Failed(
        action, "out_of_stock", exc.message, _sku_title(chat, exc)),
    NotFound: lambda chat, action, exc: ev.Failed(action, "not_found", exc.message),
    DomainError: lambda chat, action, exc: ev.Failed(action, exc.error_code, exc.message),
}
"""Error class -> its Failed event; the most specific class of a refusal wins."""


def refusal(chat: ChatUser, action: Action, exc: DomainError) -> ev.Failed:
    """The Failed event for a service's refusal, by the most specific class registered."""
    for cls in type(exc).__mro__:
        word = REFUSALS.get(cls)
        if word is not None:
            return word(chat, action, exc)
    raise AssertionError("DomainError is registered")  # every refusal is a DomainError


class Executor:
    """Runs intents for one chat user."""

    def __init__(
        self, session: DbSession, actor: Actor, openid: str, store: StateStore,
        settings: Settings, gateway: PayGateway,
    ) -> None:
        """Act for ``actor`` (whose WeChat id is ``openid``) with the app's ``settings``,
        paying and refunding through ``gateway``."""
        self.chat = ChatUser(session, actor, openid, store, settings, gateway)

    def run(self, intent: it.Intent) -> ev.Event:
        """Carry out one intent; never raises."""
        chat, action = self.chat, type(intent)
        try:
            return EXECUTORS[action](chat, intent)
        except DomainError as exc:
            chat.session.rollback()
            return refusal(chat, action, exc)
        except Exception:  # noqa: BLE001 - the chat must answer; the log keeps the details
            log.exception("chat intent %s failed for user %s", action.__name__, chat.user_id)
            chat.session.rollback()
            return ev.Failed(action, "internal")
