"""The sweep (beat): re-send the rollback requests nobody is working on."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models.functions import Now
from django.utils import timezone

from releases.models import RollbackRequest, RollbackStatus
from releases.rollbacks import broker


def sweep_rollbacks() -> int:
    """Re-send what nobody is working on: requests never picked up (the broker was down when
    they were made) and runs whose lease ran out (their worker died). Returns how many."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.ROLLBACK_REQUEUE_SECONDS)
    waiting = RollbackRequest.objects.filter(status=RollbackStatus.REQUESTED, enqueued_at__lt=stale)
    orphaned = RollbackRequest.objects.filter(status=RollbackStatus.RUNNING, lease_until__lt=Now())
    resend = [*waiting.values_list("pk", flat=True), *orphaned.values_list("pk", flat=True)]
    # Stamped before it is handed over: the next sweep leaves it alone for a requeue period.
    RollbackRequest.objects.filter(pk__in=resend).update(enqueued_at=timezone.now())
    for request_id in resend:
        broker.enqueue(request_id)
    return len(resend)
