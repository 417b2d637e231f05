"""Periodic governance work run by Celery beat."""

from __future__ import annotations

from celery import shared_task

from governance.audit.chain import seal_all
from governance.audit.checkpoint import write_checkpoint


@shared_task(name="governance.tasks.seal_audit_chains")
def seal_audit_chains() -> int:
    """Give every committed audit event its place in its chain (runs every second)."""
    return seal_all()


@shared_task(name="governance.tasks.checkpoint_audit_chains")
def checkpoint_audit_chains() -> int:
    """Record every audit chain's head, signed (and published to AUDIT_CHECKPOINT_SINK), so a
    truncated tail or a rewritten trail is detectable later."""
    seal_all()
    return write_checkpoint().pk
