"""RQ jobs that message chat users through WeChat's customer-service API.

Thin, like workers.jobs: plain values in, one call to ``storefront.outbound``.
A network failure raises, so the job's ``Retry`` runs it again later; the
delivery then resumes after the last message that went out.
"""
from __future__ import annotations

import logging
from typing import Any

from rq import get_current_job

from storefront.outbound import TransientSendError, deliver_now

log = logging.getLogger(__name__)


def deliver_customer_service(
    openid: str, messages: list[dict[str, Any]], reason: str, delivery_id: str
) -> int:
    """Send queued customer-service messages within the user's quota; returns how many went."""
    try:
        report = deliver_now(openid, messages, reason, delivery_id=delivery_id)
    except TransientSendError as exc:
        job = get_current_job()
        if job is not None and not job.retries_left:
            log.error("customer-service delivery %s gave up: %s", delivery_id, exc)
        raise
    return report.sent
