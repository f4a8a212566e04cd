"""Withdrawals: a distributor asks to be paid part of their available balance.

State machine (ARCHITECTURE.md): ``requested → approved → submitted →
succeeded | failed``; ``requested → rejected | cancelled``. Money moves in the
ledger at three points only, each in the same database transaction as the
state change and under an idempotency key per withdrawal and step:

- request: ``distributor_available -X, distributor_withdrawing +X``, taken under
  a row lock on the distributor's accounts, so two concurrent requests can
  never both spend the same money;
- rejected, cancelled or failed: ``distributor_withdrawing -X, distributor_available +X``;
- succeeded: ``distributor_withdrawing -X, payout_clearing +X`` (the earnings
  summary counts that as withdrawn, see ``commissions.earnings.withdrawn_fen``).

Approval and submission move no money; they are audited like every step.
Each transition is an ``UPDATE ... WHERE status IN (...)``, so a second or
concurrent attempt at the same step changes nothing and gets a 409.

How a withdrawal is paid is its channel: ``wechat`` (WeChat Pay enterprise
payment to the distributor's change, ``commissions.payouts``) or ``manual``
(the operator pays by bank transfer and records the outcome by hand).
"""
from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, select, update

from commissions import ledger
from commissions.csv_export import csv_text
from commissions.ledger import Leg
from core.actors import Actor
from core.clock import utcnow
from core.errors import Conflict, InvalidInput, NotFound
from core.journal import audit
from core.models import Role, User, Withdrawal, WithdrawalStatus
from core.money import format_yuan
from core.uow import DbSession, unit_of_work
from referral.distributors import require_active_distributor

S = WithdrawalStatus
STATUSES = (S.REQUESTED, S.APPROVED, S.SUBMITTED, S.SUCCEEDED, S.FAILED, S.REJECTED,
            S.CANCELLED)
# Money of a withdrawal in these states sits in the distributor's withdrawing account.
IN_FLIGHT = (S.REQUESTED, S.APPROVED, S.SUBMITTED)
WECHAT = "wechat"
MANUAL = "manual"
CHANNELS = (WECHAT, MANUAL)
DEFAULT_MIN_FEN = 100
MAX_AMOUNT_FEN = 10**12  # far above any balance; keeps absurd input away from BigInteger
MAX_REASON = 200  # the column's length
MAX_REFERENCE = 64
NUMBER_PREFIX = "WD"


class WithdrawalInDebt(Conflict):
    """The available balance is negative: refunded commission is owed first.

    ``details["available_fen"]`` is the (negative) balance; :attr:`debt_fen` what is owed.
    """

    @property
    def debt_fen(self) -> int:
        """What the distributor owes, in fen (positive)."""
        return -int(self.details.get("available_fen", 0))


class BalanceTooLow(Conflict):
    """The amount is more than the available balance (``details["available_fen"]``)."""

    @property
    def available_fen(self) -> int:
        """What could be withdrawn now, in fen."""
        return int(self.details.get("available_fen", 0))


class BelowMinimumWithdrawal(InvalidInput):
    """The amount is below the smallest withdrawal (:attr:`min_fen`)."""

    def __init__(self, message: str, min_fen: int, **details: Any) -> None:
        super().__init__(message, **details)
        self.min_fen = min_fen


def new_number() -> str:
    """A fresh withdrawal number: letters and digits only, 26 long (WeChat allows 32).

    It is the ``partner_trade_no`` of the WeChat transfer, so it must never be
    reused for another withdrawal; the unique index makes sure of that.
    """
    return f"{NUMBER_PREFIX}{utcnow():%Y%m%d}{secrets.token_hex(8).upper()}"


def _amount(value: Any, min_fen: int) -> int:
    # bool is an int to Python, but True fen is not an amount anyone meant.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("amount_fen must be a whole number of fen",
                           amount_fen=["a whole number of fen is required"])
    if value <= 0:
        raise InvalidInput("amount_fen must be positive", amount_fen=["must be > 0"])
    if value < min_fen:
        raise BelowMinimumWithdrawal(f"the smallest withdrawal is {format_yuan(min_fen)} yuan",
                                     min_fen, amount_fen=[f"must be at least {min_fen}"])
    if value > MAX_AMOUNT_FEN:
        raise InvalidInput("amount_fen is too large", amount_fen=["too large"])
    return value


def _text(value: str | None, name: str, limit: int) -> str:
    text = (value or "").strip()
    if not 1 <= len(text) <= limit:
        raise InvalidInput(f"{name} must be 1-{limit} characters",
                           **{name: [f"1-{limit} characters required"]})
    return text


def _legs_back(withdrawal_owner: int, amount: int) -> list[Leg]:
    return [Leg(ledger.DISTRIBUTOR_WITHDRAWING, withdrawal_owner, -amount),
            Leg(ledger.DISTRIBUTOR_AVAILABLE, withdrawal_owner, amount)]


def request_withdrawal(
    session: DbSession, actor: Actor, amount_fen: Any, *, channel: str | None = None,
    min_fen: int = DEFAULT_MIN_FEN,
) -> Withdrawal:
    """Ask to withdraw ``amount_fen`` of the caller's available balance; the new withdrawal.

    Refused (nothing changed) when the amount is not a whole number of fen, not
    positive or below ``min_fen`` (422), when the caller is not an active
    distributor (403: frozen and revoked distributors cannot withdraw), when
    their available balance is negative (a debt) or smaller than the amount
    (409), or when the channel is unknown or WeChat has no openid for them (422).
    The default channel is ``wechat`` when the user has an openid, else ``manual``.
    """
    amount = _amount(amount_fen, min_fen)
    if channel is not None and channel not in CHANNELS:
        raise InvalidInput(f"channel must be one of {', '.join(CHANNELS)}",
                           channel=["unknown channel"])
    owner = actor.user_id
    with unit_of_work(session):
        require_active_distributor(session, owner, action="withdraw")
        openid = session.scalar(select(User.openid).where(User.id == owner))
        chosen = channel or (WECHAT if openid else MANUAL)
        if chosen == WECHAT and not openid:
            raise InvalidInput("a WeChat payout needs a WeChat account (openid)",
                               channel=["no openid for a wechat payout"])
        # The lock: every request of this distributor (and every posting on these
        # accounts) waits here, then reads the balance as the previous one left it.
        ledger.ensure_accounts(session, [(ledger.DISTRIBUTOR_AVAILABLE, owner),
                                         (ledger.DISTRIBUTOR_WITHDRAWING, owner)], lock=True)
        available = ledger.balance(session, ledger.DISTRIBUTOR_AVAILABLE, owner)
        if available < 0:
            raise WithdrawalInDebt(
                f"you owe {format_yuan(-available)} yuan of refunded commission; "
                "withdrawals resume once later earnings cover it", available_fen=available)
        if amount > available:
            raise BalanceTooLow(f"only {format_yuan(available)} yuan is available",
                                available_fen=available)
        withdrawal = Withdrawal(number=new_number(), distributor_id=owner, amount_fen=amount,
                                status=S.REQUESTED, channel=chosen,
                                openid=openid if chosen == WECHAT else None,
                                requested_at=utcnow())
        session.add(withdrawal)
        session.flush()
        ledger.post(session, "withdrawal.requested", "withdrawal", withdrawal.id, [
            Leg(ledger.DISTRIBUTOR_AVAILABLE, owner, -amount),
            Leg(ledger.DISTRIBUTOR_WITHDRAWING, owner, amount),
        ], key=f"withdrawal.requested:{withdrawal.id}", memo=withdrawal.number)
        audit(session, owner, "withdrawal.requested", "withdrawal", withdrawal.id,
              number=withdrawal.number, amount_fen=amount, channel=chosen)
        withdrawal_id = withdrawal.id
    return _get(session, withdrawal_id)


def _get(session: DbSession, withdrawal_id: int) -> Withdrawal:
    withdrawal = session.get(Withdrawal, withdrawal_id)
    if withdrawal is None:
        raise NotFound("withdrawal not found")
    return withdrawal


def get_withdrawal(session: DbSession, actor: Actor, withdrawal_id: int, *,
                   own_only: bool = False) -> Withdrawal:
    """One withdrawal: operators see any (unless ``own_only``), others only their own (404)."""
    withdrawal = session.get(Withdrawal, withdrawal_id)
    mine_only = own_only or not actor.is_operator()
    if withdrawal is None or (mine_only and withdrawal.distributor_id != actor.user_id):
        raise NotFound("withdrawal not found")
    return withdrawal


def _move(
    session: DbSession, withdrawal_id: int, before: Iterable[str], after: str,
    *, owner: int | None = None, channel: str | None = None, **values: Any,
) -> Withdrawal | None:
    """``before → after`` in one guarded UPDATE; the row when it moved, None when not.

    The guard makes the step happen once even when two callers race: on
    PostgreSQL the second waits for the first one's row lock, then finds the
    status changed and matches nothing.
    """
    conditions = [Withdrawal.id == withdrawal_id, Withdrawal.status.in_(tuple(before))]
    if owner is not None:
        conditions.append(Withdrawal.distributor_id == owner)
    if channel is not None:
        conditions.append(Withdrawal.channel == channel)
    moved = session.execute(
        update(Withdrawal).where(*conditions).values(status=after, **values)
        .returning(Withdrawal.id).execution_options(synchronize_session=False)
    ).first()
    if moved is None:
        return None
    session.expire_all()  # the ORM copy (if any) predates the UPDATE
    return _get(session, withdrawal_id)


def _refuse(session: DbSession, withdrawal_id: int, step: str, *, owner: int | None = None,
            channel: str | None = None) -> Conflict | NotFound:
    """Why a guarded step matched nothing: unknown (404), or in the wrong state (409)."""
    found = session.get(Withdrawal, withdrawal_id)
    if found is None or (owner is not None and found.distributor_id != owner):
        return NotFound("withdrawal not found")
    if channel is not None and found.channel != channel:
        return Conflict(f"only {channel} withdrawals can be {step} by hand; "
                        f"this one is paid through {found.channel}")
    return Conflict(f"this withdrawal is {found.status}; it cannot be {step}")


def cancel_withdrawal(session: DbSession, actor: Actor, withdrawal_id: int) -> Withdrawal:
    """The distributor takes back their own request while it is still ``requested``.

    The money goes back to available. Someone else's withdrawal is a 404.
    """
    now = utcnow()
    with unit_of_work(session):
        moved = _move(session, withdrawal_id, [S.REQUESTED], S.CANCELLED, owner=actor.user_id,
                      finished_at=now, finished_by=actor.user_id)
        if moved is None:
            raise _refuse(session, withdrawal_id, "cancelled", owner=actor.user_id)
        ledger.post(session, "withdrawal.cancelled", "withdrawal", moved.id,
                    _legs_back(moved.distributor_id, moved.amount_fen),
                    key=f"withdrawal.cancelled:{moved.id}", memo=moved.number)
        audit(session, actor.user_id, "withdrawal.cancelled", "withdrawal", moved.id,
              number=moved.number, amount_fen=moved.amount_fen)
    return _get(session, withdrawal_id)


def approve_withdrawal(session: DbSession, actor: Actor, withdrawal_id: int) -> Withdrawal:
    """An operator approves a request (requested → approved); no money moves yet.

    Paying it is the channel's business: ``commissions.payouts`` for ``wechat``,
    the operator's ``mark_paid`` / ``mark_failed`` for ``manual``.
    """
    actor.require(Role.OPERATOR)
    with unit_of_work(session):
        moved = _move(session, withdrawal_id, [S.REQUESTED], S.APPROVED,
                      decided_at=utcnow(), decided_by=actor.user_id)
        if moved is None:
            raise _refuse(session, withdrawal_id, "approved")
        audit(session, actor.user_id, "withdrawal.approved", "withdrawal", moved.id,
              number=moved.number, amount_fen=moved.amount_fen, channel=moved.channel)
    return _get(session, withdrawal_id)


def reject_withdrawal(session: DbSession, actor: Actor, withdrawal_id: int,
                      reason: str) -> Withdrawal:
    """An operator refuses a request, with a reason; the money goes back to available."""
    actor.require(Role.OPERATOR)
    why = _text(reason, "reason", MAX_REASON)
    now = utcnow()
    with unit_of_work(session):
        moved = _move(session, withdrawal_id, [S.REQUESTED], S.REJECTED, failure_reason=why,
                      decided_at=now, decided_by=actor.user_id, finished_at=now)
        if moved is None:
            raise _refuse(session, withdrawal_id, "rejected")
        ledger.post(session, "withdrawal.rejected", "withdrawal", moved.id,
                    _legs_back(moved.distributor_id, moved.amount_fen),
                    key=f"withdrawal.rejected:{moved.id}", memo=why)
        audit(session, actor.user_id, "withdrawal.rejected", "withdrawal", moved.id,
              number=moved.number, amount_fen=moved.amount_fen, reason=why)
    return _get(session, withdrawal_id)


def mark_submitted(session: DbSession, withdrawal_id: int) -> Withdrawal | None:
    """approved → submitted just before the channel is asked to pay (the payout job).

    Returns the withdrawal when it is (now or already) submitted, None when it is
    in any other state (nothing to pay). Its own transaction: once submitted, a
    crash can only leave it for reconciliation, never for a second, new payout.
    """
    with unit_of_work(session):
        moved = _move(session, withdrawal_id, [S.APPROVED], S.SUBMITTED, submitted_at=utcnow())
        if moved is not None:
            audit(session, None, "withdrawal.submitted", "withdrawal", moved.id,
                  number=moved.number, channel=moved.channel)
            return moved
        found = session.get(Withdrawal, withdrawal_id)
        return found if found is not None and found.status == S.SUBMITTED else None


def record_success(session: DbSession, withdrawal_id: int, reference: str, *,
                   actor_id: int | None = None, channel: str | None = None,
                   before: Iterable[str] = (S.SUBMITTED,)) -> Withdrawal | None:
    """The payout happened: → succeeded, withdrawing → payout clearing. None if not applicable.

    Idempotent: a withdrawal already settled (by another job or reconciliation)
    matches nothing and nothing is posted again.
    """
    with unit_of_work(session):
        moved = _move(session, withdrawal_id, before, S.SUCCEEDED, reference=reference[:64],
                      finished_at=utcnow(), finished_by=actor_id, channel=channel)
        if moved is None:
            return None
        ledger.post(session, "withdrawal.paid", "withdrawal", moved.id, [
            Leg(ledger.DISTRIBUTOR_WITHDRAWING, moved.distributor_id, -moved.amount_fen),
            Leg(ledger.PAYOUT_CLEARING, ledger.PLATFORM_OWNER, moved.amount_fen),
        ], key=f"withdrawal.succeeded:{moved.id}", memo=reference)
        audit(session, actor_id, "withdrawal.succeeded", "withdrawal", moved.id,
              number=moved.number, amount_fen=moved.amount_fen, reference=reference)
    return _get(session, withdrawal_id)


def record_failure(session: DbSession, withdrawal_id: int, reason: str, *,
                   actor_id: int | None = None, channel: str | None = None,
                   before: Iterable[str] = (S.SUBMITTED,)) -> Withdrawal | None:
    """The payout definitely did not happen: → failed, the money back to available.

    Only for a definite failure: an unknown outcome must stay ``submitted`` until
    reconciliation knows. Idempotent like ``record_success``.
    """
    with unit_of_work(session):
        moved = _move(session, withdrawal_id, before, S.FAILED, failure_reason=reason[:200],
                      finished_at=utcnow(), finished_by=actor_id, channel=channel)
        if moved is None:
            return None
        ledger.post(session, "withdrawal.failed", "withdrawal", moved.id,
                    _legs_back(moved.distributor_id, moved.amount_fen),
                    key=f"withdrawal.failed:{moved.id}", memo=reason)
        audit(session, actor_id, "withdrawal.failed", "withdrawal", moved.id,
              number=moved.number, amount_fen=moved.amount_fen, reason=reason)
    return _get(session, withdrawal_id)


def mark_paid(session: DbSession, actor: Actor, withdrawal_id: int,
              reference: str) -> Withdrawal:
    """An operator records that a ``manual`` withdrawal was paid (bank reference required)."""
    actor.require(Role.OPERATOR)
    ref = _text(reference, "reference", MAX_REFERENCE)
    done = record_success(session, withdrawal_id, ref, actor_id=actor.user_id, channel=MANUAL,
                          before=(S.APPROVED, S.SUBMITTED))
    if done is None:
        raise _refuse(session, withdrawal_id, "marked paid", channel=MANUAL)
    return done


def mark_failed(session: DbSession, actor: Actor, withdrawal_id: int,
                reason: str) -> Withdrawal:
    """An operator records that a ``manual`` payout failed; the money goes back to available."""
    actor.require(Role.OPERATOR)
    why = _text(reason, "reason", MAX_REASON)
    done = record_failure(session, withdrawal_id, why, actor_id=actor.user_id, channel=MANUAL,
                          before=(S.APPROVED, S.SUBMITTED))
    if done is None:
        raise _refuse(session, withdrawal_id, "marked failed", channel=MANUAL)
    return done


def withdrawals_query(*, distributor_id: int | None = None,
                      status: str | None = None) -> Select[Withdrawal]:
    """Withdrawals newest first, optionally of one distributor and/or in one status."""
    stmt = select(Withdrawal).order_by(Withdrawal.id.desc())
    if distributor_id is not None:
        stmt = stmt.where(Withdrawal.distributor_id == distributor_id)
    if status is not None:
        stmt = stmt.where(Withdrawal.status == status)
    return stmt


BANK_EXPORT_HEADER = ("number", "distributor_id", "nickname", "amount_yuan", "requested_at",
                      "approved_at")


def bank_export_csv(session: DbSession, actor: Actor) -> str:
    """Approved ``manual`` withdrawals as CSV for the bank (amounts in yuan); changes nothing."""
    actor.require(Role.OPERATOR)
    rows = session.execute(
        select(Withdrawal, User.nickname)
        .join(User, User.id == Withdrawal.distributor_id)
        .where(Withdrawal.channel == MANUAL, Withdrawal.status == S.APPROVED)
        .order_by(Withdrawal.id)
    ).all()
    # Nicknames are typed by the distributors themselves: csv_text neutralises formulas.
    return csv_text(BANK_EXPORT_HEADER, (
        [withdrawal.number, withdrawal.distributor_id, nickname,
         format_yuan(withdrawal.amount_fen), withdrawal.requested_at, withdrawal.decided_at]
        for withdrawal, nickname in rows
    ))
