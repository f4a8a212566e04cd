"""WeChat payouts of withdrawals through the real wechatpy client against the live sandbox.

Success, a definite refusal (money back), an unknown outcome (SYSTEMERROR, a
timeout) settled by reconciliation, a lost job picked up by reconciliation,
and retries that never pay twice; ``ledger check`` clean after every step.
"""
from __future__ import annotations

import pytest
from rq import Queue

from adapters.wechat.pay_v2 import EXTENSION_KEY, GatewayError, PayGateway
from commissions import payouts
from commissions import withdrawals as wd
from commissions.earnings import EarningsSummary
from commissions.payouts import pay_withdrawal, reconcile_withdrawals
from core.models import Withdrawal
from sandbox.pay import sandbox_transfers, script_transfers
from tests.support.live_server import LiveSandbox
from tests.support.money import assert_ledger_clean
from tests.support.settings import reconfigure
from tests.support.stories import Funded, fund, summary
from webapp.clients import pay_gateway
from webapp.extensions import db
from webapp.redis_conn import get_redis
from workers import jobs


@pytest.fixture
def live(live_sandbox: LiveSandbox) -> tuple[LiveSandbox, Funded]:
    return live_sandbox, fund(live_sandbox.app)


def approved(funded: Funded, amount: int) -> Withdrawal:
    made = wd.request_withdrawal(db.session, funded.me, amount)
    return wd.approve_withdrawal(db.session, funded.operator, made.id)


def status_of(withdrawal_id: int) -> str:
    db.session.expire_all()
    found = db.session.get(Withdrawal, withdrawal_id).status
    db.session.rollback()
    return found


def paid_numbers() -> list[tuple[str, int]]:
    return [(t.partner_trade_no, t.amount) for t in sandbox_transfers()]


def test_approval_queues_one_job_and_the_job_pays(live):
    sandbox, funded = live
    made = approved(funded, 3_000)
    assert payouts.enqueue_payout(made, get_redis()) is True
    assert payouts.enqueue_payout(made, get_redis()) is False  # same job id: queued once
    queue = Queue("payments", connection=get_redis())
    assert queue.job_ids == [f"withdrawal-payout-{made.id}"]

    assert jobs.pay_withdrawal(made.id) == "succeeded"
    db.session.expire_all()
    done = db.session.get(Withdrawal, made.id)
    assert done.status == "succeeded" and done.reference.startswith("1000")
    assert paid_numbers() == [(made.number, 3_000)]
    transfer = sandbox_transfers()[0]
    assert transfer.openid == funded.alice.openid and transfer.check_name == "NO_CHECK"
    assert summary(funded.alice) == EarningsSummary(0, 2_000, 0, 3_000, 0)
    assert_ledger_clean(funded.order)

    # The job run again (RQ retry, a duplicate): nothing more is paid or booked.
    assert jobs.pay_withdrawal(made.id) == "skipped"
    assert reconcile_withdrawals(db.session, pay_gateway(), older_than_minutes=0) == 0
    assert paid_numbers() == [(made.number, 3_000)]
    assert_ledger_clean(funded.order)


def test_a_definite_refusal_fails_and_returns_the_money(live):
    sandbox, funded = live
    made = approved(funded, 3_000)
    script_transfers("fail", err_code="NOTENOUGH")
    assert pay_withdrawal(db.session, pay_gateway(), made.id) == "failed"
    db.session.expire_all()
    done = db.session.get(Withdrawal, made.id)
    assert done.status == "failed" and done.failure_reason.startswith("NOTENOUGH")
    assert paid_numbers() == []
    assert summary(funded.alice) == EarningsSummary(0, 5_000, 0, 0, 0)
    assert_ledger_clean(funded.order)
    assert reconcile_withdrawals(db.session, pay_gateway(), older_than_minutes=0) == 0


def test_systemerror_stays_submitted_and_a_retry_never_pays_twice(live):
    sandbox, funded = live
    made = approved(funded, 3_000)
    script_transfers("systemerror")  # WeChat paid, but the answer does not say so
    assert pay_withdrawal(db.session, pay_gateway(), made.id) == "unknown"
    assert status_of(made.id) == "submitted"
    assert paid_numbers() == [(made.number, 3_000)]
    assert summary(funded.alice) == EarningsSummary(0, 2_000, 3_000, 0, 0)
    assert_ledger_clean(funded.order)

    # The job is retried: the same number again, WeChat answers the first payment.
    assert jobs.pay_withdrawal(made.id) == "succeeded"
    assert paid_numbers() == [(made.number, 3_000)]
    assert summary(funded.alice) == EarningsSummary(0, 2_000, 0, 3_000, 0)
    assert_ledger_clean(funded.order)


def test_a_timeout_is_settled_by_reconciliation(live):
    sandbox, funded = live
    reconfigure(sandbox.app, WECHAT_HTTP_TIMEOUT_SECONDS=1)
    sandbox.app.extensions.pop(EXTENSION_KEY, None)
    made = approved(funded, 2_500)
    script_transfers("slow", delay=2.5)
    assert pay_withdrawal(db.session, pay_gateway(), made.id) == "unknown"
    assert status_of(made.id) == "submitted"
    assert_ledger_clean(funded.order)
    # Too recent for reconciliation yet.
    assert reconcile_withdrawals(db.session, pay_gateway(), older_than_minutes=5) == 0
    assert status_of(made.id) == "submitted"
    assert jobs.reconcile_withdrawals(older_than_minutes=0) == 1
    db.session.expire_all()
    done = db.session.get(Withdrawal, made.id)
    assert done.status == "succeeded" and done.reference.startswith("1000")
    assert paid_numbers() == [(made.number, 2_500)]
    assert summary(funded.alice) == EarningsSummary(0, 2_500, 0, 2_500, 0)
    assert_ledger_clean(funded.order)


def test_reconciliation_pays_what_never_reached_wechat(live):
    sandbox, funded = live
    lost_job = approved(funded, 1_000)  # approved, but its job was never queued
    crashed = approved(funded, 2_000)
    wd.mark_submitted(db.session, crashed.id)  # the job died before calling WeChat
    assert reconcile_withdrawals(db.session, pay_gateway(), older_than_minutes=0) == 2
    assert status_of(lost_job.id) == status_of(crashed.id) == "succeeded"
    assert sorted(paid_numbers()) == sorted([(lost_job.number, 1_000), (crashed.number, 2_000)])
    assert summary(funded.alice) == EarningsSummary(0, 2_000, 0, 3_000, 0)
    assert_ledger_clean(funded.order)


def test_manual_withdrawals_are_never_sent_to_wechat(live):
    sandbox, funded = live
    made = wd.request_withdrawal(db.session, funded.me, 1_000, channel="manual")
    wd.approve_withdrawal(db.session, funded.operator, made.id)
    db.session.expire_all()
    assert payouts.enqueue_payout(db.session.get(Withdrawal, made.id), get_redis()) is False
    assert pay_withdrawal(db.session, pay_gateway(), made.id) == "skipped"
    assert reconcile_withdrawals(db.session, pay_gateway(), older_than_minutes=0) == 0
    assert paid_numbers() == []
    assert status_of(made.id) == "approved"


class _Answers(PayGateway):
    """A gateway whose transfer raises a given error (classification only)."""

    error: GatewayError

    def transfer(self, **kwargs):  # type: ignore[override]
        raise self.error


@pytest.mark.parametrize(("code", "outcome"), [
    ("NOTENOUGH", "failed"), ("V2_ACCOUNT_SIMPLE_BAN", "failed"), ("NAME_MISMATCH", "failed"),
    ("SYSTEMERROR", "unknown"), ("FREQ_LIMIT", "unknown"), ("", "unknown"),
])
def test_only_known_refusals_count_as_failed(app, code, outcome):
    from adapters.wechat.pay_v2 import TRANSFER_REFUSALS

    funded = fund(app)
    made = approved(funded, 1_000)
    gateway = _Answers.from_config(app.config)
    gateway.error = GatewayError(f"transfer: {code}", definite=code in TRANSFER_REFUSALS,
                                 code=code)
    assert pay_withdrawal(db.session, gateway, made.id) == outcome
    assert status_of(made.id) == ("failed" if outcome == "failed" else "submitted")
    assert_ledger_clean(funded.order)
