"""Audit log and outbox writes, always inside the caller's transaction."""
from __future__ import annotations

from typing import Any

from core.models import AuditEntry, OutboxMessage
from core.uow import DbSession


def audit(
    session: DbSession,
    actor_id: int | None,
    action: str,
    subject_type: str,
    subject_id: object,
    **details: Any,
) -> None:
    """Append an audit row describing a change."""
    session.add(
        AuditEntry(
            actor_id=actor_id,
            action=action,
            subject_type=subject_type,
            subject_id=str(subject_id),
            details=details,
        )
    )


def announce(session: DbSession, topic: str, **payload: Any) -> None:
    """Queue an event for the outbox relay; it is published only if this transaction commits."""
    session.add(OutboxMessage(topic=topic, payload=payload))
