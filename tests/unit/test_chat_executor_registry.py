"""The storefront's executor: every intent is carried out by exactly one feature, and the
services' typed refusals become the Failed codes the dialogue words."""
from __future__ import annotations

from collections import Counter
from typing import Any, get_args

import pytest

from bots.dialogue import intents as it
from commissions.withdrawals import BalanceTooLow, BelowMinimumWithdrawal, WithdrawalInDebt
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from referral.distributors import DistributorNotActive, DistributorRevoked, NotADistributor
from shop.refunds import RefundAfterShipping
from storefront import executor

INTENT_TYPES = get_args(it.Intent)


def test_every_intent_type_is_carried_out_by_exactly_one_feature():
    claims = Counter(key for feature in executor.FEATURES for key in feature.EXECUTORS)
    assert {cls: claims[cls] for cls in INTENT_TYPES} == dict.fromkeys(INTENT_TYPES, 1)
    assert set(executor.EXECUTORS) == set(INTENT_TYPES)


@pytest.mark.parametrize(("error", "code", "subject"), [
    (NotADistributor("only active distributors can do this (yours: none)", ""),
     "not_distributor", ""),
    (DistributorNotActive("only active distributors can do this (yours: frozen)", "frozen"),
     "frozen", ""),
    (DistributorNotActive("only active distributors can do this (yours: pending)", "pending"),
     "pending", ""),
    (DistributorRevoked("revoked"), "revoked", ""),
    (WithdrawalInDebt("you owe", available_fen=-1500), "withdraw_debt", "1500"),
    (BalanceTooLow("only 20.00", available_fen=2000), "withdraw_insufficient", "2000"),
    (BelowMinimumWithdrawal("smallest", 100, amount_fen=["x"]), "withdraw_below_min", "100"),
    (RefundAfterShipping("part of this order has shipped"), "refund_shipped", ""),
    (NotFound("order not found"), "not_found", ""),
    (Forbidden("only operators and the buyer can refund an order"), "forbidden", ""),
    (Conflict("busy"), "conflict", ""),
    (InvalidInput("odd"), "invalid_input", ""),
])
def test_a_refusal_is_worded_by_its_type(error: Any, code: str, subject: str):
    failed = executor.refusal(None, it.RequestWithdrawal, error)  # type: ignore[arg-type]
    assert failed.action is it.RequestWithdrawal
    assert (failed.code, failed.subject) == (code, subject)
    assert failed.message in ("", error.message)
