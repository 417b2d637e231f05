"""How a run ends: verified (the target becomes the live deployment, the release rolled back
from is marked so) or failed. Either way the request, a drill's record, the audit trail and
the timeline say so."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from releases.models import (
    Deployment,
    Environment,
    Release,
    ReleaseStatus,
    RollbackRequest,
    RollbackStatus,
)
from releases.rollbacks.records import locked_request, record_step
from releases.services import drills


@transaction.atomic
def succeed_rollback(request_id: int, response: dict[str, Any]) -> RollbackRequest:
    request = locked_request(request_id)
    if request.status != RollbackStatus.RUNNING:
        return request
    now = timezone.now()
    environment = Environment.objects.select_for_update(no_key=True, of=("self",)).get(
        pk=request.environment_id
    )
    previous = Deployment.objects.filter(environment=environment, ended_at__isnull=True).first()
    if previous is not None:
        previous.ended_at = now
        previous.save(update_fields=["ended_at"])
    Deployment.objects.create(
        environment=environment, release=request.to_release, started_at=now, via="rollback"
    )
    Release.objects.filter(pk=request.to_release_id).update(status=ReleaseStatus.LIVE)
    if request.from_release_id and not request.is_drill:
        still_live = Deployment.objects.filter(
            release_id=request.from_release_id, ended_at__isnull=True
        )
        if not still_live.exists():
            Release.objects.filter(pk=request.from_release_id).update(
                status=ReleaseStatus.ROLLED_BACK
            )
    request.status, request.finished_at, request.lease_until = RollbackStatus.SUCCEEDED, now, None
    request.backend_response = response
    request.save(update_fields=["status", "finished_at", "lease_until", "backend_response"])
    if request.is_drill:
        drills.record_drill(drill=request)
    record_step(
        request,
        None,
        "rollback.succeeded",
        "succeeded",
        f"Verified: {request.to_release.version} is live in {environment.name} "
        f"(after {request.attempts} attempt{'s' if request.attempts > 1 else ''}).",
    )
    return request


@transaction.atomic
def fail_rollback(*, request_id: int, error: str, response: Any = None) -> RollbackRequest:
    """Record that the rollback did not happen (a permanent error, or retries exhausted)."""
    request = locked_request(request_id)
    if request.status not in (RollbackStatus.REQUESTED, RollbackStatus.RUNNING):
        return request
    request.status, request.finished_at, request.lease_until = (
        RollbackStatus.FAILED,
        timezone.now(),
        None,
    )
    request.error = error[:4000]
    request.backend_response = response if isinstance(response, dict) else {}
    request.save(
        update_fields=["status", "finished_at", "lease_until", "error", "backend_response"]
    )
    if request.is_drill:
        drills.record_drill(drill=request)
    record_step(request, None, "rollback.failed", "failed", f"Failed: {request.error}")
    return request
