"""The reconcile: is what each backend reports live what Failsafe records live?

Beat runs `reconcile_environments` every RECONCILE_SECONDS, which sends one task per
environment (a dead, hung or slow backend holds up only its own, for at most its bounded
status read); an MLflow alias webhook sends the task of the environments it concerns at
once. Each task asks its backend first, outside any transaction, then settles in one
transaction under the environment's row lock (the lock rollouts and rollbacks take to
record a deployment period), so concurrent reconciles of one environment take turns, and
the partial unique constraint `drift_one_open` keeps one open drift per environment even so.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config import handoff
from governance import audit, rows
from releases.drift import hooks, notices
from releases.drift.observe import Observation, matches, observe, observed_release
from releases.models import (
    Deployment,
    Drift,
    DriftResolution,
    Environment,
    RollbackRequest,
    RolloutStep,
    StepStatus,
)
from releases.rollbacks.target import active_request, live_deployment

logger = logging.getLogger(__name__)


def drift_state(drift: Drift) -> dict[str, Any]:
    """A drift as its audit events record it."""
    return {
        "environment": str(drift.environment),
        "recorded_release": drift.recorded_release.version,
        "observed_version": drift.observed_version,
        "observed_release": drift.observed_release.version if drift.observed_release else None,
        "first_seen_at": drift.first_seen_at.isoformat(),
        "last_seen_at": drift.last_seen_at.isoformat(),
        "resolved_at": drift.resolved_at.isoformat() if drift.resolved_at else None,
        "resolution": drift.resolution,
    }


def open_drift(environment: Environment) -> Drift | None:
    return (
        Drift.objects.filter(environment=environment, resolved_at__isnull=True)
        .select_related("recorded_release", "observed_release")
        .first()
    )


def in_flight(environment: Environment) -> str | None:
    """What Failsafe itself is changing there now, if anything: a reconcile stays out of it."""
    if RolloutStep.objects.filter(environment=environment, status=StepStatus.PENDING).exists():
        return "a rollout step"
    if active_request(environment) is not None:
        return "a rollback"
    return None


def reconcile_environment(*, environment_id: int) -> str:
    """Compare `environment`'s backend with the deployment record and settle the difference.

    Answers what it found: "in_sync", "detected" (a new drift: audited, notified, the
    incident declared by the incidents app's hook), "drift" (the open one seen again),
    "restored" (the backend reports the record again: the drift is resolved), "unknown"
    (the backend could not be asked: never a drift), "in_flight" (a Failsafe rollout step
    or rollback is under way there), "no_record" (nothing was ever made live there through
    Failsafe: nothing to compare), "changed" (the record moved while the backend was asked:
    the next reconcile looks again) or "missing".
    """
    environment = Environment.objects.select_related("system").filter(pk=environment_id).first()
    if environment is None:
        return "missing"
    record = live_deployment(environment)
    if record is None:
        return "no_record"
    if in_flight(environment):
        return "in_flight"
    observation = observe(environment)  # the network, outside any transaction
    if not observation.known:
        logger.info("reconcile of %s: status unknown: %s", environment, observation.error)
        return "unknown"
    return _settle(environment, record.pk, observation)


@transaction.atomic
def _settle(environment: Environment, record_id: int, observation: Observation) -> str:
    # Serialises the reconciles of this environment, and a rollout or rollback recording a new
    # deployment period (they lock this row too): the record read next is the one compared.
    Environment.objects.select_for_update(no_key=True, of=("self",)).get(pk=environment.pk)
    record = (
        Deployment.objects.filter(environment=environment, ended_at__isnull=True)
        .select_related("release")
        .first()
    )
    if record is None or record.pk != record_id:
        return "changed"  # the backend was asked about an older record
    if in_flight(environment):
        return "in_flight"
    now = timezone.now()
    drift = (
        Drift.objects.select_for_update(of=("self",))
        .filter(environment=environment, resolved_at__isnull=True)
        .select_related("recorded_release", "observed_release")
        .first()
    )
    recorded = record.release
    if matches(observation, recorded):
        if drift is None:
            return "in_sync"
        before = drift_state(drift)
        drift.resolved_at, drift.last_seen_at = now, now
        drift.resolution = DriftResolution.RESTORED
        drift.save(update_fields=["resolved_at", "last_seen_at", "resolution"])
        audit.record_event(
            actor=None, action="drift.restored", obj=drift, system=environment.system,
            before=before, after=drift_state(drift),
        )  # fmt: skip
        again = "again" if drift.recorded_release_id == recorded.pk else "(the recorded release)"
        message = (
            f"The backend reports {recorded.version} {again}: the ungoverned change in "
            f"{environment.name} ({drift.observed_label}) is over."
        )
        hooks.notify(drift, "restored", message)
        notices.schedule(drift, "restored", message)
        return "restored"

    label = observation.label[: Drift._meta.get_field("observed_version").max_length or 200]
    if drift is not None:
        drift.last_seen_at, drift.seen_count = now, drift.seen_count + 1
        fields = ["last_seen_at", "seen_count"]
        if drift.observed_version != label:  # moved again, still not by Failsafe
            before = drift_state(drift)
            drift.observed_version = label
            drift.observed_release = observed_release(environment, observation)
            drift.observed_detail = observation.detail
            fields += ["observed_version", "observed_release", "observed_detail"]
            drift.save(update_fields=fields)
            audit.record_event(
                actor=None, action="drift.changed", obj=drift, system=environment.system,
                before=before, after=drift_state(drift),
            )  # fmt: skip
            hooks.notify(
                drift, "changed",
                f"The backend of {environment.name} now reports {drift.observed_label}; "
                f"Failsafe still records {recorded.version}.",
            )  # fmt: skip
            return "drift"
        drift.save(update_fields=fields)
        return "drift"

    drift = Drift(
        environment=environment,
        recorded_release=recorded,
        observed_version=label,
        observed_release=observed_release(environment, observation),
        observed_detail=observation.detail,
        first_seen_at=now,
        last_seen_at=now,
    )
    # The partial unique constraint (one open drift per environment) is the last word.
    if not rows.insert_unless_taken(drift):
        return "drift"
    audit.record_event(
        actor=None, action="drift.detected", obj=drift, system=environment.system,
        after=drift_state(drift),
    )  # fmt: skip
    message = (
        f"Ungoverned change in {environment.name}: the backend reports "
        f"{drift.observed_label} live, Failsafe records {recorded.version} (approved). No "
        f"Failsafe deployment or rollback explains it. ROLL BACK NOW puts {recorded.version} "
        "back; the observed release goes live in the record only if adopted."
    )
    hooks.notify(drift, "detected", message)
    notices.schedule(drift, "detected", message)
    return "detected"


def reconcile_environments() -> int:
    """Beat: one reconcile task per environment; how many were sent."""
    from releases.tasks import reconcile_environment as task

    ids = list(Environment.objects.values_list("pk", flat=True))
    for pk in ids:
        # Expiring: a backlog (workers were down) is one reconcile, not a queue of them.
        handoff.send(task, (pk,), label=f"reconcile {pk}", expires=settings.RECONCILE_SECONDS)
    return len(ids)


def schedule_reconcile(environment_ids: list[int]) -> None:
    """After commit: reconcile these environments now (an alias webhook, a rollback done)."""
    from releases.tasks import reconcile_environment as task

    for pk in environment_ids:
        handoff.send(task, (pk,), label=f"reconcile of environment {pk}",
                     expires=max(settings.RECONCILE_SECONDS, 5))  # fmt: skip


def reconcile_after_rollback(request: RollbackRequest, event: str, message: str) -> None:
    """Listener of rollbacks: once one is verified where a drift is open, reconcile there
    at once (its timeline hears that the backend reports the record again)."""
    if event != "succeeded" or request.is_drill:
        return
    environment_id = request.environment_id
    if Drift.objects.filter(environment_id=environment_id, resolved_at__isnull=True).exists():
        transaction.on_commit(lambda: schedule_reconcile([environment_id]), robust=True)
