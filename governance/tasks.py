"""Periodic governance work run by Celery beat."""

from __future__ import annotations

from celery import shared_task

from governance.audit.checkpoint import write_checkpoint


@shared_task(name="governance.tasks.checkpoint_audit_chains")
def checkpoint_audit_chains() -> int:
    """Record every audit chain's head, so a truncated tail is detectable later."""
    return write_checkpoint().pk
