"""Running a rollback (the Celery task's body): claim the request, keep the forensic record
of what the rollback will destroy, call the backend with the request's idempotency key, and
verify the target is live. The lease is kept in leases.py; the outcome recorded in
outcome.py."""

from __future__ import annotations

import contextvars
import functools
import hashlib
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from governance import audit, rows
from governance.audit.hashing import canonical_json
from governance.models import AISystem
from governance.people import person_label
from releases import rollback_hooks
from releases.backends import (
    BackendError,
    BackendResult,
    BackendStatus,
    DeploymentBackend,
    RollbackContext,
    backend_for,
)
from releases.models import (
    Environment,
    ForensicRecord,
    Release,
    ReleaseComponent,
    RollbackRequest,
    RollbackStatus,
)
from releases.rollbacks.leases import lease_kept, lease_threads
from releases.rollbacks.outcome import succeed_rollback

PLAN = "rollback plan"  # who asked, for a rollback a trigger of the plan asked for


def run_rollback(*, request_id: int) -> RollbackRequest:
    """Claim the request, keep the evidence, call the backend, verify, record the outcome.

    Raises BackendError for the task to retry (transient) or fail (permanent). Safe to run
    twice at once or again later: the claim lets one run at a time, and the backend sees the
    same idempotency key every time. Between the claim and the call only the evidence is
    written: the call is what the on-call lead is waiting for.
    """
    request = _claim(request_id)
    if request is None:
        return RollbackRequest.objects.get(pk=request_id)
    with lease_kept(request.pk):
        return _run(request)


def _run(request: RollbackRequest) -> RollbackRequest:
    backend = backend_for(request.environment)
    kept_before = request.attempts > 1 and ForensicRecord.objects.filter(request=request).exists()
    if not kept_before and not _keep_forensics(request, *_before_the_change(request, backend)):
        return RollbackRequest.objects.get(pk=request.pk)  # another run kept it and calls
    _load_stacks(request)  # read already, unless the evidence was kept by an earlier run
    result = backend.rollback(
        from_release=request.from_release,
        to_release=request.to_release,
        idempotency_key=request.idempotency_key,
        context=rollback_context(request),  # read already too, as the stacks
    )
    _record_call(request, result)
    deadline = time.monotonic() + settings.ROLLBACK_VERIFY_SECONDS
    while True:
        state = backend.status()
        if state.live_version == request.to_release.version:
            return succeed_rollback(request.pk, {"rollback": result.detail, "status": state.detail})
        if time.monotonic() > deadline:
            raise BackendError(
                f"{request.to_release.version} not reported live within "
                f"{settings.ROLLBACK_VERIFY_SECONDS} s (the backend says "
                f"{state.live_version or 'nothing'} is live)",
                transient=True,
            )
        time.sleep(settings.ROLLBACK_POLL_SECONDS)


def _claim(request_id: int) -> RollbackRequest | None:
    """Take the request for this run, or None if it is finished or another run holds it;
    with its environment, system, both releases and its requester loaded (what the backends
    need).

    No transaction around it: the conditional update is atomic on its own, and what is
    read with it only serves this run (a run that dies after it leaves a lease that runs
    out)."""
    # Two runs of one request (a re-delivery, a sweep) race here: the conditional update
    # lets one through; the other finds the lease taken and leaves. Written out, not built
    # by the ORM: compiling the update and the joined read cost more than running them, and
    # they sit between the press and the backend call (measured in bench/rollback_latency.py).
    with connection.cursor() as cursor:
        cursor.execute(
            _claim_sql(),
            {
                "id": request_id,
                "running": RollbackStatus.RUNNING,
                "requested": RollbackStatus.REQUESTED,
                "now": timezone.now(),
                "lease": settings.ROLLBACK_LEASE_SECONDS,
            },
        )
        row = cursor.fetchone()
    if row is None:
        return None
    request, environment, system, from_release, to_release, requester = rows.instances(
        row, RollbackRequest, Environment, AISystem, Release, Release, get_user_model()
    )
    environment.system = system
    request.environment = environment
    request.from_release, request.to_release = from_release, to_release
    request.requested_by = requester  # named beside the change (rollback_context)
    return request


@functools.cache
def _claim_sql() -> str:
    # Leases on the database's clock (STATEMENT_TIMESTAMP, Django's Now()): see leases._lease.
    return f"""
WITH claimed AS (
    UPDATE releases_rollbackrequest
    SET status = %(running)s, started_at = COALESCE(started_at, %(now)s),
        attempts = attempts + 1,
        lease_until = STATEMENT_TIMESTAMP() + make_interval(secs => %(lease)s)
    WHERE id = %(id)s AND status IN (%(requested)s, %(running)s)
        AND (lease_until IS NULL OR lease_until <= STATEMENT_TIMESTAMP())
    RETURNING *
)
SELECT {rows.columns(RollbackRequest, "claimed")}, {rows.columns(Environment, "environment")},
    {rows.columns(AISystem, "system")}, {rows.columns(Release, "from_release")},
    {rows.columns(Release, "to_release")}, {rows.columns(get_user_model(), "requester")}
FROM claimed
JOIN releases_environment AS environment ON environment.id = claimed.environment_id
JOIN governance_aisystem AS system ON system.id = environment.system_id
LEFT JOIN releases_release AS from_release ON from_release.id = claimed.from_release_id
JOIN releases_release AS to_release ON to_release.id = claimed.to_release_id
LEFT JOIN {get_user_model()._meta.db_table} AS requester
    ON requester.id = claimed.requested_by_id
"""


def _load_stacks(request: RollbackRequest) -> None:
    """The backends send both stacks: one read of both releases' components (none if they
    are loaded). Written out: it runs while the backend's status is read on a side thread,
    and the ORM's prefetch held the interpreter long enough to delay that read's answer."""
    releases = [
        release
        for release in (request.from_release, request.to_release)
        if release is not None and not rows.is_prefetched(release, "components")
    ]
    if not releases:
        return
    with connection.cursor() as cursor:
        cursor.execute(_stacks_sql(), [[release.pk for release in releases]])
        components = [rows.instances(row, ReleaseComponent)[0] for row in cursor.fetchall()]
    for release in releases:
        rows.prefetched(
            release, "components", [c for c in components if c.release_id == release.pk]
        )


@functools.cache
def _stacks_sql() -> str:
    return f"""
SELECT {rows.columns(ReleaseComponent, "component")} FROM releases_releasecomponent AS component
WHERE component.release_id = ANY(%s) ORDER BY component.id
"""


@transaction.atomic
def _record_call(request: RollbackRequest, result: BackendResult) -> None:
    """The backend took the call: the run and the call go to the audit trail and the timeline.
    Written after the call, not with the claim: before the call only the evidence is kept."""
    backend = request.environment.get_backend_type_display()
    again = f" (attempt {request.attempts})" if request.attempts > 1 else ""
    # A re-delivered call finds the backend done already: the key made it a no-op.
    taken = "had applied it already" if result.detail.get("replayed") else "accepted it"
    audit.record_event(
        actor=None,
        action="rollback.running",
        obj=request,
        system=request.environment.system,
        after={
            "status": request.status,
            "attempts": request.attempts,
            "error": request.error,
            "backend_replayed": bool(result.detail.get("replayed")),
        },
    )
    rollback_hooks.notify(
        request,
        "running",
        f"Running{again}: the {backend} backend {taken}; verifying "
        f"{request.to_release.version} is live.",
    )


def _before_the_change(
    request: RollbackRequest, backend: DeploymentBackend
) -> tuple[BackendStatus, dict[str, Any]]:
    """What the rollback will destroy: the deployment as the backend reports it, and what the
    other apps collect (the incident's alerts and timeline). A backend read over the network
    is asked on a side thread while this one reads the database (the evidence and the
    stacks the call will send): both are waits."""
    if not backend.status_is_remote:
        return backend.status(), rollback_hooks.collected(request)
    # The context carries the request id into the backend's log lines.
    reading = lease_threads("rollback-status", 1).submit(
        contextvars.copy_context().run, backend.status
    )
    context = rollback_hooks.collected(request)
    _load_stacks(request)  # what the call sends, read while the backend answers
    rollback_context(request)  # and who asked, for which incident (kept on the request)
    return reading.result(), context


def rollback_context(request: RollbackRequest) -> RollbackContext:
    """Why, on whose word and for which incident: what the backend records beside the change.
    Its reads (the people, the incident's link) stay cached on `request`."""
    served = rollback_hooks.served(request)
    requester, confirmer = request.requested_by, request.confirmed_by  # no query for a None
    return RollbackContext(
        reason=request.reason,
        requested_by=person_label(requester) if requester else PLAN,
        confirmed_by=person_label(confirmer) if confirmer else None,
        incident=served.reference if served else None,
        incident_title=served.title if served else None,
        incident_url=settings.SITE_URL + served.url if served else None,
        request_id=request.pk,
        drill=request.is_drill,
    )


@transaction.atomic
def _keep_forensics(
    request: RollbackRequest, backend_state: BackendStatus, context: dict[str, Any]
) -> bool:
    """Keep the evidence; False if another run kept it first (nothing written)."""
    state = {
        "live_version": backend_state.live_version,
        "candidate_version": backend_state.candidate_version,
        "stage": backend_state.stage,
        "traffic_percent": backend_state.traffic_percent,
        "detail": backend_state.detail,
    }
    digest = hashlib.sha256(canonical_json({"backend": state, "context": context}).encode())
    record = ForensicRecord(
        request=request,
        captured_at=timezone.now(),
        backend_state=state,
        context=context,
        digest=digest.hexdigest(),
    )
    # The claim's lease keeps a second run away. Should a stalled run outlive its lease while
    # another keeps the record, the unique request refuses this one, which stops before the
    # backend call: the other run calls. (Written out: the call waits on this insert.)
    if not rows.insert_unless_taken(record):
        return False
    audit.record_event(
        actor=None,
        action="rollback.forensics_kept",
        obj=request,
        system=request.environment.system,
        after={"digest": digest.hexdigest(), "live_version": state["live_version"]},
    )
    return True
