"""Posting to the double-entry ledger: one balanced transaction, a constant number of statements.

``post`` writes one ``LedgerTransaction`` and its entries inside the caller's
database transaction, so money moves exactly when the state change that
caused it commits. Whatever the number of legs, it issues the same five
statements: create missing accounts, lock the accounts in id order (so two
postings never deadlock), insert the transaction, insert every entry in one
multi-row INSERT, and update every balance in one ``UPDATE ... CASE id ...``.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import case, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.expression import Executable

from core.models import LedgerAccount, LedgerEntry, LedgerTransaction
from core.uow import DbSession

# Account kinds. Credit-positive: a positive balance is owed to the account's owner.
CLEARING = "wechat_clearing"  # what WeChat Pay holds for the platform (negative)
PLATFORM = "platform_revenue"
SUPPLIER_PAYABLE = "supplier_payable"  # owner: supplier id
DISTRIBUTOR_PENDING = "distributor_pending"  # owner: distributor's user id
DISTRIBUTOR_AVAILABLE = "distributor_available"
DISTRIBUTOR_WITHDRAWING = "distributor_withdrawing"
PAYOUT_CLEARING = "payout_clearing"  # money sent out to suppliers and distributors
LATE_PAYMENTS = "late_payments"  # paid after the order was cancelled, until refunded

PLATFORM_OWNER = 0


class LedgerError(ValueError):
    """A posting that would break the ledger's rules (unbalanced, empty)."""


@dataclass(frozen=True)
class Leg:
    """One side of a posting: ``amount_fen`` (signed) on the account ``kind`` of ``owner_id``."""

    kind: str
    owner_id: int
    amount_fen: int


def account_code(kind: str, owner_id: int) -> str:
    """The readable unique code of an account ("supplier_payable:3")."""
    return kind if owner_id == PLATFORM_OWNER else f"{kind}:{owner_id}"


def merge_legs(legs: Iterable[Leg]) -> dict[tuple[str, int], int]:
    """Legs summed per account, zero sums dropped; refuses what does not balance."""
    merged: dict[tuple[str, int], int] = {}
    for leg in legs:
        if isinstance(leg.amount_fen, bool) or not isinstance(leg.amount_fen, int):
            raise LedgerError(f"amounts are whole fen, not {leg.amount_fen!r}")
        key = (leg.kind, leg.owner_id)
        merged[key] = merged.get(key, 0) + leg.amount_fen
    if sum(merged.values()) != 0:
        raise LedgerError(f"legs sum to {sum(merged.values())} fen, not 0")
    return {key: amount for key, amount in merged.items() if amount != 0}


def _insert_ignoring_existing(session: DbSession) -> Executable:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(LedgerAccount).on_conflict_do_nothing()
    return sqlite.insert(LedgerAccount).on_conflict_do_nothing()


def ensure_accounts(session: DbSession, keys: Iterable[tuple[str, int]], *,
                    lock: bool = False) -> dict[tuple[str, int], int]:
    """Account ids for ``(kind, owner)`` keys, creating missing accounts (two statements)."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    session.execute(
        _insert_ignoring_existing(session),
        [{"code": account_code(kind, owner), "kind": kind, "owner_id": owner, "balance_fen": 0}
         for kind, owner in wanted],
    )
    query = (
        select(LedgerAccount.id, LedgerAccount.kind, LedgerAccount.owner_id)
        .where(LedgerAccount.code.in_([account_code(kind, owner) for kind, owner in wanted]))
        .order_by(LedgerAccount.id)
    )
    if lock:
        query = query.with_for_update()
    return {(kind, owner): account_id for account_id, kind, owner in session.execute(query)}


def post(
    session: DbSession, kind: str, ref_type: str, ref_id: int, legs: Iterable[Leg], *,
    key: str, memo: str = "", open_accounts: Iterable[tuple[str, int]] = (),
) -> int | None:
    """Write one balanced transaction; its id, or None when every leg cancelled out.

    ``key`` is unique per money event (e.g. "order.paid:42"): a second posting
    with the same key fails with an IntegrityError, rolling back its caller.
    ``open_accounts`` are created too (in the same statement) without an entry.
    """
    merged = merge_legs(legs)
    if not merged:
        return None
    if len(merged) < 2:  # cannot happen when the legs balance; kept as a guard
        raise LedgerError("a transaction needs two or more entries")
    ids = ensure_accounts(session, [*merged, *open_accounts], lock=True)
    txn_id = session.execute(
        insert(LedgerTransaction)
        .values(kind=kind, ref_type=ref_type, ref_id=ref_id, idempotency_key=key, memo=memo[:200])
        .returning(LedgerTransaction.id)
    ).scalar_one()
    session.execute(insert(LedgerEntry).values([
        {"txn_id": txn_id, "account_id": ids[account], "amount_fen": amount}
        for account, amount in sorted(merged.items(), key=lambda item: ids[item[0]])
    ]))
    deltas = {ids[account]: amount for account, amount in merged.items()}
    session.execute(
        update(LedgerAccount)
        .where(LedgerAccount.id.in_(sorted(deltas)))
        .values(balance_fen=LedgerAccount.balance_fen
                + case(deltas, value=LedgerAccount.id, else_=0))
        .execution_options(synchronize_session=False)
    )
    return int(txn_id)


def balance(session: DbSession, kind: str, owner_id: int = PLATFORM_OWNER) -> int:
    """The balance of one account (0 when it does not exist yet)."""
    return int(session.scalar(
        select(LedgerAccount.balance_fen)
        .where(LedgerAccount.kind == kind, LedgerAccount.owner_id == owner_id)
    ) or 0)
