"""The outbox relay: turns committed ``OutboxMessage`` rows into RQ jobs, once each.

Services write an outbox row in the same transaction as the change it
announces (``core.journal.announce``). The relay reads unpublished
rows in id order, enqueues the jobs registered for each row's topic and marks
the row published. Delivery is at least once: job ids are deterministic
(``outbox-<message id>-<handler name>``) and enqueued with ``unique=True``, so
a relay that dies between enqueueing and committing does not enqueue twice
when it runs again. Handlers must still be idempotent.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from rq import Retry
from sqlalchemy import select

from core.clock import utcnow
from core.models import OutboxMessage
from core.queues import DEFAULT
from core.uow import DbSession

log = logging.getLogger(__name__)

_NAME = re.compile(r"[A-Za-z0-9_]+")


@dataclass(frozen=True)
class OutboxHandler:
    """A job run for every message of a topic: ``func(payload)`` on ``queue``.

    ``func`` is best given as a dotted path ("commissions.jobs.accrue_for_order"):
    the worker imports it, the relay does not have to.
    """

    name: str
    func: Callable[[dict[str, Any]], Any] | str
    queue: str = DEFAULT
    retry: Retry | None = field(default_factory=lambda: Retry(max=5, interval=[5, 30, 120, 600]))

    def __post_init__(self) -> None:
        """Refuse names that cannot be part of an RQ job id."""
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"handler name {self.name!r}: letters, digits and underscores only")

    def job_id(self, message_id: int) -> str:
        """The deterministic job id of this handler for one message."""
        return f"outbox-{message_id}-{self.name}"


# Topic -> handlers. A topic that is missing or maps to nothing is simply marked
# published. Known topics so far: order.created, order.cancelled, order.shipped,
# order.completed (shop); payment and refund topics come with their
# services. Commission and chat-notification handlers are added by their issues.
HANDLERS: dict[str, tuple[OutboxHandler, ...]] = {
    # The chat storefront tells the buyer their payment arrived (issue 3).
    "order.paid": (
        OutboxHandler("chat_paid_message", "workers.jobs.send_paid_message"),
    ),
    # Distributors hear about new commission in one batched chat message (issue 5).
    "commission.earned": (
        OutboxHandler("chat_commission_notice", "workers.jobs.note_commission_earned"),
    ),
    # A new distributor's permanent QR code is made before they first ask for it.
    "distributor.status_changed": (
        OutboxHandler("distributor_qr", "workers.jobs.prepare_distributor_qr"),
    ),
    # Spend-based distributor approval and tier upgrades (issue 4).
    "order.completed": (
        OutboxHandler("referral_tiers", "workers.jobs.referral_after_completion"),
    ),
}


class Enqueue(Protocol):
    """How the relay hands a job to the queue: False if that job id already exists."""

    def __call__(
        self, queue_name: str, func: Any, *args: Any, job_id: str, **options: Any
    ) -> bool:
        """Enqueue ``func(*args)`` once under ``job_id``."""


def _unpublished(session: DbSession, batch: int) -> Sequence[OutboxMessage]:
    # SKIP LOCKED: a second relay on PostgreSQL takes the next rows instead of
    # waiting for (and then re-publishing) these. SQLite ignores FOR UPDATE;
    # its writers are serialised by BEGIN IMMEDIATE anyway.
    return session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.published_at.is_(None))
        .order_by(OutboxMessage.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()


def relay_outbox(
    session: DbSession,
    enqueue: Enqueue,
    batch: int = 100,
    handlers: Mapping[str, Sequence[OutboxHandler]] | None = None,
) -> int:
    """Publish up to ``batch`` unpublished messages; returns how many were published.

    If enqueueing fails (Redis gone), the messages published so far are
    committed, the failing one keeps its incremented ``attempts`` and stays
    unpublished for the next run, and the error is raised.
    """
    registry = HANDLERS if handlers is None else handlers
    published = 0
    failure: BaseException | None = None
    try:
        for message in _unpublished(session, batch):
            message.attempts += 1
            try:
                for handler in registry.get(message.topic, ()):
                    enqueue(
                        handler.queue,
                        handler.func,
                        dict(message.payload),
                        job_id=handler.job_id(message.id),
                        retry=handler.retry,
                        meta={"outbox_id": message.id, "topic": message.topic},
                    )
            except Exception as exc:  # noqa: BLE001 - recorded on the row, re-raised below
                log.warning("outbox %s (%s): enqueue failed: %s", message.id, message.topic, exc)
                failure = exc
                break
            message.published_at = utcnow()
            published += 1
        session.commit()
    except BaseException:
        session.rollback()
        raise
    if failure is not None:
        raise failure
    return published
